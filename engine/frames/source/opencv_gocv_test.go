//go:build gocv

package source

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// makeVideo renders 60 frames of ffmpeg's test source at 640x360, 30 fps.
func makeVideo(t *testing.T, name string, codec ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-frames:v", "60"}
	args = append(args, codec...)
	args = append(args, out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (install it with apt-get install ffmpeg): %v\n%s", err, b)
	}
	return out
}

func TestOpenCVFiles(t *testing.T) {
	videos := []struct {
		name string
		file string
	}{
		{name: "h264 mp4", file: makeVideo(t, "out.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p")},
		{name: "mjpeg avi", file: makeVideo(t, "out.avi", "-c:v", "mjpeg")},
	}
	ctx := context.Background()
	for _, v := range videos {
		t.Run(v.name+" paced", func(t *testing.T) {
			src, err := OpenCVCapture(v.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			info := src.Info()
			if info.FPS != 30 || info.Live || info.Kind != "opencv" {
				t.Fatalf("info %+v: want a 30 fps file", info)
			}
			period := src.Pacer().Period()
			if period != time.Second/30 {
				t.Fatalf("pacing period %v, want 1/30 s", period)
			}
			start := time.Now()
			var first time.Time
			n := 0
			for range 100 {
				fr, err := src.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("frame %d: %v", n, err)
				}
				if fr.Width != 640 || fr.Height != 360 || fr.Index != uint64(n) {
					t.Fatalf("frame %d: %dx%d index %d", n, fr.Width, fr.Height, fr.Index)
				}
				if n == 0 {
					first = fr.Captured
					img, err := jpeg.Decode(bytes.NewReader(fr.JPEG))
					if err != nil || img.Bounds().Dx() != 640 {
						t.Fatalf("first frame is not a 640 px JPEG: %v", err)
					}
				}
				// Each frame is scheduled exactly one period after the
				// previous one unless the reader fell a second behind.
				if src.Stats().Resyncs == 0 {
					if want := first.Add(time.Duration(n) * period); !fr.Captured.Equal(want) {
						t.Fatalf("frame %d scheduled at +%v, want +%v", n, fr.Captured.Sub(first), want.Sub(first))
					}
				}
				n++
			}
			if n != 60 {
				t.Fatalf("read %d frames, want 60", n)
			}
			if st := src.Stats(); st.Frames != 60 || st.Encodes != 60 || st.Resized != 0 {
				t.Fatalf("stats %+v", st)
			}
			// Timers never fire early, so 60 frames at 30 fps take at least 59 periods.
			if elapsed := time.Since(start); elapsed < 59*period {
				t.Fatalf("60 frames in %v: faster than the source rate", elapsed)
			}
		})
		t.Run(v.name+" resized and looped", func(t *testing.T) {
			src, err := Open(ctx, v.file, Options{Unpaced: true, Loop: true, MaxWidth: 320, Quality: 60})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for i := range 150 {
				fr, err := src.Next(ctx)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				w, h, err := JPEGHeader(fr.JPEG, 0)
				if err != nil || w != 320 || h != 180 || fr.Width != 320 || fr.Index != uint64(i) {
					t.Fatalf("frame %d: %dx%d (%v), index %d", i, w, h, err, fr.Index)
				}
			}
			if st := src.Stats(); st.Encodes != 150 || st.Resized != 150 {
				t.Fatalf("stats %+v: want one encode and one resize per frame", st)
			}
		})
	}
}

func TestOpenCVErrors(t *testing.T) {
	if _, err := OpenOpenCV(filepath.Join(t.TempDir(), "missing.mp4"), Options{}); !errors.Is(err, ErrOpen) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := OpenOpenCV("camera:x", Options{}); !errors.Is(err, ErrOpen) {
		t.Fatalf("bad camera index: %v", err)
	}
	if !OpenCVAvailable {
		t.Fatal("OpenCVAvailable is false in a gocv build")
	}
}
