package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/config"
	"watchparty/engine/app"
	"watchparty/engine/apptest"
	"watchparty/engine/frames"
	"watchparty/engine/frames/wire"
)

// startStreamServer starts a server whose frame listener is on a free
// loopback port and returns it with that port's address.
func startStreamServer(t *testing.T, mutate func(*config.Config)) (*apptest.Server, string) {
	t.Helper()
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.Stream.Listen = "127.0.0.1:0"
		if mutate != nil {
			mutate(c)
		}
	})
	select {
	case a := <-srv.App.StreamAddr():
		return srv, a.String()
	case <-srv.Done():
		t.Fatal("the server stopped before its frame listener opened")
	case <-time.After(30 * time.Second):
		t.Fatal("no frame listener within 30s")
	}
	return nil, ""
}

var roomInPath = regexp.MustCompile(`/r/([A-Z0-9]{10})$`)

// newRoom creates a room as c and returns its code.
func newRoom(t testing.TB, c *apptest.Client, name string) string {
	t.Helper()
	resp, body := c.PostForm(t, "/rooms", url.Values{"name": {name}})
	m := roomInPath.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("create room: %s %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	return m[1]
}

// postJSON posts a form with the CSRF header and decodes the JSON answer.
func postJSON(t testing.TB, c *apptest.Client, path string, vals url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.CSRF(t))
	resp, body := c.Do(t, req)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("POST %s: %s, not JSON: %q", path, resp.Status, body)
	}
	return resp.StatusCode, out
}

// streamToken asks the room for a frame token.
func streamToken(t *testing.T, c *apptest.Client, code, role string) map[string]any {
	t.Helper()
	status, out := postJSON(t, c, "/r/"+code+"/stream/token", url.Values{"role": {role}})
	if status != http.StatusOK {
		t.Fatalf("%s token for %s: %d %v", role, code, status, out)
	}
	return out
}

// roomSocket is a member's room websocket.
type roomSocket struct {
	t    *testing.T
	conn *websocket.Conn
	buf  []map[string]any // messages of a frame not read yet: frames batch several
}

func dialRoomSocket(t *testing.T, srv *apptest.Server, c *apptest.Client, code string) *roomSocket {
	t.Helper()
	conn, err := dialSocket(srv, c, "/r/"+code+"/ws")
	if err != nil {
		t.Fatalf("room websocket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &roomSocket{t: t, conn: conn}
}

// dialSocket opens one of the server's websockets as c, from the server's
// own origin.
func dialSocket(srv *apptest.Server, c *apptest.Client, path string) (*websocket.Conn, error) {
	u, _ := url.Parse(srv.URL + "/")
	var parts []string
	for _, ck := range c.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	h := http.Header{"Origin": {srv.URL}, "Cookie": {strings.Join(parts, "; ")}}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+srv.Addr+path, h)
	if err != nil && resp != nil {
		err = fmt.Errorf("%w (%s)", err, resp.Status)
	}
	return conn, err
}

func (r *roomSocket) send(m map[string]any) {
	r.t.Helper()
	b, _ := json.Marshal(m)
	if err := r.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		r.t.Fatalf("send %s: %v", b, err)
	}
}

// next returns the next message of type typ that match accepts (nil: any),
// skipping others.
func (r *roomSocket) next(typ string, match func(map[string]any) bool) map[string]any {
	r.t.Helper()
	for range 2000 {
		if len(r.buf) == 0 {
			_ = r.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, data, err := r.conn.ReadMessage()
			if err != nil {
				r.t.Fatalf("waiting for %s: %v", typ, err)
			}
			for _, part := range strings.Split(string(data), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(part), &m); err != nil {
					r.t.Fatalf("bad message %q: %v", part, err)
				}
				r.buf = append(r.buf, m)
			}
		}
		m := r.buf[0]
		r.buf = r.buf[1:]
		if m["type"] == typ && (match == nil || match(m)) {
			return m
		}
	}
	r.t.Fatalf("no %s message", typ)
	return nil
}

func streamOf(m map[string]any) map[string]any {
	s, _ := m["stream"].(map[string]any)
	return s
}

func active(m map[string]any) bool { return streamOf(m)["active"] == true }

