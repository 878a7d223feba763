package source

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"sync/atomic"
)

// JPEG markers used here.
const (
	mSOI = 0xD8
	mEOI = 0xD9
	mSOS = 0xDA
	mTEM = 0x01
)

func isRST(m byte) bool { return m >= 0xD0 && m <= 0xD7 }

// JPEGHeader reads the dimensions from a JPEG's frame header, with the
// same parser the decoder uses (image/jpeg's DecodeConfig) and without
// decoding the picture, and refuses (ErrTooManyPixels) a picture of more
// than maxPixels pixels (0: no limit): what a decoder would allocate for it
// is known before it starts.
func JPEGHeader(b []byte, maxPixels int) (width, height int, err error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != mSOI {
		return 0, 0, fmt.Errorf("%w: no start of image", ErrBadJPEG)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrBadJPEG, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, fmt.Errorf("%w: %dx%d", ErrBadJPEG, cfg.Width, cfg.Height)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return 0, 0, fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooManyPixels, cfg.Width, cfg.Height, maxPixels)
	}
	return cfg.Width, cfg.Height, nil
}

// splitter cuts a byte stream of concatenated JPEGs into pictures. It
// follows the marker structure (segment lengths, then entropy-coded data up
// to the next real marker), so bytes that look like markers inside headers
// or thumbnails do not split a picture. Garbage between pictures is skipped;
// a truncated picture followed by a new start of image is dropped; pictures
// over the size limit are skipped.
type splitter struct {
	r   io.Reader
	max int
	buf []byte
	off int // start of unconsumed data in buf
	eof bool

	inFrame bool
	inScan  bool
	pos     int // parse position relative to off

	skipped *atomic.Uint64
}

const splitChunk = 64 << 10

func newSplitter(r io.Reader, max int, skipped *atomic.Uint64) *splitter {
	return &splitter{r: r, max: max, skipped: skipped}
}

// reset starts over on a new reader, keeping the buffer.
func (s *splitter) reset(r io.Reader) {
	s.r, s.buf, s.off, s.eof, s.inFrame, s.inScan, s.pos = r, s.buf[:0], 0, false, false, false, 0
}

type step int

const (
	stepMore step = iota
	stepDone
	stepRestart // a new start of image inside the picture: drop it
	stepBad
)

// Next returns the next complete picture (a fresh copy) or io.EOF.
func (s *splitter) Next() ([]byte, error) {
	for {
		if !s.inFrame {
			data := s.buf[s.off:]
			k := bytes.Index(data, []byte{0xFF, mSOI})
			if k < 0 {
				if len(data) > 0 && data[len(data)-1] == 0xFF {
					s.off = len(s.buf) - 1
				} else {
					s.off = len(s.buf)
				}
				if err := s.fill(); err != nil {
					return nil, err
				}
				continue
			}
			s.off += k
			s.inFrame, s.inScan, s.pos = true, false, 2
		}
		switch s.advance(s.buf[s.off:]) {
		case stepDone:
			out := append([]byte(nil), s.buf[s.off:s.off+s.pos]...)
			s.off += s.pos
			s.inFrame = false
			return out, nil
		case stepRestart:
			s.skipped.Add(1)
			s.off += s.pos
			s.inFrame = false
		case stepBad:
			s.skipped.Add(1)
			s.off += 2
			s.inFrame = false
		case stepMore:
			if s.pos > s.max {
				s.skipped.Add(1)
				s.off += min(s.pos, len(s.buf)-s.off)
				s.inFrame = false
				continue
			}
			if err := s.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					s.skipped.Add(1) // a truncated last picture
				}
				return nil, err
			}
		}
	}
}

// advance parses the current picture from s.pos on.
func (s *splitter) advance(f []byte) step {
	for {
		if s.pos > len(f) || s.pos > s.max {
			return stepMore
		}
		if s.inScan {
			j := bytes.IndexByte(f[s.pos:], 0xFF)
			if j < 0 {
				s.pos = len(f)
				return stepMore
			}
			p := s.pos + j
			if p+1 >= len(f) {
				s.pos = p
				return stepMore
			}
			switch m := f[p+1]; {
			case m == 0xFF:
				s.pos = p + 1
			case m == 0 || isRST(m):
				s.pos = p + 2
			default:
				s.pos, s.inScan = p, false
			}
			continue
		}
		if s.pos+1 >= len(f) {
			return stepMore
		}
		if f[s.pos] != 0xFF {
			return stepBad
		}
		m := f[s.pos+1]
		switch {
		case m == 0xFF:
			s.pos++
			continue
		case m == mEOI:
			s.pos += 2
			return stepDone
		case m == mSOI:
			return stepRestart
		case isRST(m) || m == mTEM:
			s.pos += 2
			continue
		case m == 0:
			return stepBad
		}
		if s.pos+3 >= len(f) {
			return stepMore
		}
		n := int(f[s.pos+2])<<8 | int(f[s.pos+3])
		if n < 2 {
			return stepBad
		}
		s.pos += 2 + n
		if m == mSOS {
			s.inScan = true
		}
	}
}

// fill reads more data, compacting and growing the buffer as needed.
func (s *splitter) fill() error {
	if s.eof {
		return io.EOF
	}
	if s.off > 0 {
		n := copy(s.buf, s.buf[s.off:])
		s.buf = s.buf[:n]
		s.off = 0
	}
	if cap(s.buf)-len(s.buf) < splitChunk {
		grown := make([]byte, len(s.buf), max(2*cap(s.buf), len(s.buf)+splitChunk))
		copy(grown, s.buf)
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if errors.Is(err, io.EOF) {
		s.eof = true
		if n > 0 {
			return nil
		}
		return io.EOF
	}
	return err
}
