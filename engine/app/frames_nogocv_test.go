//go:build !gocv

package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"watchparty/config"
)

// TestRoomStreamNeedsOpenCV: a build without OpenCV says which build can
// stream a video file or a camera.
func TestRoomStreamNeedsOpenCV(t *testing.T) {
	media := t.TempDir()
	if err := os.WriteFile(filepath.Join(media, "clip.mp4"), []byte("not really a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _ := startStreamServer(t, func(c *config.Config) { c.Media.Dir = media; c.Stream.AllowCamera = true })
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "No OpenCV")
	w := dialRoomSocket(t, srv, ann.Client, code)
	w.next("hello", nil)
	for _, src := range []string{"media:clip.mp4", "camera:0"} {
		w.send(map[string]any{"type": "stream_start", "source": src, "ref": src})
		e := w.next("error", func(m map[string]any) bool { return m["ref"] == src })
		if e["code"] != "bad_source" || !strings.Contains(e["text"].(string), "-tags gocv") {
			t.Errorf("%s: %v", src, e)
		}
	}
}