// refusalCode returns the ERR code of a refused handshake, or "".
func refusalCode(err error) string {
	var re *wire.RefusedError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// TestFramesPublisherToTCPViewer runs publisher -> server -> viewer through
// the whole app, with tokens the room hands out.
func TestFramesPublisherToTCPViewer(t *testing.T) {
	srv, addr := startStreamServer(t, func(c *config.Config) { c.Metrics.Enabled = true })
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "Frames")
	other := newRoom(t, ann.Client, "Other")

	pubTok := streamToken(t, ann.Client, code, "publisher")
	if pubTok["addr"] != addr {
		t.Errorf("token answer names the frame server %v, want %s", pubTok["addr"], addr)
	}
	if cmd, _ := pubTok["command"].(string); !strings.Contains(cmd, "watchparty publish --server "+addr+" --room "+code+" --token ") {
		t.Errorf("publisher command line %q", cmd)
	}
	viewTok := streamToken(t, ann.Client, code, "viewer")["token"].(string)
	otherTok := streamToken(t, ann.Client, other, "viewer")["token"].(string)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- frames.RunPublish(ctx, frames.PublishOptions{Addr: addr, Room: code, Token: pubTok["token"].(string), Source: "pattern:320x240"})
	}()

	var seqs []uint64
	st, err := frames.View(ctx, frames.ViewOptions{Addr: addr, Room: code, Token: viewTok, MaxFrames: 30,
		OnFrame: func(f *wire.Frame) error {
			if f.Width != 320 || f.Height != 240 || f.Codec != wire.CodecJPEG {
				return fmt.Errorf("frame %d is %dx%d codec %d", f.Seq, f.Width, f.Height, f.Codec)
			}
			seqs = append(seqs, f.Seq)
			return nil
		}})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	if st.Frames != 30 || len(seqs) != 30 {
		t.Fatalf("viewer got %d frames, want 30", st.Frames)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("sequence numbers do not increase: %v", seqs)
		}
	}

	// A token for another room, or for the other role, is refused.
	_, err = frames.Dial(ctx, frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: code, Token: otherTok})
	if refusalCode(err) != wire.RefuseWrongRoom {
		t.Errorf("viewer token of another room: %v, want refusal %s", err, wire.RefuseWrongRoom)
	}
	_, err = frames.Dial(ctx, frames.DialOptions{Addr: addr, Role: wire.RolePublisher, Room: code, Token: viewTok})
	if refusalCode(err) != wire.RefuseWrongRole {
		t.Errorf("viewer token used to publish: %v, want refusal %s", err, wire.RefuseWrongRole)
	}
	// The room already has a publisher.
	_, err = frames.Dial(ctx, frames.DialOptions{Addr: addr, Role: wire.RolePublisher, Room: code, Token: pubTok["token"].(string)})
	if refusalCode(err) != wire.RefuseBusy {
		t.Errorf("second publisher: %v, want refusal %s", err, wire.RefuseBusy)
	}

	// The hub's counters reach /metrics (copied every second).
	encoded := 0.0
	for range 200 {
		_, body := ann.Client.Get(t, "/metrics")
		encoded = metricValue(body, "watchparty_frames_encoded_total")
		if encoded >= 30 && metricValue(body, "watchparty_frames_sent_total") >= 30 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if encoded < 30 {
		t.Errorf("watchparty_frames_encoded_total is %v after 30 frames were sent", encoded)
	}

	cancel()
	if err := <-pubDone; err != nil {
		t.Errorf("publisher: %v", err)
	}
}

func metricValue(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return -1
}

