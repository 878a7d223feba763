package source

import (
	"bytes"
	"errors"
	"image/jpeg"
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
			if errors.Is(err, io.EOF) {
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

// FuzzJPEGHeader: arbitrary bytes never panic; a header within the budget
// gives a positive size; and when the header passes, the decoder never
// makes a picture of another size, so the budget bounds what decoding
// costs.
func FuzzJPEGHeader(f *testing.F) {
	f.Add(testJPEG(f, 8, 8, 0))
	f.Add(testJPEG(f, 40, 24, 1))
	f.Add(withApp(testJPEG(f, 16, 16, 0)))
	f.Add(patchSOF(testJPEG(f, 16, 16, 0), 20000, 20000))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		const budget = 1 << 14
		w, h, err := JPEGHeader(in, budget)
		if err != nil {
			return
		}
		if w <= 0 || h <= 0 || w*h > budget {
			t.Fatalf("size %dx%d passed a budget of %d pixels", w, h, budget)
		}
		img, err := jpeg.Decode(bytes.NewReader(in))
		if err == nil && (img.Bounds().Dx() != w || img.Bounds().Dy() != h) {
			t.Fatalf("header says %dx%d, decoder made %v", w, h, img.Bounds())
		}
	})
}
