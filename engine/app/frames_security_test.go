package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/frames"
	"watchparty/engine/frames/source"
	"watchparty/engine/frames/wire"
)

// join makes u a member of the room.
func join(t *testing.T, u *apptest.User, code string) {
	t.Helper()
	if resp, body := u.Client.PostForm(t, "/r/"+code+"/join", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s\n%s", resp.Status, body)
	}
}

// post sends an owner's form and expects the redirect of a done action.
func post(t *testing.T, u *apptest.User, path string, vals url.Values) {
	t.Helper()
	if resp, body := u.Client.PostForm(t, path, vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %s\n%s", path, resp.Status, body)
	}
}

// startPattern starts a server-side test pattern from w and waits for it.
func startPattern(t *testing.T, w *roomSocket, size string) map[string]any {
	t.Helper()
	w.send(map[string]any{"type": "stream_start", "source": "pattern:" + size, "ref": "p"})
	m := w.next("stream", nil)
	if !active(m) {
		t.Fatalf("the pattern did not start: %v", m["stream"])
	}
	return streamOf(m)
}

// dialViewer connects a TCP viewer and waits for its first frame.
func dialViewer(t *testing.T, addr, code, tok string) *frames.Conn {
	t.Helper()
	c := openViewer(t, addr, code, tok)
	firstFrame(t, c)
	return c
}

// openViewer connects a viewer to a room's stream, running or not: once it
// returns, the viewer is subscribed.
func openViewer(t *testing.T, addr, code, tok string) *frames.Conn {
	t.Helper()
	c, err := frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: code, Token: tok})
	if err != nil {
		t.Fatalf("viewer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// firstFrame reads c up to its first frame.
func firstFrame(t *testing.T, c *frames.Conn) {
	t.Helper()
	var m wire.Message
	for m.Type != wire.TypeFrame {
		if err := c.Recv(&m); err != nil {
			t.Fatalf("viewer before its first frame: %v", err)
		}
	}
}

// closeOf reads c until the server's close message.
func closeOf(t *testing.T, c *frames.Conn) wire.CloseCode {
	t.Helper()
	var m wire.Message
	for range 10000 {
		err := c.Recv(&m)
		var ce *frames.CloseError
		if errors.As(err, &ce) {
			return ce.Close.Code
		}
		if err != nil {
			t.Fatalf("waiting for the close message: %v", err)
		}
	}
	t.Fatal("no close message")
	return 0
}

// TestKickedMemberLosesTheStream (issue 11.6): a kick closes the member's
// browser relay and TCP viewer at once, the tokens it holds are refused at
// the next handshake, and stay dead after the member is let back in.
func TestKickedMemberLosesTheStream(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := newRoom(t, ann.Client, "Kick")
	join(t, bob, code)
	wa := dialRoomSocket(t, srv, ann.Client, code)
	wa.next("hello", nil)
	startPattern(t, wa, "160x90")

	relay, err := dialSocket(srv, bob.Client, "/r/"+code+"/frames")
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	defer relay.Close()
	relay.SetReadDeadline(time.Now().Add(20 * time.Second))
	if typ, _, err := relay.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("relay before the kick: %v %v", typ, err)
	}
	viewer := dialViewer(t, addr, code, streamToken(t, bob.Client, code, "viewer")["token"].(string))
	spare := streamToken(t, bob.Client, code, "viewer")["token"].(string)

	post(t, ann, "/r/"+code+"/kick", url.Values{"user": {bob.ID}})

	// The relay closes; frames queued before the kick may come first.
	for {
		_, _, err := relay.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		// Closed by the stream (revoked) or by the room's revocation
		// (removed), whichever comes first.
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || (ce.Text != "revoked" && ce.Text != "removed") {
			t.Fatalf("relay after the kick: %v, want close 1008 revoked or removed", err)
		}
		break
	}
	if c := closeOf(t, viewer); c != wire.CloseRevoked {
		t.Fatalf("TCP viewer after the kick closed with %v, want revoked", c)
	}
	_, err = frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: code, Token: spare})
	if refusalCode(err) != wire.RefuseRevoked {
		t.Fatalf("kicked member's token: %v, want refusal %s", err, wire.RefuseRevoked)
	}
	if status, _ := postJSON(t, bob.Client, "/r/"+code+"/stream/token", url.Values{"role": {"viewer"}}); status == http.StatusOK {
		t.Fatal("a kicked member got a new token")
	}
	if _, err := dialSocket(srv, bob.Client, "/r/"+code+"/frames"); err == nil {
		t.Fatal("a kicked member opened the relay again")
	}
	// Let back in, Bob needs a new token: the old one was revoked.
	post(t, ann, "/r/"+code+"/unban", url.Values{"user": {bob.ID}})
	join(t, bob, code)
	_, err = frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: code, Token: spare})
	if refusalCode(err) != wire.RefuseRevoked {
		t.Fatalf("token from before the kick, after rejoining: %v, want refusal %s", err, wire.RefuseRevoked)
	}
	dialViewer(t, addr, code, streamToken(t, bob.Client, code, "viewer")["token"].(string))
}

