package media_test

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
)

// sparseFile is a file of size bytes that holds parts at their offsets and
// zeros elsewhere, so that a test can describe a file of terabytes; it
// counts what was read of it.
type sparseFile struct {
	size  int64
	parts map[int64][]byte
	reads int
	bytes int64
}

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	f.reads++
	if off < 0 || off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := f.size - off; int64(n) > rest {
		n = int(rest)
	}
	clear(p[:n])
	for at, b := range f.parts {
		for i := range b {
			if k := at + int64(i) - off; k >= 0 && k < int64(n) {
				p[k] = b[i]
			}
		}
	}
	f.bytes += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// header32 is a box header with a 32-bit size; header64 one with size 1
// and the 64-bit size after the type.
func header32(typ string, size uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	return append(b, typ...)
}

func header64(typ string, size uint64) []byte {
	return binary.BigEndian.AppendUint64(header32(typ, 1), size)
}

// layout lays boxes out one after another, each a header and its size in
// bytes in all (a box of size 0 gets 1000 bytes, to the end); it returns
// the file.
func layout(boxes ...[]byte) *sparseFile {
	f := &sparseFile{parts: map[int64][]byte{}}
	for _, h := range boxes {
		f.parts[f.size] = h
		size := int64(binary.BigEndian.Uint32(h))
		switch size {
		case 0:
			size = 1000
		case 1:
			size = int64(binary.BigEndian.Uint64(h[8:]))
		}
		f.size += size
	}
	return f
}

// at is a file of size bytes holding parts at their offsets.
func at(size int64, parts ...any) *sparseFile {
	f := &sparseFile{size: size, parts: map[int64][]byte{}}
	for i := 0; i+1 < len(parts); i += 2 {
		f.parts[int64(parts[i].(int))] = parts[i+1].([]byte)
	}
	return f
}

// TestReadTopBoxes: the boxes of well-made files are found where they are,
// and hostile ones (sizes past the end, zero, below the header's, 64-bit
// sizes that overflow, truncated headers, endless rows of boxes, a WebM)
// end the reading with ErrMalformedBox after a bounded read, keeping what
// was found before; the early tail is the moov's 32 KB block for a moov
// after the mdat, and nothing otherwise.
func TestReadTopBoxes(t *testing.T) {
	const block = 32 << 10
	type want struct {
		moov, mdat [2]int64 // offset, size; size 0: not found
		bad        bool
		tail       int64
	}
	many := &sparseFile{size: 8 * 5000, parts: map[int64][]byte{}}
	for i := range int64(5000) {
		many.parts[8*i] = header32("free", 8)
	}
	moovEnd := int64(10*block + 1234)
	cases := []struct {
		name string
		f    *sparseFile
		want want
	}{
		{"empty", &sparseFile{}, want{}},
		{"faststart", layout(header32("ftyp", 32), header32("moov", 5000), header32("mdat", 400000)),
			want{moov: [2]int64{32, 5000}, mdat: [2]int64{5032, 400000}}},
		{"moov at the end", layout(header32("ftyp", 32), header32("free", 8), header32("mdat", uint32(moovEnd-40)), header32("moov", 3628)),
			want{moov: [2]int64{moovEnd, 3628}, mdat: [2]int64{40, moovEnd - 40}, tail: 10 * block}},
		{"moov on a block's start", layout(header32("ftyp", 32), header32("mdat", 3*block-32), header32("moov", 100), header32("free", 100)),
			want{moov: [2]int64{3 * block, 100}, mdat: [2]int64{32, 3*block - 32}, tail: 3 * block}},
		{"moov at the end of a small file", layout(header32("ftyp", 32), header32("mdat", 20000), header32("moov", 3000)),
			want{moov: [2]int64{20032, 3000}, mdat: [2]int64{32, 20000}}},
		{"moov of 5 MB at the end", layout(header32("ftyp", 32), header32("mdat", 50<<20), header32("moov", 5<<20)),
			want{moov: [2]int64{32 + 50<<20, 5 << 20}, mdat: [2]int64{32, 50 << 20}}},
		{"64-bit mdat of 6 TB", layout(header32("ftyp", 32), header64("mdat", 6<<40), header32("moov", 3000)),
			want{moov: [2]int64{32 + 6<<40, 3000}, mdat: [2]int64{32, 6 << 40}, tail: (32 + 6<<40) / block * block}},
		{"mdat to the end (size 0)", layout(header32("ftyp", 32), header32("mdat", 0)),
			want{mdat: [2]int64{32, 1000}}},
		{"size past the end", at(32+1000, 0, header32("ftyp", 32), 32, header32("mdat", 1001), 1032, header32("moov", 100)),
			want{bad: true}},
		{"size below the header's", at(1000, 0, header32("ftyp", 32), 32, header32("free", 4), 36, header32("moov", 100)),
			want{bad: true}},
		{"size zero then more", at(1000, 0, header32("ftyp", 32), 32, header32("free", 0), 40, header32("moov", 100)),
			want{}},
		{"64-bit size past the end", at(1000, 0, header32("ftyp", 32), 32, header64("mdat", 1<<63+5)),
			want{bad: true}},
		{"64-bit size of the whole range", at(1000, 0, header32("ftyp", 32), 32, header64("mdat", 1<<64-1)),
			want{bad: true}},
		{"64-bit size below the header's", at(1000, 0, header32("ftyp", 32), 32, header64("free", 12), 44, header32("moov", 100)),
			want{bad: true}},
		{"truncated header", at(32+5, 0, header32("ftyp", 32), 32, []byte{0, 0, 0, 9, 'm'}),
			want{bad: true}},
		{"truncated 64-bit size", at(32+12, 0, header32("ftyp", 32), 32, header32("mdat", 1)),
			want{bad: true}},
		{"moov then a truncated mdat", at(100+1000, 0, header32("moov", 100), 100, header32("mdat", 0x7fffffff)),
			want{moov: [2]int64{0, 100}, bad: true}},
		{"type not printable", layout(header32("ftyp", 32), header32("md\x00t", 100), header32("moov", 100)),
			want{bad: true}},
		{"webm", at(1<<20, 0, []byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81}),
			want{bad: true}},
		{"5000 empty boxes", many, want{bad: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := media.ReadTopBoxes(c.f, c.f.size)
			if c.want.bad != (err != nil) || (err != nil && !errors.Is(err, media.ErrMalformedBox)) {
				t.Errorf("error %v; want malformed %v", err, c.want.bad)
			}
			if g := [2]int64{got.Moov.Offset, got.Moov.Size}; g != c.want.moov || (g[1] > 0 && got.Moov.Type != "moov") {
				t.Errorf("moov %+v; want at %d, %d bytes", got.Moov, c.want.moov[0], c.want.moov[1])
			}
			if g := [2]int64{got.Mdat.Offset, got.Mdat.Size}; g != c.want.mdat || (g[1] > 0 && got.Mdat.Type != "mdat") {
				t.Errorf("mdat %+v; want at %d, %d bytes", got.Mdat, c.want.mdat[0], c.want.mdat[1])
			}
			if tail := got.EarlyTail(c.f.size); tail != c.want.tail {
				t.Errorf("early tail from %d; want %d", tail, c.want.tail)
			}
			if tail := media.MP4EarlyTail(c.f, c.f.size); tail != c.want.tail {
				t.Errorf("MP4EarlyTail %d; want %d", tail, c.want.tail)
			}
			// Headers only: two reads of at most 16 bytes a box.
			if c.f.reads > 2*2*1024 || c.f.bytes > 2*16*1024 {
				t.Errorf("read %d times, %d bytes; the reader reads headers only, at most 1024 boxes", c.f.reads, c.f.bytes)
			}
		})
	}
}