// TestRoomStreamMessages starts and stops a server-side stream over the room
// websocket, with members who may and may not.
func TestRoomStreamMessages(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := newRoom(t, ann.Client, "Stream room")
	if resp, body := bob.Client.PostForm(t, "/r/"+code+"/join", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s\n%s", resp.Status, body)
	}
	// Only the owner may change the video here.
	if resp, body := ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"control": {"everyone"}, "change_video": {"owner"}, "manage_queue": {"everyone"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s\n%s", resp.Status, body)
	}
	wa := dialRoomSocket(t, srv, ann.Client, code)
	wb := dialRoomSocket(t, srv, bob.Client, code)
	for _, w := range []*roomSocket{wa, wb} {
		if h := w.next("hello", nil); streamOf(h) == nil || active(h) {
			t.Fatalf("hello stream field: %v", h["stream"])
		}
	}

	// Bob may not start one, nor get a publisher token.
	wb.send(map[string]any{"type": "stream_start", "source": "pattern:320x180", "ref": "s1"})
	if e := wb.next("error", nil); e["code"] != "forbidden" || e["ref"] != "s1" {
		t.Errorf("stream_start by a member without the role: %v", e)
	}
	if status, _ := postJSON(t, bob.Client, "/r/"+code+"/stream/token", url.Values{"role": {"publisher"}}); status != http.StatusForbidden {
		t.Errorf("publisher token for a member without the role: status %d", status)
	}

	// Sources a member may not name.
	for i, src := range []string{"/etc/passwd", "media:../secret.mp4", "camera:0", "file:///etc/passwd", "pattern:0x0"} {
		ref := "bad" + strconv.Itoa(i)
		wa.send(map[string]any{"type": "stream_start", "source": src, "ref": ref})
		if e := wa.next("error", func(m map[string]any) bool { return m["ref"] == ref }); e["code"] != "bad_source" {
			t.Errorf("source %q: %v", src, e)
		}
	}

	wa.send(map[string]any{"type": "stream_start", "source": "pattern:320x180", "ref": "s2"})
	for _, w := range []*roomSocket{wa, wb} {
		m := w.next("stream", nil)
		s := streamOf(m)
		if !active(m) || s["source"] != "test pattern 320x180" || s["publisher"] != "Ann" || s["by"] != ann.ID ||
			s["width"] != 320.0 || s["height"] != 180.0 {
			t.Errorf("stream started: %v", s)
		}
	}
	// A second start is refused; a late joiner's hello shows the stream.
	wa.send(map[string]any{"type": "stream_start", "source": "pattern:320x180", "ref": "s3"})
	if e := wa.next("error", nil); e["code"] != "stream_busy" {
		t.Errorf("second stream_start: %v", e)
	}
	wb2 := dialRoomSocket(t, srv, bob.Client, code)
	if h := wb2.next("hello", nil); !active(h) || streamOf(h)["publisher"] != "Ann" {
		t.Errorf("hello during a stream: %v", h["stream"])
	}

	// Frames really flow: a TCP viewer with a token from the room.
	tok := streamToken(t, bob.Client, code, "viewer")["token"].(string)
	st, err := frames.View(context.Background(), frames.ViewOptions{Addr: addr, Room: code, Token: tok, MaxFrames: 5})
	if err != nil || st.Frames != 5 || st.Width != 320 {
		t.Errorf("viewer of the room's stream: %+v %v", st, err)
	}

	// Bob did not start it and is no moderator.
	wb.send(map[string]any{"type": "stream_stop", "ref": "s4"})
	if e := wb.next("error", nil); e["code"] != "forbidden" {
		t.Errorf("stream_stop by another member: %v", e)
	}
	wa.send(map[string]any{"type": "stream_stop", "ref": "s5"})
	for _, w := range []*roomSocket{wa, wb, wb2} {
		m := w.next("stream", nil)
		if active(m) || streamOf(m)["reason"] != "stopped" {
			t.Errorf("stream stopped: %v", m["stream"])
		}
	}
	wa.send(map[string]any{"type": "stream_stop", "ref": "s6"})
	if e := wa.next("error", nil); e["code"] != "no_stream" {
		t.Errorf("stream_stop without a stream: %v", e)
	}
}