// TestPasswordChangeEndsStreams (issue 11.5): a password change ends what
// the account held in every room's stream: its TCP viewer and its
// publisher close at once and its tokens are refused from then on.
func TestPasswordChangeEndsStreams(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	watch := newRoom(t, ann.Client, "Watch")
	own := newRoom(t, bob.Client, "Own")
	join(t, bob, watch)
	wa := dialRoomSocket(t, srv, ann.Client, watch)
	wa.next("hello", nil)
	startPattern(t, wa, "160x90")
	viewer := dialViewer(t, addr, watch, streamToken(t, bob.Client, watch, "viewer")["token"].(string))
	spare := streamToken(t, bob.Client, watch, "viewer")["token"].(string)

	wb := dialRoomSocket(t, srv, bob.Client, own)
	wb.next("hello", nil)
	done := make(chan error, 1)
	go func() {
		done <- frames.RunPublish(context.Background(), frames.PublishOptions{Addr: addr, Room: own,
			Token: streamToken(t, bob.Client, own, "publisher")["token"].(string), Source: "pattern:160x90",
			SourceOptions: source.Options{FPS: 10}})
	}()
	if m := wb.next("stream", nil); !active(m) {
		t.Fatalf("bob's stream: %v", m["stream"])
	}

	post(t, bob, "/account/password", url.Values{"current": {bob.Password}, "password": {"a-new-password-1"}})

	if c := closeOf(t, viewer); c != wire.CloseRevoked {
		t.Fatalf("TCP viewer after the password change closed with %v, want revoked", c)
	}
	select {
	case err := <-done:
		var ce *frames.CloseError
		if !errors.As(err, &ce) || ce.Close.Code != wire.CloseRevoked {
			t.Fatalf("publisher ended with %v, want closed revoked", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the publisher still runs 30 s after the password change")
	}
	_, err := frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: watch, Token: spare})
	if refusalCode(err) != wire.RefuseRevoked {
		t.Fatalf("a token from before the password change: %v, want refusal %s", err, wire.RefuseRevoked)
	}
	// Ann's stream runs on and she still watches it.
	dialViewer(t, addr, watch, streamToken(t, ann.Client, watch, "viewer")["token"].(string))
}

// TestDemotedPublisherStops (issue 11.6): a member who may no longer change
// the video, by a demotion or a settings change, has its publisher closed
// at once and its publisher tokens revoked.
func TestDemotedPublisherStops(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := newRoom(t, ann.Client, "Demote")
	join(t, bob, code)
	post(t, ann, "/r/"+code+"/settings", url.Values{"control": {"everyone"}, "change_video": {"moderators"}, "manage_queue": {"everyone"}})
	post(t, ann, "/r/"+code+"/role", url.Values{"user": {bob.ID}, "role": {"moderator"}})
	wa := dialRoomSocket(t, srv, ann.Client, code)
	wa.next("hello", nil)

	publish := func(tok string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- frames.RunPublish(context.Background(), frames.PublishOptions{Addr: addr, Room: code, Token: tok, Source: "pattern:160x90",
				SourceOptions: source.Options{FPS: 10}})
		}()
		if m := wa.next("stream", nil); !active(m) || streamOf(m)["by"] != bob.ID {
			t.Fatalf("bob's stream: %v", m["stream"])
		}
		return done
	}
	revoked := func(done chan error) {
		t.Helper()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the publisher still runs 30 s after losing the right")
		}
		var ce *frames.CloseError
		if !errors.As(err, &ce) || ce.Close.Code != wire.CloseRevoked {
			t.Fatalf("publisher ended with %v, want closed revoked", err)
		}
		if m := wa.next("stream", nil); active(m) {
			t.Fatalf("the stream still runs: %v", m["stream"])
		}
	}

	old := streamToken(t, bob.Client, code, "publisher")["token"].(string)
	done := publish(old)
	post(t, ann, "/r/"+code+"/role", url.Values{"user": {bob.ID}, "role": {"member"}})
	revoked(done)

	// Promoted again, Bob's old token stays dead; a new one works until
	// the owner keeps changing the video to herself.
	post(t, ann, "/r/"+code+"/role", url.Values{"user": {bob.ID}, "role": {"moderator"}})
	_, err := frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RolePublisher, Room: code, Token: old})
	if refusalCode(err) != wire.RefuseRevoked {
		t.Fatalf("publisher token from before the demotion: %v, want refusal %s", err, wire.RefuseRevoked)
	}
	done = publish(streamToken(t, bob.Client, code, "publisher")["token"].(string))
	post(t, ann, "/r/"+code+"/settings", url.Values{"control": {"everyone"}, "change_video": {"owner"}, "manage_queue": {"everyone"}})
	revoked(done)
}

