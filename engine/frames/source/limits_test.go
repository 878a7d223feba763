package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name                   string
		w, h, maxWidth, maxPix int
		wantW, wantH           int
	}{
		{"fits", 640, 360, 1280, 921600, 640, 360},
		{"no limits", 20000, 20000, 0, 0, 20000, 20000},
		{"width", 1920, 1080, 1280, 0, 1280, 720},
		{"width then pixels", 1920, 1080, 1280, 640 * 360, 640, 360},
		{"tall pattern", 1280, 8192, 1280, 921600, 379, 2429},
		{"sliver", 1, 65535, 0, 1000, 1, 1000},
		{"tiny result", 8192, 1, 16, 0, 16, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h := Fit(tt.w, tt.h, tt.maxWidth, tt.maxPix)
			if w != tt.wantW || h != tt.wantH {
				t.Fatalf("Fit(%d, %d, %d, %d) = %dx%d, want %dx%d", tt.w, tt.h, tt.maxWidth, tt.maxPix, w, h, tt.wantW, tt.wantH)
			}
			if tt.maxPix > 0 && w*h > tt.maxPix || tt.maxWidth > 0 && w > tt.maxWidth {
				t.Fatalf("%dx%d breaks the limits", w, h)
			}
		})
	}
}

// TestPatternSizeCapped: a pattern is drawn at the size the limits allow,
// whatever was asked for (issue 11.7: pattern:1280x8192 burned a core).
func TestPatternSizeCapped(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, "pattern:1280x8192", Options{Unpaced: true, MaxWidth: 1280, MaxPixels: 1280 * 720})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fr, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Width*fr.Height > 1280*720 || src.Info().Width*src.Info().Height > 1280*720 {
		t.Fatalf("pattern drawn at %dx%d, over the 1280x720 pixel budget", fr.Width, fr.Height)
	}
	for _, spec := range []string{"pattern:9000x10", "pattern:0x10", "pattern:-5x10"} {
		if _, err := Open(ctx, spec, Options{}); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", spec, err)
		}
	}
}

// bombServer serves an MJPEG stream of good frames with decompression bombs
// between them: JPEGs of a few hundred bytes whose header announces
// bombW x bombH pixels.
func bombServer(t *testing.T, good, bomb []byte, n int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
		for i := range n {
			p := good
			if i%2 == 1 {
				p = bomb
			}
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(p))
			w.Write(p)
			io.WriteString(w, "\r\n")
		}
		io.WriteString(w, "--frame--\r\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestJPEGBombRefusedBeforeDecoding (issue 11.2): frames whose header is
// over the pixel budget are skipped unread; the good frames around them
// come through; what the source allocates stays far below what one bomb
// would cost to decode (20000x20000 YCbCr: 600 MB).
func TestJPEGBombRefusedBeforeDecoding(t *testing.T) {
	good := testJPEG(t, 640, 360, 0)
	srv := bombServer(t, good, patchSOF(good, 20000, 20000), 20)
	ctx := context.Background()
	opts := local
	opts.MaxWidth = 320 // every frame is wider: each would be decoded
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	src, err := Open(ctx, srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frames := 0
	for {
		fr, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if fr.Width != 320 {
			t.Fatalf("frame %dx%d", fr.Width, fr.Height)
		}
		frames++
	}
	runtime.ReadMemStats(&after)
	st := src.Stats()
	if frames != 10 || st.Skipped != 10 {
		t.Errorf("%d frames, %d skipped: want the 10 good ones through and the 10 bombs skipped", frames, st.Skipped)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading 10 good frames and 10 bombs allocated %d MB", alloc>>20)
	}
}

// TestLiveRateLimit (issue 11.7): a camera sending faster than MaxFPS has
// its extra frames dropped before they are decoded.
func TestLiveRateLimit(t *testing.T) {
	var pics [][]byte
	for i := range 10 {
		pics = append(pics, testJPEG(t, 320, 180, uint64(i)))
	}
	srv := multipartServer(t, pics, "multipart")
	defer srv.Close()
	ctx := context.Background()
	opts := local
	opts.MaxFPS = 5
	opts.MaxWidth = 160
	start := time.Now()
	src, err := Open(ctx, srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		if _, err := src.Next(ctx); err != nil {
			break
		}
		n++
	}
	// The ten frames arrive at once: the bucket (one and a half frames,
	// refilled at MaxFPS) lets one through, a second after 100 ms, one more
	// every 200 ms the reading takes (long on a loaded machine); the rest
	// are dropped unread.
	most := int(gateBurst + opts.MaxFPS*time.Since(start).Seconds())
	st := src.Stats()
	if n < 1 || n > most || st.Dropped != uint64(10-n) || st.Encodes != uint64(n) {
		t.Fatalf("%d frames handed out, stats %+v: want 1-%d out, the rest dropped without an encode", n, st, most)
	}
}