// TestCLIPublishAndView runs `watchparty view` and `watchparty publish`
// in-process against a running server.
func TestCLIPublishAndView(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "CLI")
	dir := t.TempDir()
	clip := filepath.Join(dir, "out.mjpeg")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-frames:v", "30", "-f", "mjpeg", "-y", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	pubTok := streamToken(t, ann.Client, code, "publisher")["token"].(string)
	viewTok := streamToken(t, ann.Client, code, "viewer")["token"].(string)
	c := newCLI(t, t.TempDir())

	c.fails(1, "--token is required", "view", "--server", addr, "--room", code)
	c.fails(1, "name one SOURCE", "publish", "--server", addr, "--room", code, "--token", pubTok)

	outDir := filepath.Join(dir, "frames")
	type result struct {
		code        int
		out, errOut string
	}
	viewDone := make(chan result, 1)
	go func() {
		var so, se bytes.Buffer
		n := app.Run(app.Env{Args: []string{"view", "--server", addr, "--room", strings.ToLower(code[:5] + "-" + code[5:]), "--token", viewTok,
			"--out", outDir, "--frames", "10"}, Stdout: &so, Stderr: &se})
		viewDone <- result{n, so.String(), se.String()}
	}()
	// The viewer may connect before or after the publisher: either way it
	// gets the stream. The file loops until the room's owner stops it.
	pubDone := make(chan result, 1)
	go func() {
		var so, se bytes.Buffer
		n := app.Run(app.Env{Args: []string{"publish", "--server", addr, "--room", code, "--fps", "30", "--loop", clip},
			Environ: []string{"WATCHPARTY_STREAM_TOKEN=" + pubTok}, Stdout: &so, Stderr: &se})
		pubDone <- result{n, so.String(), se.String()}
	}()

	var v result
	select {
	case v = <-viewDone:
	case <-time.After(60 * time.Second):
		t.Fatal("watchparty view did not finish")
	}
	if v.code != 0 || !strings.Contains(v.out, "view: done: 10 frames") {
		t.Fatalf("view: exit %d\n%s\n%s", v.code, v.out, v.errOut)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "frame-*.jpg"))
	if len(files) != 10 {
		t.Fatalf("view wrote %d JPEGs, want 10", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != 320 || cfg.Height != 240 {
			t.Errorf("%s: %v %dx%d", filepath.Base(f), err, cfg.Width, cfg.Height)
		}
	}

	// The owner stops the remote publisher from the room; publish ends cleanly.
	w := dialRoomSocket(t, srv, ann.Client, code)
	if h := w.next("hello", nil); !active(h) || !strings.HasPrefix(streamOf(h)["source"].(string), "remote publisher") {
		t.Fatalf("hello while publishing: %v", h["stream"])
	}
	w.send(map[string]any{"type": "stream_stop"})
	w.next("stream", func(m map[string]any) bool { return !active(m) })
	select {
	case p := <-pubDone:
		if p.code != 0 {
			t.Errorf("publish: exit %d\n%s\n%s", p.code, p.out, p.errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watchparty publish did not end after the stream was stopped")
	}
}

// TestDeletingRoomStopsItsStream: a deleted room's stream ends, so its
// viewers are let go instead of watching a room nobody can join.
func TestDeletingRoomStopsItsStream(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "Short-lived")
	wa := dialRoomSocket(t, srv, ann.Client, code)
	wa.next("hello", nil)
	wa.send(map[string]any{"type": "stream_start", "source": "pattern:160x90", "ref": "s"})
	if m := wa.next("stream", nil); !active(m) {
		t.Fatalf("stream did not start: %v", m["stream"])
	}
	tok := streamToken(t, ann.Client, code, "viewer")["token"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		st  frames.ViewStats
		err error
	}
	done := make(chan result, 1)
	first := make(chan struct{})
	var once sync.Once
	go func() {
		st, err := frames.View(ctx, frames.ViewOptions{Addr: addr, Room: code, Token: tok, MaxFrames: 1 << 30,
			OnFrame: func(*wire.Frame) error { once.Do(func() { close(first) }); return nil }})
		done <- result{st, err}
	}()
	select {
	case <-first:
	case r := <-done:
		t.Fatalf("the viewer ended before its first frame: %+v %v", r.st, r.err)
	}
	if resp, body := ann.Client.PostForm(t, "/r/"+code+"/delete", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s\n%s", resp.Status, body)
	}
	r := <-done
	if ctx.Err() != nil {
		t.Fatalf("the viewer was still watching the deleted room's stream after 30 s: %+v", r.st)
	}
	if r.st.Frames == 0 {
		t.Errorf("the viewer's stats count no frame: %+v %v", r.st, r.err)
	}
	// Its tokens admit nobody any more.
	_, err := frames.Dial(context.Background(), frames.DialOptions{Addr: addr, Role: wire.RoleViewer, Room: code, Token: tok})
	if refusalCode(err) != wire.RefuseForbidden {
		t.Errorf("a token of the deleted room: %v, want refusal %s", err, wire.RefuseForbidden)
	}
}