// TestEarlyTailOfFFmpegFiles: ffmpeg's own MP4 (the moov after the media
// data) gets an early tail from the 32 KB block holding its moov, which
// covers the whole moov; the same file made with +faststart gets none.
func TestEarlyTailOfFFmpegFiles(t *testing.T) {
	dir := t.TempDir()
	spec := mediatest.Spec{Seconds: 6}
	for _, c := range []struct {
		kind     mediatest.Kind
		moovLast bool
	}{{mediatest.MP4MoovEnd, true}, {mediatest.MP4, false}} {
		path := mediatest.MakeSpec(t, dir, c.kind, "", spec)
		b, size := mediatest.TopBoxes(t, path)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if (b.Moov.Offset > b.Mdat.Offset) != c.moovLast {
			t.Fatalf("%s: moov %+v, mdat %+v; want both, the moov last: %v", c.kind, b.Moov, b.Mdat, c.moovLast)
		}
		tail := media.MP4EarlyTail(f, size)
		if !c.moovLast {
			if tail != 0 {
				t.Errorf("%s (faststart): early tail from %d; want none", c.kind, tail)
			}
			continue
		}
		if tail <= 0 || tail%(32<<10) != 0 || tail > b.Moov.Offset || b.Moov.Offset-tail >= 32<<10 {
			t.Errorf("%s: early tail from %d; want the start of the 32 KB block holding the moov at %d", c.kind, tail, b.Moov.Offset)
		}
		// The tail holds the whole moov, and it reads as what ffmpeg wrote.
		moov := make([]byte, b.Moov.Size)
		if _, err := f.ReadAt(moov, b.Moov.Offset); err != nil || string(moov[4:8]) != "moov" || b.Moov.Offset+b.Moov.Size > size {
			t.Errorf("%s: the moov at %d does not read back: %v", c.kind, b.Moov.Offset, err)
		}
	}
}
