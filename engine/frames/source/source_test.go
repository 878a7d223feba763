package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"

	"watchparty/engine/fetch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testJPEG encodes frame i of the test pattern.
func testJPEG(t testing.TB, w, h int, i uint64) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	DrawPattern(img, i)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: DefaultQuality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withApp inserts an APP1 segment whose data holds bytes that look like
// markers (a thumbnail's start and end of image) right after SOI.
func withApp(jpg []byte) []byte {
	data := []byte{'E', 'x', 'i', 'f', 0, 0, 0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 1, 2}
	seg := []byte{0xFF, 0xE1, 0, byte(len(data) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, data...)
	return append(out, jpg[2:]...)
}

// patchSOF rewrites the size in a JPEG's frame header, as a decompression
// bomb does: a small file announcing a huge picture.
func patchSOF(jpg []byte, w, h int) []byte {
	out := append([]byte(nil), jpg...)
	for i := 2; i+8 < len(out); {
		if out[i] != 0xFF {
			break
		}
		m := out[i+1]
		if m == 0xC0 || m == 0xC2 {
			out[i+5], out[i+6] = byte(h>>8), byte(h)
			out[i+7], out[i+8] = byte(w>>8), byte(w)
			return out
		}
		i += 2 + int(out[i+2])<<8 | int(out[i+3])
	}
	panic("no frame header")
}

func TestJPEGHeader(t *testing.T) {
	jpg := testJPEG(t, 320, 180, 0)
	tests := []struct {
		name string
		in   []byte
		w, h int
		err  error
	}{
		{name: "plain", in: jpg, w: 320, h: 180},
		{name: "app segment", in: withApp(jpg), w: 320, h: 180},
		{name: "at the budget", in: patchSOF(jpg, 400, 250), w: 400, h: 250},
		{name: "bomb", in: patchSOF(jpg, 20000, 20000), err: ErrTooManyPixels},
		{name: "one pixel over", in: patchSOF(jpg, 401, 250), err: ErrTooManyPixels},
		{name: "not jpeg", in: []byte("hello world"), err: ErrBadJPEG},
		{name: "truncated", in: jpg[:30], err: ErrBadJPEG},
		{name: "empty", in: nil, err: ErrBadJPEG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h, err := JPEGHeader(tc.in, 400*250)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("JPEGHeader error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || w != tc.w || h != tc.h {
				t.Fatalf("JPEGHeader = %d, %d, %v", w, h, err)
			}
		})
	}
}

func TestSplitter(t *testing.T) {
	a, b, c := testJPEG(t, 160, 90, 1), withApp(testJPEG(t, 64, 48, 2)), testJPEG(t, 200, 100, 3)
	var stream bytes.Buffer
	stream.WriteString("garbage before the first picture\xff\x00\xff")
	stream.Write(a)
	stream.WriteString("\r\n--boundary\r\nContent-Type: image/jpeg\r\n\r\n")
	stream.Write(b)
	stream.Write(c[:len(c)/2]) // truncated: a new picture starts inside it
	stream.Write(a)
	stream.Write(c)
	stream.Write(b[:len(b)-5]) // truncated at the end of the stream
	want := [][]byte{a, b, a, c}

	readers := []struct {
		name string
		r    func() io.Reader
	}{
		{name: "whole", r: func() io.Reader { return bytes.NewReader(stream.Bytes()) }},
		{name: "one byte at a time", r: func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream.Bytes())) }},
		{name: "half reads", r: func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream.Bytes())) }},
	}
	for _, rc := range readers {
		t.Run(rc.name, func(t *testing.T) {
			var skipped atomic.Uint64
			sp := newSplitter(rc.r(), 1<<20, &skipped)
			var got [][]byte
			for range 100 {
				pic, err := sp.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, pic)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d pictures, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("picture %d differs (%d vs %d bytes)", i, len(got[i]), len(want[i]))
				}
			}
			if skipped.Load() != 2 {
				t.Fatalf("skipped %d truncated pictures, want 2", skipped.Load())
			}
		})
	}
}

