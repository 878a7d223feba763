package frames

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"watchparty/engine/frames/source"
	"watchparty/engine/frames/token"
	"watchparty/engine/frames/wire"
)

func TestHandshakeRefusals(t *testing.T) {
	env := newTestEnv(t, HubOptions{MaxViewers: 1}, ServerOptions{HandshakeTimeout: time.Second})
	good := env.token("ROOM", wire.RoleViewer, "alice")
	hello := func(role, room, tok string) string {
		return "WPFRAMES/1 " + role + " " + room + " " + tok + "\n"
	}
	// The one viewer slot of FULL is taken.
	holder := env.dial(t, "FULL", wire.RoleViewer, "holder", 0)
	defer holder.Close()
	// BUSY has a publisher.
	pub := env.dial(t, "BUSY", wire.RolePublisher, "owner", 0)
	defer pub.Close()

	tests := []struct {
		name string
		line string
		code string
	}{
		{name: "bad token", line: hello("viewer", "ROOM", "2.AAAA.BBBB"), code: wire.RefuseBadToken},
		{name: "version 1 token", line: hello("viewer", "ROOM", "1.AAAA.BBBB"), code: wire.RefuseBadVersion},
		{name: "foreign key", line: hello("viewer", "ROOM", mustSigner(t, "another-key-of-32-bytes-length!!").Issue("ROOM", "viewer", "x", 0, time.Minute)), code: wire.RefuseBadToken},
		{name: "expired", line: hello("viewer", "ROOM", env.signer.Issue("ROOM", "viewer", "alice", 0, -time.Second)), code: wire.RefuseExpired},
		{name: "wrong room", line: hello("viewer", "OTHER", good), code: wire.RefuseWrongRoom},
		{name: "wrong role", line: hello("publisher", "ROOM", good), code: wire.RefuseWrongRole},
		{name: "bad protocol version", line: "WPFRAMES/2 viewer ROOM " + good + "\n", code: wire.RefuseBadVersion},
		{name: "bad token version", line: hello("viewer", "ROOM", "9"+good[1:]), code: wire.RefuseBadVersion},
		{name: "oversize line", line: hello("viewer", "ROOM", strings.Repeat("x", 2*wire.MaxHandshakeLine)), code: wire.RefuseLineTooLong},
		{name: "unknown role", line: hello("admin", "ROOM", good), code: wire.RefuseBadRequest},
		{name: "http", line: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", code: wire.RefuseBadRequest},
		{name: "slow client", line: "WPFRAMES/1 vie", code: wire.RefuseTimeout},
		{name: "silent client", line: "", code: wire.RefuseTimeout},
		{name: "viewer limit", line: hello("viewer", "FULL", env.token("FULL", wire.RoleViewer, "bob")), code: wire.RefuseFull},
		{name: "second publisher", line: hello("publisher", "BUSY", env.token("BUSY", wire.RolePublisher, "eve")), code: wire.RefuseBusy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply := env.rawHandshake(t, tc.line)
			if !strings.HasPrefix(reply, "ERR "+tc.code+" ") {
				t.Fatalf("reply %q, want ERR %s", reply, tc.code)
			}
		})
	}
	// Dial reports refusals as *wire.RefusedError.
	_, err := Dial(context.Background(), DialOptions{Addr: env.addr, Role: wire.RoleViewer, Room: "OTHER", Token: good})
	var refused *wire.RefusedError
	if !errors.As(err, &refused) || refused.Code != wire.RefuseWrongRoom || !errors.Is(err, wire.ErrRefused) {
		t.Fatalf("Dial with a token for another room: %v", err)
	}
	if st := env.srv.Stats(); st.Refused < uint64(len(tests)) || st.Accepted != 2 {
		t.Fatalf("server stats %+v", st)
	}
}

