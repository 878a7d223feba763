package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"strings"
	"sync"
	"time"

	"watchparty/engine/fetch"
)

// MJPEGFile reads an .mjpeg/.mjpg file: JPEG pictures one after the other.
// Frames are paced at Options.FPS (unless Unpaced) and the file starts over
// at its end when Options.Loop is set.
type MJPEGFile struct {
	path string
	opts Options
	c    counters
	fit  fitter
	reel
	split *splitter

	mu     sync.Mutex // guards f, closed and the size in info
	f      *os.File
	closed bool
	info   Info
}

// OpenMJPEGFile opens an MJPEG file. It fails with ErrNoFrames when the
// file holds no picture at all.
func OpenMJPEGFile(path string, opts Options) (*MJPEGFile, error) {
	opts = opts.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	s := &MJPEGFile{
		path:  path,
		opts:  opts,
		f:     f,
		split: newSplitter(bufio.NewReaderSize(f, 256<<10), opts.MaxFrameSize, nil),
		info:  Info{Kind: "mjpeg-file", Description: "file " + path, FPS: opts.FPS, Loop: opts.Loop},
	}
	s.fit = newFitter(opts, &s.c)
	s.reel = reel{pace: NewPacer(opts.FPS), c: &s.c}
	s.split.skipped = &s.c.skipped
	return s, nil
}

// Info describes the file.
func (s *MJPEGFile) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Next returns the next picture at its scheduled time.
func (s *MJPEGFile) Next(ctx context.Context) (Frame, error) {
	for {
		jpg, err := s.read()
		if errors.Is(err, io.EOF) {
			if err := s.end(s.opts.Loop, s.path, s.rewind); err != nil {
				return Frame{}, err
			}
			continue
		}
		if err != nil {
			return Frame{}, err
		}
		fr, err := s.fit.fit(jpg)
		if err != nil {
			s.c.skipped.Add(1)
			s.opts.Logger.Debug("mjpeg file: skipping picture", "path", s.path, "err", err)
			continue
		}
		if err := s.hand(ctx, &fr, !s.opts.Unpaced); err != nil {
			return Frame{}, err
		}
		s.mu.Lock()
		s.info.Width, s.info.Height = fr.Width, fr.Height
		s.mu.Unlock()
		return fr, nil
	}
}

func (s *MJPEGFile) read() ([]byte, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	jpg, err := s.split.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("source: read %s: %w", s.path, err)
	}
	return jpg, err
}

func (s *MJPEGFile) rewind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("source: rewind %s: %w", s.path, err)
	}
	s.split.reset(bufio.NewReaderSize(s.f, 256<<10))
	return nil
}

// Close closes the file.
func (s *MJPEGFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// MJPEGHTTP reads a live MJPEG stream over HTTP: a multipart/x-mixed-replace
// response with one JPEG per part (IP cameras, other servers), or a plain
// response body of concatenated JPEGs. Frames are handed out as they arrive,
// at most Options.MaxFPS a second: faster ones are dropped unread.
type MJPEGHTTP struct {
	url  string
	opts Options
	c    counters
	fit  fitter
	gate rateGate

	body io.ReadCloser
	next func() ([]byte, error)

	mu    sync.Mutex // guards info
	info  Info
	index uint64
}

// OpenMJPEGHTTP fetches url with Options.Fetcher and checks that the answer
// is an MJPEG stream (ErrNotStream otherwise). The request lives until
// Close, not until ctx ends.
func OpenMJPEGHTTP(ctx context.Context, url string, opts Options) (*MJPEGHTTP, error) {
	opts = opts.withDefaults()
	m, err := opts.Fetcher.OpenMedia(ctx, url)
	if errors.Is(err, fetch.ErrNotMedia) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotStream, url, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if m.Kind != fetch.KindMJPEG {
		m.Body.Close()
		return nil, fmt.Errorf("%w: %s answers %s", ErrNotStream, url, m.Format)
	}
	return newMJPEGHTTP(m, url, opts), nil
}

// newMJPEGHTTP reads the MJPEG media m fetched from url.
func newMJPEGHTTP(m *fetch.Media, url string, opts Options) *MJPEGHTTP {
	s := &MJPEGHTTP{url: url, opts: opts, body: m.Body, gate: newRateGate(opts.MaxFPS),
		info: Info{Kind: "mjpeg-http", Description: "MJPEG stream " + url, Live: true}}
	s.fit = newFitter(opts, &s.c)
	br := bufio.NewReaderSize(m.Body, 64<<10)
	_, params, _ := mime.ParseMediaType(m.ContentType)
	if m.Format == "multipart" {
		s.next = s.multipart(br, params["boundary"])
	} else {
		s.next = newSplitter(br, opts.MaxFrameSize, &s.c.skipped).Next
	}
	return s
}

// multipart reads one JPEG per part. When the first line of the body is
// not the announced boundary (some cameras get it wrong) the body is split
// on JPEG markers instead.
func (s *MJPEGHTTP) multipart(br *bufio.Reader, boundary string) func() ([]byte, error) {
	var first []byte
	for len(first) < 1024 {
		line, err := br.ReadSlice('\n')
		first = append(first, line...)
		if err != nil || len(bytes.TrimSpace(line)) > 0 {
			break
		}
	}
	body := io.MultiReader(bytes.NewReader(first), br)
	if !bytes.HasPrefix(bytes.TrimSpace(first), []byte("--"+boundary)) {
		return newSplitter(body, s.opts.MaxFrameSize, &s.c.skipped).Next
	}
	mr := multipart.NewReader(body, boundary)
	limit := int64(s.opts.MaxFrameSize)
	return func() ([]byte, error) {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, err
			}
			if ct := part.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "image/jpeg") {
				s.c.skipped.Add(1)
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return nil, err
			}
			if int64(len(b)) > limit {
				s.c.skipped.Add(1)
				continue
			}
			return b, nil
		}
	}
}

// Info describes the stream.
func (s *MJPEGHTTP) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Stats returns the counters.
func (s *MJPEGHTTP) Stats() Stats { return s.c.stats() }

// Next returns the next picture as soon as it arrives. ctx ending closes
// the stream, since a read in progress cannot be abandoned otherwise.
func (s *MJPEGHTTP) Next(ctx context.Context) (Frame, error) {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		jpg, err := s.next()
		if err != nil {
			if ctx.Err() != nil {
				return Frame{}, ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Frame{}, io.EOF
			}
			return Frame{}, fmt.Errorf("source: read %s: %w", s.url, err)
		}
		now := time.Now()
		if !s.gate.admit(now) {
			s.c.dropped.Add(1)
			continue
		}
		fr, err := s.fit.fit(jpg)
		if err != nil {
			s.c.skipped.Add(1)
			s.opts.Logger.Debug("mjpeg stream: skipping picture", "url", s.url, "err", err)
			continue
		}
		fr.Captured = now
		s.mu.Lock()
		fr.Index = s.index
		s.index++
		s.info.Width, s.info.Height = fr.Width, fr.Height
		s.mu.Unlock()
		s.c.frames.Add(1)
		return fr, nil
	}
}

// Close ends the request.
func (s *MJPEGHTTP) Close() error { return s.body.Close() }