func TestSplitterSizeLimit(t *testing.T) {
	small, big := testJPEG(t, 32, 32, 0), testJPEG(t, 640, 360, 0)
	var skipped atomic.Uint64
	sp := newSplitter(bytes.NewReader(append(append(append([]byte{}, small...), big...), small...)), len(small)+10, &skipped)
	var n int
	for range 10 {
		pic, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pic, small) {
			t.Fatalf("picture %d is not the small one", n)
		}
		n++
	}
	if n != 2 || skipped.Load() != 1 {
		t.Fatalf("got %d pictures and %d skipped, want 2 and 1", n, skipped.Load())
	}
	if cap(sp.buf) > 4*splitChunk {
		t.Fatalf("splitter buffer grew to %d for a %d byte limit", cap(sp.buf), len(small)+10)
	}
}

func writeMJPEG(t *testing.T, n, w, h int) (string, [][]byte) {
	t.Helper()
	var all bytes.Buffer
	var pics [][]byte
	for i := range n {
		p := testJPEG(t, w, h, uint64(i))
		pics = append(pics, p)
		all.Write(p)
	}
	path := filepath.Join(t.TempDir(), "clip.mjpeg")
	if err := os.WriteFile(path, all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, pics
}

func TestMJPEGFile(t *testing.T) {
	path, pics := writeMJPEG(t, 12, 320, 180)
	ctx := context.Background()

	t.Run("frame count", func(t *testing.T) {
		src, err := Open(ctx, path, Options{Unpaced: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for i := range pics {
			fr, err := src.Next(ctx)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if !bytes.Equal(fr.JPEG, pics[i]) || fr.Index != uint64(i) || fr.Width != 320 || fr.Height != 180 {
				t.Fatalf("frame %d: index %d, %dx%d, same bytes %v", i, fr.Index, fr.Width, fr.Height, bytes.Equal(fr.JPEG, pics[i]))
			}
		}
		if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last frame: %v, want io.EOF", err)
		}
		if st := src.Stats(); st.Frames != 12 || st.Encodes != 0 || st.Skipped != 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("loop", func(t *testing.T) {
		src, err := OpenMJPEGFile(path, Options{Unpaced: true, Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for i := range 30 {
			fr, err := src.Next(ctx)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if fr.Index != uint64(i) || !bytes.Equal(fr.JPEG, pics[i%len(pics)]) {
				t.Fatalf("frame %d: index %d or wrong picture", i, fr.Index)
			}
		}
	})

	t.Run("paced", func(t *testing.T) {
		const fps = 200
		src, err := OpenMJPEGFile(path, Options{FPS: fps})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var first time.Time
		start := time.Now()
		for i := range pics {
			fr, err := src.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = fr.Captured
			}
			if src.Stats().Resyncs == 0 {
				if want := first.Add(time.Duration(i) * src.Pacer().Period()); !fr.Captured.Equal(want) {
					t.Fatalf("frame %d scheduled at +%v, want +%v", i, fr.Captured.Sub(first), want.Sub(first))
				}
			}
		}
		if src.Pacer().Period() != time.Second/fps {
			t.Fatalf("period %v", src.Pacer().Period())
		}
		// Timers never fire early: the schedule is a lower bound.
		if elapsed, min := time.Since(start), time.Duration(len(pics)-1)*time.Second/fps; elapsed < min {
			t.Fatalf("%d frames took %v, schedule says at least %v", len(pics), elapsed, min)
		}
	})

	t.Run("no frames", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.mjpg")
		if err := os.WriteFile(empty, []byte("not a picture"), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := OpenMJPEGFile(empty, Options{Unpaced: true, Loop: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if _, err := src.Next(ctx); !errors.Is(err, ErrNoFrames) {
			t.Fatalf("Next on an empty file: %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		if _, err := OpenMJPEGFile(filepath.Join(t.TempDir(), "nope.mjpeg"), Options{}); !errors.Is(err, ErrOpen) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("open missing file: %v", err)
		}
	})
}

func TestResize(t *testing.T) {
	path, pics := writeMJPEG(t, 5, 1280, 720)
	ctx := context.Background()
	src, err := OpenMJPEGFile(path, Options{Unpaced: true, MaxWidth: 640, Quality: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := range pics {
		fr, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(fr.JPEG))
		if err != nil {
			t.Fatalf("frame %d does not decode: %v", i, err)
		}
		if b := img.Bounds(); fr.Width != 640 || fr.Height != 360 || b.Dx() != 640 || b.Dy() != 360 {
			t.Fatalf("frame %d is %dx%d (says %dx%d)", i, b.Dx(), b.Dy(), fr.Width, fr.Height)
		}
	}
	if st := src.Stats(); st.Encodes != uint64(len(pics)) || st.Resized != uint64(len(pics)) {
		t.Fatalf("stats %+v: want one encode per frame", st)
	}

	// Pictures that fit pass through untouched.
	src2, err := OpenMJPEGFile(path, Options{Unpaced: true, MaxWidth: 1280})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	fr, err := src2.Next(ctx)
	if err != nil || !bytes.Equal(fr.JPEG, pics[0]) || src2.Stats().Encodes != 0 {
		t.Fatalf("fitting picture was changed: %v, encodes %d", err, src2.Stats().Encodes)
	}
}

func TestDownscale(t *testing.T) {
	// A flat color stays that color; a left/right split keeps its halves.
	src := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			c := color.RGBA{200, 40, 90, 255}
			if x >= 150 {
				c = color.RGBA{10, 220, 30, 255}
			}
			src.SetRGBA(x, y, c)
		}
	}
	out := Downscale(src, 100, 67)
	if b := out.Bounds(); b.Dx() != 100 || b.Dy() != 67 {
		t.Fatalf("size %v", b)
	}
	check := func(x, y int, want color.RGBA) {
		r, g, b, _ := out.At(x, y).RGBA()
		got := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
		if got != want {
			t.Fatalf("pixel %d,%d = %v, want %v", x, y, got, want)
		}
	}
	check(0, 0, color.RGBA{200, 40, 90, 255})
	check(49, 66, color.RGBA{200, 40, 90, 255})
	check(50, 30, color.RGBA{10, 220, 30, 255})
	check(99, 66, color.RGBA{10, 220, 30, 255})

	// YCbCr planes (what image/jpeg decodes to) are scaled without conversion.
	ycc := image.NewYCbCr(image.Rect(0, 0, 101, 51), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = 180
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 90, 160
	}
	small, ok := Downscale(ycc, 33, 17).(*image.YCbCr)
	if !ok {
		t.Fatal("YCbCr in, not YCbCr out")
	}
	for _, v := range small.Y {
		if v != 180 {
			t.Fatalf("luma %d, want 180", v)
		}
	}
	for i := range small.Cb {
		if small.Cb[i] != 90 || small.Cr[i] != 160 {
			t.Fatalf("chroma %d/%d, want 90/160", small.Cb[i], small.Cr[i])
		}
	}
}

func TestKernelWeights(t *testing.T) {
	for _, c := range [][2]int{{1280, 640}, {1920, 1280}, {7, 3}, {100, 99}, {3, 7}, {1, 1}} {
		k := newKernel(c[0], c[1])
		for i := range c[1] {
			var sum int32
			for _, w := range k.w[k.off[i] : k.off[i]+k.taps[i]] {
				if w < 0 {
					t.Fatalf("%v: negative weight", c)
				}
				sum += w
			}
			if sum != weightOne || k.start[i]+k.taps[i] > c[0] {
				t.Fatalf("%v output %d: weights sum to %d, taps %d..%d", c, i, sum, k.start[i], k.start[i]+k.taps[i])
			}
		}
	}
}

func multipartServer(t *testing.T, pics [][]byte, header string) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch header {
		case "multipart":
			mw := multipart.NewWriter(w)
			w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+mw.Boundary())
			for _, p := range pics {
				h := textproto.MIMEHeader{}
				h.Set("Content-Type", "image/jpeg")
				h.Set("Content-Length", fmt.Sprint(len(p)))
				pw, err := mw.CreatePart(h)
				if err != nil {
					return
				}
				pw.Write(p)
				w.(http.Flusher).Flush()
			}
			mw.Close()
		case "wrong boundary":
			// announces one boundary and writes another, as some cameras do
			w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=--myboundary")
			for _, p := range pics {
				fmt.Fprintf(w, "--myboundary\r\nContent-Type: image/jpeg\r\n\r\n")
				w.Write(p)
				fmt.Fprintf(w, "\r\n")
			}
		case "raw":
			w.Header().Set("Content-Type", "image/jpeg")
			for _, p := range pics {
				w.Write(p)
			}
		default:
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html></html>")
		}
	}))
}

// local reaches the loopback test servers, as stream.allow_private_urls
// does.
var local = Options{Fetcher: fetch.New(fetch.Options{AllowPrivate: true})}

func TestMJPEGHTTP(t *testing.T) {
	var pics [][]byte
	for i := range 10 {
		pics = append(pics, testJPEG(t, 320, 180, uint64(i)))
	}
	ctx := context.Background()
	for _, kind := range []string{"multipart", "wrong boundary", "raw"} {
		t.Run(kind, func(t *testing.T) {
			srv := multipartServer(t, pics, kind)
			defer srv.Close()
			src, err := Open(ctx, srv.URL+"/stream", local)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if info := src.Info(); !info.Live || info.Kind != "mjpeg-http" {
				t.Fatalf("info %+v", info)
			}
			for i := range pics {
				fr, err := src.Next(ctx)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(fr.JPEG, pics[i]) || fr.Index != uint64(i) {
					t.Fatalf("frame %d differs", i)
				}
			}
			if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last part: %v, want io.EOF", err)
			}
		})
	}
	t.Run("not a stream", func(t *testing.T) {
		srv := multipartServer(t, pics, "html")
		defer srv.Close()
		if _, err := OpenMJPEGHTTP(ctx, srv.URL, local); !errors.Is(err, ErrNotStream) {
			t.Fatalf("open an HTML page: %v", err)
		}
	})
	t.Run("resized", func(t *testing.T) {
		srv := multipartServer(t, pics, "multipart")
		defer srv.Close()
		opts := local
		opts.MaxWidth = 160
		src, err := OpenMJPEGHTTP(ctx, srv.URL, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		fr, err := src.Next(ctx)
		if err != nil || fr.Width != 160 || fr.Height != 90 || src.Stats().Encodes != 1 {
			t.Fatalf("resized frame %dx%d, %v, stats %+v", fr.Width, fr.Height, err, src.Stats())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=b")
			io.WriteString(w, "--b\r\n")
			w.(http.Flusher).Flush()
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(block)
		src, err := OpenMJPEGHTTP(ctx, srv.URL, local)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := src.Next(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next with a canceled context: %v", err)
		}
	})
}

func TestPattern(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, "pattern:640x360", Options{Unpaced: true, MaxWidth: 320})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := range 3 {
		fr, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w, h, err := JPEGHeader(fr.JPEG, 0)
		if err != nil || w != 320 || h != 180 || fr.Width != 320 {
			t.Fatalf("frame %d: %dx%d, %v", i, w, h, err)
		}
	}
	if st := src.Stats(); st.Encodes != 3 || st.Frames != 3 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := Open(ctx, "pattern:big", Options{}); !errors.Is(err, ErrOpen) {
		t.Fatalf("bad pattern spec: %v", err)
	}
}

func TestPacerResync(t *testing.T) {
	now := time.Unix(1000, 0)
	var slept []time.Duration
	p := NewPacer(10)
	p.now = func() time.Time { return now }
	p.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }
	ctx := context.Background()
	for i := range 3 {
		due, resynced, err := p.Wait(ctx)
		if err != nil || resynced || !due.Equal(time.Unix(1000, 0).Add(time.Duration(i)*100*time.Millisecond)) {
			t.Fatalf("frame %d due %v resynced %v", i, due, resynced)
		}
	}
	now = now.Add(5 * time.Second) // the consumer stalls
	due, resynced, err := p.Wait(ctx)
	if err != nil || !resynced || !due.Equal(now) {
		t.Fatalf("after a stall: due %v, resynced %v", due, resynced)
	}
	if due, _, _ := p.Wait(ctx); !due.Equal(now.Add(0)) || len(slept) != 3 {
		t.Fatalf("next due %v after %d sleeps", due, len(slept))
	}
}

func TestOpenSpecs(t *testing.T) {
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing.mjpeg"), Options{}); !errors.Is(err, ErrOpen) {
		t.Fatalf("missing .mjpeg: %v", err)
	}
	if !strings.Contains(ErrNoOpenCV.Error(), "-tags gocv") {
		t.Fatalf("ErrNoOpenCV does not say how to get OpenCV: %q", ErrNoOpenCV)
	}
}