// TestServerStreamLimits (issue 11.7): a test pattern is drawn within the
// pixel budget whatever size is asked; one user runs at most
// limits.streams_per_user streams; a stream nobody watches stops after
// stream.idle_timeout.
func TestServerStreamLimits(t *testing.T) {
	srv, addr := startStreamServer(t, func(c *config.Config) {
		c.Limits.StreamsPerUser = 1
		c.Stream.IdleTimeout = 300 * time.Millisecond
	})
	ann := srv.SignUp(t, "Ann")
	a := newRoom(t, ann.Client, "A")
	b := newRoom(t, ann.Client, "B")
	wa := dialRoomSocket(t, srv, ann.Client, a)
	wa.next("hello", nil)
	wb := dialRoomSocket(t, srv, ann.Client, b)
	wb.next("hello", nil)

	// Watched from its start, so it does not stop while the limit is
	// tried: a viewer who came after the start could come after the idle
	// timeout on a loaded machine.
	viewer := openViewer(t, addr, a, streamToken(t, ann.Client, a, "viewer")["token"].(string))
	wa.send(map[string]any{"type": "stream_start", "source": "pattern:1280x8192", "ref": "big"})
	m := wa.next("stream", active)
	st := streamOf(m)
	w, h := st["width"].(float64), st["height"].(float64)
	if w*h > float64(srv.Config.Stream.MaxPixels) {
		t.Fatalf("pattern:1280x8192 runs at %vx%v, over stream.max_pixels %d", w, h, srv.Config.Stream.MaxPixels)
	}
	firstFrame(t, viewer)

	wb.send(map[string]any{"type": "stream_start", "source": "pattern:64x64", "ref": "second"})
	if e := wb.next("error", nil); e["code"] != "stream_limit" || e["ref"] != "second" {
		t.Fatalf("a second stream by the same user: %v", e)
	}

	// Everyone leaves: the pattern stops by itself.
	viewer.Close()
	if m := wa.next("stream", nil); active(m) || streamOf(m)["reason"] != "idle" {
		t.Fatalf("after the last viewer left: %v", m["stream"])
	}
	// The slot is free again: the stream starts (nobody watches it, so it
	// may already have stopped as idle when the room reports it; a refused
	// start would answer stream_limit and report no stream).
	wb.send(map[string]any{"type": "stream_start", "source": "pattern:64x64", "ref": "again"})
	if m := wb.next("stream", nil); !active(m) && streamOf(m)["reason"] != "idle" {
		t.Fatalf("a stream after the first stopped: %v", m["stream"])
	}
}

// bombJPEG returns a small JPEG whose header announces w x h pixels: a
// decompression bomb.
func bombJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	for i := 2; i+8 < len(out) && out[i] == 0xFF; i += 2 + int(out[i+2])<<8 | int(out[i+3]) {
		if out[i+1] == 0xC0 {
			out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
			return out
		}
	}
	t.Fatal("no frame header")
	return nil
}

// TestJPEGBombCamera (issue 11.2): an MJPEG camera sending 20000x20000
// frames between ordinary ones costs the server no more than the ordinary
// ones; the ordinary frames reach the viewers.
func TestJPEGBombCamera(t *testing.T) {
	var good bytes.Buffer
	if err := jpeg.Encode(&good, image.NewRGBA(image.Rect(0, 0, 640, 360)), nil); err != nil {
		t.Fatal(err)
	}
	bomb := bombJPEG(t, 20000, 20000)
	cam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
		for i := range 20 {
			p := good.Bytes()
			if i%2 == 1 {
				p = bomb
			}
			fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(p))
			w.Write(p)
			io.WriteString(w, "\r\n")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // a camera at 20 fps
		}
		io.WriteString(w, "--frame--\r\n")
	}))
	defer cam.Close()
	srv, _ := startStreamServer(t, func(c *config.Config) {
		c.Stream.AllowPrivateURLs = true
		c.Stream.MaxWidth = 320 // every frame is scaled: each would be decoded
	})
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "Camera")
	wa := dialRoomSocket(t, srv, ann.Client, code)
	wa.next("hello", nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	wa.send(map[string]any{"type": "stream_start", "source": cam.URL + "/cam.mjpg", "ref": "cam"})
	if m := wa.next("stream", nil); !active(m) {
		t.Fatalf("the camera did not stream: %v", m["stream"])
	}
	if m := wa.next("stream", nil); active(m) || streamOf(m)["reason"] != "ended" {
		t.Fatalf("after the camera's last frame: %v", m["stream"])
	}
	runtime.ReadMemStats(&after)
	t.Logf("allocated %d MB for 10 frames and 10 bombs; Go heap in use %d MB", (after.TotalAlloc-before.TotalAlloc)>>20, after.HeapInuse>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 200<<20 {
		t.Fatalf("the server allocated %d MB for 10 frames and 10 bombs", alloc>>20)
	}
}