func mustSigner(t *testing.T, key string) *token.Signer {
	t.Helper()
	s, err := token.NewSigner([]byte(key), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConnLimit(t *testing.T) {
	lim := NewIPLimiter(2)
	env := newTestEnv(t, HubOptions{}, ServerOptions{Admit: lim.Admit})
	a := env.dial(t, "ROOM", wire.RoleViewer, "a", 0)
	b := env.dial(t, "ROOM", wire.RoleViewer, "b", 0)
	if reply := env.rawHandshake(t, "WPFRAMES/1 viewer ROOM "+env.token("ROOM", wire.RoleViewer, "c")+"\n"); !strings.HasPrefix(reply, "ERR "+wire.RefuseTooManyConns+" ") {
		t.Fatalf("third connection: %q", reply)
	}
	a.CloseWith(wire.CloseNormal, "bye")
	b.CloseWith(wire.CloseNormal, "bye")
	// The slots come back once the server has seen both leave.
	for i := 0; ; i++ {
		if env.srv.Stats().Open == 0 {
			break
		}
		if i == 1000 {
			t.Fatal("connections still open after the clients left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := env.dial(t, "ROOM", wire.RoleViewer, "c", 0)
	c.Close()
}

func TestPublisherFrameLimits(t *testing.T) {
	env := newTestEnv(t, HubOptions{MaxPayload: 1024}, ServerOptions{})
	tests := []struct {
		name string
		msg  []byte
		code wire.CloseCode
	}{
		{name: "oversize frame", msg: binary.BigEndian.AppendUint32(nil, 1+wire.FrameHeaderSize+1025), code: wire.CloseTooLarge},
		{name: "zero width", msg: func() []byte {
			b, _ := wire.AppendFrame(nil, &wire.Frame{Seq: 1, Width: 4, Height: 4, Codec: wire.CodecJPEG}, 0)
			binary.BigEndian.PutUint16(b[21:], 0)
			return b
		}(), code: wire.CloseBadFrame},
		{name: "unknown type", msg: []byte{0, 0, 0, 1, 77}, code: wire.CloseProtocol},
		{name: "empty message", msg: []byte{0, 0, 0, 0}, code: wire.CloseProtocol},
		// Every viewer decodes what is published (issue 11.2).
		{name: "jpeg bomb", msg: jpegFrame(t, patchSOF(patternJPEG(t, 16, 16, 0), 20000, 20000), 20000, 20000), code: wire.CloseBadFrame},
		{name: "size differs from the jpeg", msg: jpegFrame(t, patternJPEG(t, 16, 16, 0), 16, 4000), code: wire.CloseBadFrame},
		{name: "not a jpeg", msg: jpegFrame(t, []byte("hello, not a picture"), 16, 16), code: wire.CloseBadFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			room := strings.ReplaceAll(tc.name, " ", "-")
			viewer := env.dial(t, room, wire.RoleViewer, "v", 0)
			defer viewer.Close()
			pub := env.dial(t, room, wire.RolePublisher, "p", 0)
			defer pub.Close()
			if _, err := pub.NetConn().Write(tc.msg); err != nil {
				t.Fatal(err)
			}
			if cl := recvClose(t, pub); cl.Code != tc.code {
				t.Fatalf("publisher closed with %v (%q), want %v", cl.Code, cl.Text, tc.code)
			}
			// The bad publisher harms nobody else: its viewer is told the stream ended.
			if cl := recvClose(t, viewer); cl.Code != wire.CloseEnded {
				t.Fatalf("viewer closed with %v, want ended", cl.Code)
			}
		})
	}
	t.Run("viewer sends a frame", func(t *testing.T) {
		viewer := env.dial(t, "VF", wire.RoleViewer, "v", 0)
		defer viewer.Close()
		f := wire.Frame{Seq: 1, Width: 1, Height: 1, Codec: wire.CodecJPEG}
		if err := viewer.SendFrame(&f); err != nil {
			t.Fatal(err)
		}
		if cl := recvClose(t, viewer); cl.Code != wire.CloseProtocol {
			t.Fatalf("viewer closed with %v, want protocol error", cl.Code)
		}
	})
}

func TestGracefulStop(t *testing.T) {
	signer := mustSigner(t, string(testKey))
	hub := NewHub(HubOptions{})
	defer hub.Close()
	access, err := NewAccess(AccessOptions{Tokens: signer, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerOptions{Hub: hub, Gate: access})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	dial := func(role wire.Role) *Conn {
		c, err := Dial(context.Background(), DialOptions{Addr: ln.Addr().String(), Role: role, Room: "R", Token: signer.Issue("R", string(role), "s", 0, time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	v, p := dial(wire.RoleViewer), dial(wire.RolePublisher)
	defer v.Close()
	defer p.Close()
	// A client that connected but never sent its handshake.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after stop: %v", err)
	}
	if cl := recvClose(t, v); cl.Code != wire.CloseShutdown && cl.Code != wire.CloseEnded {
		t.Fatalf("viewer told %v", cl.Code)
	}
	if cl := recvClose(t, p); cl.Code != wire.CloseShutdown {
		t.Fatalf("publisher told %v", cl.Code)
	}
	if srv.Stats().Open != 0 {
		t.Fatalf("%d connections open after Serve returned", srv.Stats().Open)
	}
}

// TestStalledViewer: one viewer never reads (tiny socket buffers) while four
// healthy viewers read. The healthy ones get every frame in order, the
// publisher never waits, and the stalled one loses frames or is dropped.
func TestStalledViewer(t *testing.T) {
	const (
		healthy = 4
		frames  = 64
		size    = 256 << 10
	)
	// The stalled viewer loses frames once four are published within the
	// stall timeout: a short one could kick it first on a loaded machine,
	// where each frame waits for four healthy viewers to read 256 KiB.
	env := newTestEnv(t, HubOptions{StallTimeout: 5 * time.Second}, ServerOptions{})
	stalled := env.dial(t, "ROOM", wire.RoleViewer, "stalled", 4<<10)
	defer stalled.Close()
	// The healthy viewers send heartbeats as a real one does: the test may
	// outlast the server's read timeout.
	alive, stop := context.WithCancel(context.Background())
	defer stop()
	var viewers []*Conn
	for i := range healthy {
		c := env.dial(t, "ROOM", wire.RoleViewer, "healthy-"+string(rune('a'+i)), 0)
		defer c.Close()
		go func() { _ = c.KeepAlive(alive) }()
		viewers = append(viewers, c)
	}
	if n := env.hub.State("ROOM").Viewers; n != healthy+1 {
		t.Fatalf("%d viewers subscribed, want %d", n, healthy+1)
	}
	pub, err := env.hub.Start("ROOM", SourceInfo{Description: "test", FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{0xAB}, size)
	for i := range frames {
		payload[0] = byte(i)
		if err := pub.Publish(Frame{Width: 640, Height: 360, Payload: payload}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		for k, c := range viewers {
			f := recvFrame(t, c)
			if f.Seq != uint64(i+1) || len(f.Payload) != size || f.Payload[0] != byte(i) {
				t.Fatalf("viewer %d: frame %d has seq %d, %d bytes", k, i, f.Seq, len(f.Payload))
			}
		}
	}
	st := env.hub.Stats()
	if st.FramesPublished != frames || st.FramesEncoded != frames {
		t.Fatalf("published %d, encoded %d, want %d each", st.FramesPublished, st.FramesEncoded, frames)
	}
	var stalledSeen bool
	for _, vs := range env.hub.Viewers("ROOM") {
		if strings.HasPrefix(vs.Name, "healthy") && vs.Dropped != 0 {
			t.Fatalf("healthy viewer %s dropped %d frames", vs.Name, vs.Dropped)
		}
		if strings.HasPrefix(vs.Name, "stalled") {
			stalledSeen = true
			if vs.Dropped == 0 {
				t.Fatalf("stalled viewer dropped nothing: %+v", vs)
			}
		}
	}
	if stalledSeen == (st.ViewersStalled > 0) {
		t.Fatalf("stalled viewer present %v, stalled count %d: want exactly one of them", stalledSeen, st.ViewersStalled)
	}
	if st.FramesDropped == 0 {
		t.Fatal("no frame was dropped for the stalled viewer")
	}
	pub.Stop()
	for _, c := range viewers {
		if cl := recvClose(t, c); cl.Code != wire.CloseEnded {
			t.Fatalf("healthy viewer closed with %v", cl.Code)
		}
	}
}

// TestEndToEnd: an MJPEG file is published through the server to two TCP
// viewers, which see increasing sequence numbers up to the last frame.
func TestEndToEnd(t *testing.T) {
	const n = 40
	var file bytes.Buffer
	for i := range n {
		file.Write(patternJPEG(t, 320, 180, uint64(i)))
	}
	path := filepath.Join(t.TempDir(), "clip.mjpeg")
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var events []Event
	var evMu sync.Mutex
	env := newTestEnv(t, HubOptions{OnEvent: func(e Event) {
		evMu.Lock()
		events = append(events, e)
		evMu.Unlock()
	}}, ServerOptions{})

	type result struct {
		seqs []uint64
		st   ViewStats
		err  error
		out  string
	}
	results := make([]result, 2)
	dir := filepath.Join(t.TempDir(), "frames")
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			r := &results[i]
			opts := ViewOptions{Addr: env.addr, Room: "E2E", Token: env.token("E2E", wire.RoleViewer, "viewer"), Out: &out,
				OnFrame: func(f *wire.Frame) error { r.seqs = append(r.seqs, f.Seq); return nil }}
			if i == 0 {
				opts.Dir = dir
			}
			r.st, r.err = View(context.Background(), opts)
			r.out = out.String()
		}()
	}
	for i := 0; env.hub.State("E2E").Viewers < 2; i++ {
		if i == 2000 {
			t.Fatal("viewers did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var pubOut bytes.Buffer
	err := RunPublish(context.Background(), PublishOptions{Addr: env.addr, Room: "E2E", Token: env.token("E2E", wire.RolePublisher, "pub"),
		Source: path, SourceOptions: source.Options{FPS: 200}, Out: &pubOut})
	if err != nil {
		t.Fatalf("RunPublish: %v", err)
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("viewer %d: %v", i, r.err)
		}
		if len(r.seqs) == 0 || r.seqs[len(r.seqs)-1] != n {
			t.Fatalf("viewer %d: got %d frames ending at %v", i, len(r.seqs), r.seqs)
		}
		for k := 1; k < len(r.seqs); k++ {
			if r.seqs[k] <= r.seqs[k-1] {
				t.Fatalf("viewer %d: sequence %d after %d", i, r.seqs[k], r.seqs[k-1])
			}
		}
		if r.st.Frames+r.st.Missed+r.seqs[0]-1 != n || r.st.Frames != uint64(len(r.seqs)) || r.st.Width != 320 {
			t.Fatalf("viewer %d: stats %+v", i, r.st)
		}
		if !strings.Contains(r.out, "view: done:") {
			t.Fatalf("viewer %d printed %q", i, r.out)
		}
	}
	written, err := filepath.Glob(filepath.Join(dir, "frame-*.jpg"))
	if err != nil || len(written) != len(results[0].seqs) {
		t.Fatalf("%d frames written to %s, %d received (%v)", len(written), dir, len(results[0].seqs), err)
	}
	if st := env.hub.Stats(); st.FramesEncoded != n {
		t.Fatalf("hub encoded %d frames, want %d", st.FramesEncoded, n)
	}
	evMu.Lock()
	defer evMu.Unlock()
	if len(events) != 2 || events[0].Kind != EventStarted || events[1].Kind != EventStopped || events[1].State.Frames != n {
		t.Fatalf("events %+v", events)
	}
}

func TestHeartbeats(t *testing.T) {
	// The read timeout leaves room for a busy machine: a heartbeat every
	// 50 ms, silence for 2 s closes.
	env := newTestEnv(t, HubOptions{}, ServerOptions{HeartbeatInterval: 50 * time.Millisecond, ReadTimeout: 2 * time.Second})
	// A viewer that keeps sending heartbeats stays; the server's heartbeats arrive.
	alive := env.dial(t, "HB", wire.RoleViewer, "alive", 0)
	defer alive.Close()
	ctx, cancel := context.WithCancel(context.Background())
	kept := make(chan error, 1)
	go func() { kept <- alive.KeepAlive(ctx) }()
	var m wire.Message
	for i := range 20 {
		if err := alive.Recv(&m); err != nil || m.Type != wire.TypeHeartbeat {
			t.Fatalf("message %d: type %d, %v", i, m.Type, err)
		}
	}
	cancel()
	if err := <-kept; err != nil {
		t.Fatalf("KeepAlive: %v", err)
	}
	// A viewer that never sends anything is closed with a timeout.
	silent := env.dial(t, "HB", wire.RoleViewer, "silent", 0)
	defer silent.Close()
	if cl := recvClose(t, silent); cl.Code != wire.CloseTimeout {
		t.Fatalf("silent viewer closed with %v", cl.Code)
	}
}

func TestViewerLongCloseMessage(t *testing.T) {
	env := newTestEnv(t, HubOptions{}, ServerOptions{})
	v := env.dial(t, "ROOM", wire.RoleViewer, "v", 0)
	if env.hub.State("ROOM").Viewers != 1 {
		t.Fatal("viewer not subscribed")
	}
	// The largest close message is a polite goodbye, not a protocol error.
	if _, err := v.NetConn().Write(wire.AppendClose(nil, wire.CloseNormal, strings.Repeat("z", wire.MaxCloseText))); err != nil {
		t.Fatal(err)
	}
	cl := recvClose(t, v)
	v.Close()
	if cl.Code != wire.CloseNormal {
		t.Fatalf("server answered a close with %v (%q)", cl.Code, cl.Text)
	}
}
