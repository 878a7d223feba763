//go:build !gocv

package source

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestNoOpenCV(t *testing.T) {
	for _, spec := range []string{"camera:0", "movie.mp4", "rtsp://camera.local/stream"} {
		_, err := Open(context.Background(), spec, Options{OpenCVURLs: true})
		if !errors.Is(err, ErrNoOpenCV) || !strings.Contains(err.Error(), "make build-gocv") {
			t.Fatalf("Open(%q) error = %v, want ErrNoOpenCV naming the gocv build", spec, err)
		}
	}
	// A server's sources never hand OpenCV a URL.
	if _, err := Open(context.Background(), "rtsp://camera.local/stream", Options{}); !errors.Is(err, ErrURL) {
		t.Fatalf("rtsp URL without OpenCVURLs: %v", err)
	}
	if OpenCVAvailable {
		t.Fatal("OpenCVAvailable in a build without the gocv tag")
	}
}
