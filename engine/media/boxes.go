package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An MP4 or QuickTime file is a row of boxes, each a header (a 32-bit size,
// header included, and four characters of type; a size of 1 is followed by
// a 64-bit size, a size of 0 runs to the end of the file) and a body. The
// top level holds the index (moov: the tracks, the samples' times and
// offsets) and the media data (mdat). A file written without `+faststart`
// (by phones, cameras, screen recorders, ffmpeg's own default) has its moov
// after its mdat: a player reads the head, then asks for the moov at the
// end before it knows anything about the media.

// ErrMalformedBox means a file's boxes could not be read as MP4 boxes.
var ErrMalformedBox = errors.New("malformed MP4 box")

// Bounds of ReadTopBoxes: it reads at most maxTopBoxes headers of at most
// 16 bytes each, so at most 16 KB of a file however it is made.
const maxTopBoxes = 1024

// Box is one top-level box of an MP4/QuickTime file.
type Box struct {
	Type   string // its four characters
	Offset int64  // where its header starts
	Size   int64  // header and body; 0 when the box was not found
}

// TopBoxes is where a file's first moov and first mdat are (a zero Box for
// one not found) and how many top-level boxes were read.
type TopBoxes struct {
	Moov, Mdat Box
	Read       int
}

// ReadTopBoxes reads the top-level box headers of r, a file of size bytes,
// seeking from each header to the next, until the end of the file, until
// both a moov and an mdat are found, or until a header that cannot be a
// box's (a size past the end or below the header's, a truncated header, a
// type that is not four printable characters), which ends the reading with
// an error wrapping ErrMalformedBox. What was found before an error is
// returned with it. It reads at most maxTopBoxes headers.
func ReadTopBoxes(r io.ReaderAt, size int64) (TopBoxes, error) {
	var out TopBoxes
	var head [16]byte
	for off := int64(0); off < size; {
		if out.Read == maxTopBoxes {
			return out, fmt.Errorf("%w: more than %d boxes", ErrMalformedBox, maxTopBoxes)
		}
		left := size - off
		if left < 8 {
			return out, fmt.Errorf("%w: %d bytes at %d, not a box header", ErrMalformedBox, left, off)
		}
		if _, err := r.ReadAt(head[:8], off); err != nil {
			return out, fmt.Errorf("%w: reading the header at %d: %w", ErrMalformedBox, off, err)
		}
		typ := head[4:8]
		for _, c := range typ {
			if c < 0x20 || c > 0x7e {
				return out, fmt.Errorf("%w: type %q at %d", ErrMalformedBox, typ, off)
			}
		}
		n, hdr := int64(binary.BigEndian.Uint32(head[:4])), int64(8)
		switch n {
		case 0: // to the end of the file
			n = left
		case 1: // a 64-bit size follows the type
			if left < 16 {
				return out, fmt.Errorf("%w: a 64-bit size cut off at %d", ErrMalformedBox, off)
			}
			if _, err := r.ReadAt(head[8:16], off+8); err != nil {
				return out, fmt.Errorf("%w: reading the size at %d: %w", ErrMalformedBox, off+8, err)
			}
			big := binary.BigEndian.Uint64(head[8:16])
			if big > uint64(left) {
				return out, fmt.Errorf("%w: box %q at %d runs %d bytes past the end", ErrMalformedBox, typ, off, big-uint64(left))
			}
			n, hdr = int64(big), 16
		}
		if n < hdr || n > left {
			return out, fmt.Errorf("%w: box %q at %d has size %d (%d bytes left)", ErrMalformedBox, typ, off, n, left)
		}
		out.Read++
		b := Box{Type: string(typ), Offset: off, Size: n}
		switch {
		case b.Type == "moov" && out.Moov.Size == 0:
			out.Moov = b
		case b.Type == "mdat" && out.Mdat.Size == 0:
			out.Mdat = b
		}
		if out.Moov.Size > 0 && out.Mdat.Size > 0 {
			break
		}
		off += n
	}
	return out, nil
}

// Where a player's read of an MP4's trailing index starts, and how much of
// it is worth loading first. Chromium's media cache reads a file in blocks
// of 32 KB: its request for the moov starts at the block holding the moov's
// first byte, and the HTTP cache answers it only with data from that
// offset on (a tail from 1898 bytes past the block's start was not used).
const (
	tailBlock = 32 << 10
	// MaxEarlyTail is the largest tail loaded first (a film's moov is a
	// few hundred KB; one of over 4 MB would hold up the head too long).
	MaxEarlyTail = 4 << 20
)

// EarlyTail is the offset from which a player of an MP4 whose moov comes
// after its mdat reads to the end of the file for the moov: the start of
// the 32 KB block holding the moov's first byte. Loaded before the head,
// it answers that read from the browser's cache. It is 0 (nothing to load
// first) when the moov comes first (the head's request carries it), when
// either box is missing, when the block is the file's first, and when the
// tail would be longer than MaxEarlyTail.
func (b TopBoxes) EarlyTail(size int64) int64 {
	if b.Moov.Size == 0 || b.Mdat.Size == 0 || b.Moov.Offset < b.Mdat.Offset {
		return 0
	}
	start := b.Moov.Offset / tailBlock * tailBlock
	if start <= 0 || size-start > MaxEarlyTail {
		return 0
	}
	return start
}

// MP4EarlyTail reads r's top-level boxes (a file of size bytes) and returns
// their EarlyTail: 0 for a file that is not such an MP4, or is malformed
// before both boxes were found.
func MP4EarlyTail(r io.ReaderAt, size int64) int64 {
	b, _ := ReadTopBoxes(r, size)
	return b.EarlyTail(size)
}
