package source

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
)

// FuzzSplitter: arbitrary streams never panic, pictures respect the limit,
// start with SOI and end with EOI.
func FuzzSplitter(f *testing.F) {
	pic := testJPEG(f, 16, 16, 0)
	f.Add(pic)
	f.Add(append(append([]byte("junk"), pic...), pic[:20]...))
	f.Add(withApp(pic))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0, 0xff, 0xd0, 0xff, 0xd9})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 4096
		var skipped atomic.Uint64
		sp := newSplitter(bytes.NewReader(in), limit, &skipped)
		for range 1000 {
			p, err := sp.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p) > limit+2 || !bytes.HasPrefix(p, []byte{0xff, 0xd8}) || !bytes.HasSuffix(p, []byte{0xff, 0xd9}) {
				t.Fatalf("picture of %d bytes: % x ... % x", len(p), p[:min(len(p), 4)], p[max(len(p)-2, 0):])
			}
		}
	})
}

// FuzzJPEGSize: arbitrary bytes never panic, and a size is never zero.
func FuzzJPEGSize(f *testing.F) {
	f.Add(testJPEG(f, 8, 8, 0))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xc0, 0, 7, 8, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		w, h, err := JPEGSize(in)
		if err == nil && (w <= 0 || h <= 0) {
			t.Fatalf("size %dx%d without error", w, h)
		}
	})
}
