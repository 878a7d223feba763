//go:build gocv

package app_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"watchparty/config"
	"watchparty/engine/frames"
	"watchparty/engine/frames/wire"
)

// TestRoomStreamFromMediaMP4 streams an H.264 file from the media folder
// through the OpenCV source to a TCP viewer, until the file ends.
func TestRoomStreamFromMediaMP4(t *testing.T) {
	media := t.TempDir()
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-frames:v", "60", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", filepath.Join(media, "clip.mp4")).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	srv, addr := startStreamServer(t, func(c *config.Config) { c.Media.Dir = media })
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "OpenCV")
	w := dialRoomSocket(t, srv, ann.Client, code)
	w.next("hello", nil)

	w.send(map[string]any{"type": "stream_start", "source": "media:clip.mp4", "ref": "s1"})
	m := w.next("stream", nil)
	if s := streamOf(m); !active(m) || s["source"] != "media clip.mp4" || s["fps"] != 30.0 {
		t.Fatalf("stream started: %v", s)
	}
	tok := streamToken(t, ann.Client, code, "viewer")["token"].(string)
	var last uint64
	st, err := frames.View(context.Background(), frames.ViewOptions{Addr: addr, Room: code, Token: tok,
		OnFrame: func(f *wire.Frame) error {
			if f.Width != 320 || f.Height != 240 || f.Seq <= last {
				t.Errorf("frame %d after %d: %dx%d", f.Seq, last, f.Width, f.Height)
			}
			last = f.Seq
			return nil
		}})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	// The viewer joined after the start; it sees the rest of the 60 frames.
	if st.Frames < 20 || st.LastSeq != 60 {
		t.Errorf("viewer got %d frames, last sequence %d; want the file's end at 60", st.Frames, st.LastSeq)
	}
	if m := w.next("stream", nil); active(m) || streamOf(m)["reason"] != "ended" {
		t.Errorf("after the file ended: %v", m["stream"])
	}
}
