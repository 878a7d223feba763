package app_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"watchparty/config"
)

// mjpegServer serves a short multipart MJPEG stream on loopback, as an IP
// camera would.
func mjpegServer(t *testing.T) *httptest.Server {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
		for i := 0; i < 300; i++ {
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", jb.Len())
			if _, err := w.Write(jb.Bytes()); err != nil {
				return
			}
			fmt.Fprint(w, "\r\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestStreamURLOnPrivateAddressRefused: by default a member cannot make the
// server fetch from its own network; with stream.allow_private_urls the same
// camera streams.
func TestStreamURLOnPrivateAddressRefused(t *testing.T) {
	cam := mjpegServer(t)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_private_urls=%v", allow), func(t *testing.T) {
			srv, _ := startStreamServer(t, func(c *config.Config) { c.Stream.AllowPrivateURLs = allow })
			ann := srv.SignUp(t, "Ann")
			code := newRoom(t, ann.Client, "Cameras")
			wa := dialRoomSocket(t, srv, ann.Client, code)
			wa.next("hello", nil)
			wa.send(map[string]any{"type": "stream_start", "source": cam.URL + "/cam.mjpg", "ref": "cam"})
			if !allow {
				e := wa.next("error", nil)
				if e["code"] != "bad_source" || !strings.Contains(fmt.Sprint(e["text"]), "stream.allow_private_urls") {
					t.Fatalf("a loopback camera URL was not refused clearly: %v", e)
				}
				return
			}
			m := wa.next("stream", nil)
			if !active(m) || !strings.HasPrefix(fmt.Sprint(streamOf(m)["source"]), "URL "+cam.URL) {
				t.Fatalf("the allowed camera did not stream: %v", m["stream"])
			}
		})
	}
}
