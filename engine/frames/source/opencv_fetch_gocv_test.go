//go:build gocv

package source

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"watchparty/engine/fetch"
)

// serveVideo serves body on ip; requests from FFmpeg (User-Agent Lavf),
// when redirect is set, are sent there instead — what an attacker's server
// does to lead the server's own FFmpeg into its LAN.
func serveVideo(t *testing.T, ip string, body []byte, redirect string, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if redirect != "" && strings.Contains(r.UserAgent(), "Lavf") {
			http.Redirect(w, r, redirect, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write(body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenCVNeverFetchesURLs (issue 11.1): a URL that is not MJPEG is
// fetched by the guarded client and handed to OpenCV as bytes. The "public"
// server (127.0.0.2 here) would send FFmpeg to a LAN host (127.0.0.1); the
// LAN host sees no request, and the video plays from the fetched bytes.
func TestOpenCVNeverFetchesURLs(t *testing.T) {
	ts := makeVideo(t, "clip.ts", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts")
	body, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	var lanHits, pubHits atomic.Int64
	lan := serveVideo(t, "127.0.0.1", body, "", &lanHits)
	pub := serveVideo(t, "127.0.0.2", body, lan.URL+"/secret.ts", &pubHits)
	public := netip.MustParseAddr("127.0.0.2")
	opts := Options{Unpaced: true, MaxWidth: 320, Fetcher: fetch.New(fetch.Options{Permit: func(a netip.Addr) bool { return a == public }})}

	ctx := context.Background()
	src, err := Open(ctx, pub.URL+"/clip.ts", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		fr, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if fr.Width != 320 || fr.Height != 180 {
			t.Fatalf("frame %d is %dx%d", n, fr.Width, fr.Height)
		}
		n++
	}
	if n != 60 {
		t.Errorf("read %d frames of the fetched video, want 60", n)
	}
	if lanHits.Load() != 0 || pubHits.Load() != 1 {
		t.Errorf("LAN host got %d requests, public host %d: want 0 and the one fetch", lanHits.Load(), pubHits.Load())
	}
	// A direct LAN URL is refused before anything is fetched.
	if _, err := Open(ctx, lan.URL+"/clip.ts", opts); !errors.Is(err, fetch.ErrPrivateAddress) {
		t.Errorf("LAN URL: %v", err)
	}
	if lanHits.Load() != 0 {
		t.Errorf("LAN host reached")
	}

	// A video larger than the decode budget is refused when it opens.
	big := local
	big.MaxSourcePixels = 320 * 240 // the clip is 640x360
	if _, err := Open(ctx, lan.URL, big); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("a 640x360 video with a 320x240 budget: %v", err)
	}

	// A server that sends the start of a stream and then nothing does not
	// hold the open past its context.
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write(body[:188*4])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer silent.Close()
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if src, err := Open(sctx, silent.URL, local); err == nil {
		src.Close()
		t.Errorf("a silent server's stream opened")
	}
}
