package ws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"

	"watchparty/engine/room"
	"watchparty/engine/room/proto"
	"watchparty/engine/room/roomtest"
	"watchparty/engine/room/ws"
	"watchparty/engine/store"
)

// The websocket transport's tests: what the room's own tests (through an
// in-memory transport) cannot show, over real websockets on loopback.

var (
	ann = room.User{ID: "u-ann", Name: "Ann"}
	bob = room.User{ID: "u-bob", Name: "Bob"}
	cat = room.User{ID: "u-cat", Name: "Cat"}
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, quietLog(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testLink(raw string) (room.Video, error) {
	if strings.HasSuffix(raw, ".webm") || strings.HasSuffix(raw, ".mp4") {
		return room.Video{Kind: "file", URL: raw}, nil
	}
	return room.Video{}, errors.New("paste a direct .mp4/.webm URL")
}

// newService opens a room service on a real store in a temporary directory.
func newService(t *testing.T, o room.Options) (*room.Service, *store.Store) {
	t.Helper()
	st := openStore(t, t.TempDir())
	o.Repo, o.Log, o.ParseLink = room.NewBadger(st), quietLog(), testLink
	svc := room.New(o)
	t.Cleanup(func() {
		svc.Close()
		st.Close()
	})
	return svc, st
}

// serveRooms runs a Fiber server on loopback whose websocket endpoint
// trusts a user id in the query string: the session and origin checks are
// the web package's, tested there.
func serveRooms(t *testing.T, svc *room.Service) string {
	t.Helper()
	base, _ := serveRoomsWith(t, svc, ws.Options{})
	return base
}

func serveRoomsWith(t *testing.T, svc *room.Service, o ws.Options) (string, *ws.Endpoint) {
	t.Helper()
	o.Log = quietLog()
	ep := ws.New(svc, o)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	mount(app, ep)
	return listen(t, svc, app), ep
}

// listen serves app on loopback until the test ends, when it closes svc
// and then app, and returns the websocket address it serves at.
func listen(t *testing.T, svc *room.Service, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		svc.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	})
	return "ws://" + ln.Addr().String()
}

// mount serves ep at /ws/CODE?user=ID&name=NAME.
func mount(app *fiber.App, ep *ws.Endpoint) {
	app.Server().KeepHijackedConns = true
	app.Get("/ws/:code", func(c *fiber.Ctx) error {
		// Copies: fiber's strings point into buffers it reuses.
		u := room.User{ID: strings.Clone(c.Query("user")), Name: strings.Clone(c.Query("name"))}
		code := strings.Clone(c.Params("code"))
		return ep.Upgrade(c.Context(), code, u, nil)
	})
}

// wsClient is a test member.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	in   roomtest.Inbox
}

func dial(t *testing.T, base, code string, u room.User) *wsClient {
	t.Helper()
	c, err := tryDial(base, code, u, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", u.ID, err)
	}
	c.t = t
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func tryDial(base, code string, u room.User, d *websocket.Dialer) (*wsClient, error) {
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	q := url.Values{"user": {u.ID}, "name": {u.Name}}
	conn, _, err := d.Dial(base+"/ws/"+code+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	return newClient(conn), nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// newClient reads the room's messages from conn.
func newClient(conn *websocket.Conn) *wsClient {
	c := &wsClient{conn: conn}
	c.in.Frame = func() ([]byte, error) {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := conn.ReadMessage()
		return data, err
	}
	return c
}

func (c *wsClient) next() (map[string]any, error)    { return c.in.Next() }
func (c *wsClient) expect(typ string) map[string]any { c.t.Helper(); return c.in.Expect(c.t, typ) }
func (c *wsClient) expectChat() map[string]any       { c.t.Helper(); return c.in.ExpectChat(c.t) }

func mustCreate(t *testing.T, svc *room.Service, owner room.User, name string) *room.Info {
	t.Helper()
	in, err := svc.Create(context.Background(), owner, name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func mustJoin(t *testing.T, svc *room.Service, code string, u room.User) {
	t.Helper()
	if _, err := svc.Join(context.Background(), code, u, ""); err != nil {
		t.Fatalf("join %s: %v", u.ID, err)
	}
}

func TestNonMemberRefused(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	c, err := tryDial(base, in.Code, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	c.t = t
	if m := c.expect("error"); m["code"] != proto.CodeNotMember {
		t.Fatalf("non-member got %v", m)
	}
	if _, err := c.next(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("non-member connection not closed with 1008: %v", err)
	}
	c2, err := tryDial(base, "ABCDEFGHJK", bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.conn.Close()
	c2.t = t
	if m := c2.expect("error"); m["code"] != proto.CodeNotFound {
		t.Fatalf("unknown room got %v", m)
	}
}

func TestMalformedAndOversize(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")

	for _, raw := range []string{`{"type":`, `not json`, `{"type":"chat","text":5}`, `[]`} {
		if err := a.conn.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if m := a.expect("error"); m["code"] != proto.CodeBadMessage {
			t.Fatalf("%q answered with %v", raw, m)
		}
	}
	a.send(map[string]any{"type": "dance", "ref": "x"})
	if m := a.expect("error"); m["code"] != proto.CodeUnknownType || m["ref"] != "x" {
		t.Fatalf("unknown type answered with %v", m)
	}
	a.send(map[string]any{"type": "chat", "text": strings.Repeat("é", room.MaxChatRunes+1), "ref": "long"})
	if m := a.expect("error"); m["code"] != proto.CodeTooLong || m["ref"] != "long" {
		t.Fatalf("long line answered with %v", m)
	}
	a.send(map[string]any{"type": "chat", "text": "  \n "})
	if m := a.expect("error"); m["code"] != proto.CodeEmpty {
		t.Fatalf("blank line answered with %v", m)
	}
	// The connection is kept after all of these.
	a.send(map[string]any{"type": "chat", "text": "still here"})
	if m := a.expectChat(); m["text"] != "still here" {
		t.Fatalf("after errors: %v", m)
	}
	// An oversize message is answered, then the connection is closed (1009).
	big := `{"type":"chat","text":"` + strings.Repeat("x", proto.MaxMessageSize) + `"}`
	if err := a.conn.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if m := a.expect("error"); m["code"] != proto.CodeTooLarge {
		t.Fatalf("oversize answered with %v", m)
	}
	for range 100 {
		_, err := a.next()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("after oversize: %v, want close 1009", err)
		}
		return
	}
	t.Fatal("connection not closed after an oversize message")
}

// slowDialer dials with a tiny receive buffer, so a client that does not
// read fills the server's socket quickly.
func slowDialer() *websocket.Dialer {
	nd := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: nd.DialContext}
}

// slowRoom is a room of Ann and Bob, who read, and Cat, connected with a
// small receive buffer (slowDialer) and left to the test to read or not,
// served by an endpoint with options o.
func slowRoom(t *testing.T, o ws.Options) (ep *ws.Endpoint, a, b, slow *wsClient) {
	t.Helper()
	svc, _ := newService(t, room.Options{ChatPer10s: 100000})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	mustJoin(t, svc, in.Code, cat)
	base, ep := serveRoomsWith(t, svc, o)
	a = dial(t, base, in.Code, ann)
	a.expect("hello")
	b = dial(t, base, in.Code, bob)
	b.expect("hello")
	slow, err := tryDial(base, in.Code, cat, slowDialer())
	if err != nil {
		t.Fatal(err)
	}
	slow.t = t
	t.Cleanup(func() { slow.conn.Close() })
	return ep, a, b, slow
}

func TestSlowClientDropped(t *testing.T) {
	ep, a, b, slow := slowRoom(t, ws.Options{OutboxBytes: 64 << 10, OutboxMessages: 256})

	// Ann and Bob read everything; Cat reads nothing. Keep sending until
	// the server gives up on Cat (bounded).
	text := strings.Repeat("z", 1500)
	sent := 0
	for ep.Dropped() == 0 && sent < 5000 {
		for range 20 {
			a.send(map[string]any{"type": "chat", "text": text})
			sent++
		}
		for range 20 {
			a.expectChat()
			b.expectChat()
		}
	}
	if ep.Dropped() != 1 {
		t.Fatalf("dropped %d connections after %d lines, want 1", ep.Dropped(), sent)
	}
	// The others keep receiving.
	a.send(map[string]any{"type": "chat", "text": "after the drop"})
	if m := b.expectChat(); m["text"] != "after the drop" {
		t.Fatalf("bob got %v", m)
	}
	// Cat's connection ends (after whatever was in flight); Cat goes offline.
	catOffline := func(m map[string]any) bool {
		mm, _ := m["member"].(map[string]any)
		return m["type"] == "member" && mm["id"] == cat.ID && mm["presence"] == proto.PresenceOffline
	}
	found := false
	for _, m := range a.in.Seen {
		found = found || catOffline(m)
	}
	for !found {
		found = catOffline(a.expect("member"))
	}
	for range 100000 {
		if _, err := slow.next(); err != nil {
			return
		}
	}
	t.Fatal("slow client still connected")
}

func TestKickAndDeleteCloseConnections(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	mustJoin(t, svc, in.Code, cat)
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	b := dial(t, base, in.Code, bob)
	b.expect("hello")
	c := dial(t, base, in.Code, cat)
	c.expect("hello")
	ctx := context.Background()
	if err := svc.Kick(ctx, in.Code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if m := b.expect("closed"); m["code"] != proto.ReasonKicked {
		t.Fatalf("kicked member got %v", m)
	}
	if _, err := b.next(); !websocket.IsCloseError(err, 4001) {
		t.Fatalf("kicked close: %v", err)
	}
	if m := a.expect("member_removed"); m["id"] != bob.ID {
		t.Fatalf("owner got %v", m)
	}
	// A kicked member cannot come back.
	b2, err := tryDial(base, in.Code, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2.t = t
	defer b2.conn.Close()
	if m := b2.expect("error"); m["code"] != proto.CodeNotMember || !strings.Contains(m["text"].(string), "removed") {
		t.Fatalf("kicked member reconnecting: %v", m)
	}
	if err := svc.Delete(ctx, in.Code, ann.ID); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*wsClient{a, c} {
		if m := cl.expect("closed"); m["code"] != proto.ReasonDeleted {
			t.Fatalf("after delete: %v", m)
		}
	}
}

func TestNoGoroutineLeakAfterAllLeave(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	before := goleak.IgnoreCurrent()
	svc := room.New(room.Options{Repo: room.NewBadger(st), Log: quietLog(), ParseLink: testLink, IdleTimeout: time.Millisecond, PingInterval: 20 * time.Millisecond})
	base := serveRooms(t, svc)
	var codes []string
	for i := range 3 {
		in := mustCreate(t, svc, ann, fmt.Sprint("room ", i))
		mustJoin(t, svc, in.Code, bob)
		codes = append(codes, in.Code)
	}
	var clients []*wsClient
	for _, code := range codes {
		for _, u := range []room.User{ann, bob} {
			c := dial(t, base, code, u)
			c.expect("hello")
			clients = append(clients, c)
		}
	}
	for _, c := range clients {
		c.send(map[string]any{"type": "chat", "text": "hi"})
	}
	for _, c := range clients {
		c.expectChat()
		c.expectChat()
	}
	// Wait for a server ping to pass through (the pinger is per room).
	time.Sleep(60 * time.Millisecond)
	for _, c := range clients {
		c.conn.Close()
	}
	// Every room's actor stops once its members are gone.
	deadline := time.Now().Add(10 * time.Second)
	for svc.Live() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := svc.Live(); n != 0 {
		t.Fatalf("%d rooms still live after everyone left", n)
	}
	// Rooms reload on demand after stopping.
	c := dial(t, base, codes[0], ann)
	if h := c.expect("hello"); len(h["chat"].([]any)) == 0 {
		t.Fatal("reloaded room has no history")
	}
	c.conn.Close()
	deadline = time.Now().Add(10 * time.Second)
	for svc.Live() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	svc.Close()
	// Writers wait a second for more to write, then end.
	if n := waitGoroutines("ws.(*writers).work(", 0); n != 0 {
		t.Fatalf("%d writers still run after their wait", n)
	}
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Server).Serve"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).getCh"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

// TestInvalidUTF8Refused: text that is not valid UTF-8 (raw bytes or a
// lone surrogate escape) is refused with bad_message and stored nowhere,
// as docs/protocol.md says.
func TestInvalidUTF8Refused(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	for _, raw := range []string{
		"{\"type\":\"chat\",\"text\":\"bad \xff\xfe bytes\",\"ref\":\"x\"}",
		`{"type":"chat","text":"lone \ud800 surrogate","ref":"y"}`,
	} {
		if err := a.conn.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		m := a.expect("error")
		if m["code"] != proto.CodeBadMessage {
			t.Fatalf("%q: %v, want bad_message", raw, m)
		}
	}
	a.send(map[string]any{"type": "chat", "text": "ok ✓"})
	if m := a.expectChat(); m["text"] != "ok ✓" {
		t.Fatalf("valid text after the refusals: %v", m)
	}
	hist, err := svc.History(t.Context(), in.Code)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range hist {
		if !l.System && l.Text != "ok ✓" {
			t.Fatalf("a refused line was stored: %q", l.Text)
		}
	}
}

// A member whose websocket upgrades and then says nothing (no pong, no
// message) is closed by the server once its read deadline (two ping
// intervals plus the grace) passes; another member of the room, who
// answers pings, stays connected and keeps chatting. The deadline (1.5 s)
// leaves Ann's reader room to be late on a loaded machine: with a 200 ms
// one, a reader kept off the CPU that long would be dropped as silent.
func TestSilentConnectionClosed(t *testing.T) {
	svc, _ := newService(t, room.Options{PingInterval: 250 * time.Millisecond})
	base, ep := serveRoomsWith(t, svc, ws.Options{ReadGrace: time.Second})
	in := mustCreate(t, svc, ann, "quiet")
	mustJoin(t, svc, in.Code, bob)

	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	// Ann reads in the background; reading answers the server's pings.
	type got struct {
		m   map[string]any
		err error
	}
	msgs := make(chan got, 4096)
	go func() {
		for range 4096 {
			m, err := a.next()
			msgs <- got{m, err}
			if err != nil {
				return
			}
		}
	}()

	// Bob upgrades, then goes silent: the test reads the raw socket only to
	// see it close, so no websocket pong is ever sent.
	b, err := tryDial(base, in.Code, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.conn.Close()
	raw := b.conn.NetConn()
	_ = raw.SetReadDeadline(time.Now().Add(60 * time.Second))
	closed := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := raw.Read(buf); err != nil {
				closed <- err
				return
			}
		}
	}()
	err = <-closed
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close a silent connection within 60 s")
	}

	// Ann sees Bob leave, then chats as before.
	wait := func(what string, ok func(map[string]any) bool) {
		t.Helper()
		for range 4096 {
			g := <-msgs
			if g.err != nil {
				t.Fatalf("Ann, waiting for %s: %v", what, g.err)
			}
			if ok(g.m) {
				return
			}
		}
		t.Fatalf("Ann never saw %s", what)
	}
	wait("Bob leave", func(m map[string]any) bool {
		return m["type"] == "chat" && m["system"] == true && m["text"] == "Bob left."
	})
	a.send(map[string]any{"type": "chat", "text": "still here"})
	wait("her own line", func(m map[string]any) bool {
		return m["type"] == "chat" && m["system"] != true && m["text"] == "still here"
	})
	if n := ep.Dropped(); n != 0 {
		t.Fatalf("%d connections dropped as slow; the silent one should time out, not overflow", n)
	}
}

// killHelperEnv makes the test binary a room server for
// TestAcknowledgedChatSurvivesKill instead of running tests.
const killHelperEnv = "WATCHPARTY_ROOM_KILL_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		if err := killHelper(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killHelper serves a room on loopback until it is killed.
func killHelper(dir string) error {
	st, err := store.Open(dir, quietLog(), store.Options{})
	if err != nil {
		return err
	}
	svc := room.New(room.Options{Repo: room.NewBadger(st), Log: quietLog(), ParseLink: testLink, ChatPer10s: 100000})
	in, err := svc.Create(context.Background(), ann, "")
	if err != nil {
		return err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ep := ws.New(svc, ws.Options{Log: quietLog()})
	mount(app, ep)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("READY ws://%s %s\n", ln.Addr(), in.Code)
	return app.Listener(ln)
}

// TestAcknowledgedChatSurvivesKill: every line the server has sent back to
// its author is in the store after the server process is SIGKILLed.
func TestAcknowledgedChatSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	lineCh := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lineCh <- l
	}()
	var ready string
	select {
	case ready = <-lineCh:
	case <-time.After(30 * time.Second):
		t.Fatal("helper server did not start")
	}
	f := strings.Fields(ready)
	if len(f) != 3 || f[0] != "READY" {
		t.Fatalf("helper said %q", ready)
	}
	base, code := f[1], f[2]
	a := dial(t, base, code, ann)
	a.expect("hello")
	const n = 100
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprint("kept ", i)})
	}
	for i := range n {
		if m := a.expectChat(); m["text"] != fmt.Sprint("kept ", i) {
			t.Fatalf("ack %d: %v", i, m)
		}
	}
	// Every line is acknowledged: kill the server at once.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	st := openStore(t, dir)
	defer st.Close()
	svc := room.New(room.Options{Repo: room.NewBadger(st), Log: quietLog()})
	defer svc.Close()
	lines, err := svc.History(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		if !l.System {
			texts = append(texts, l.Text)
		}
	}
	if len(texts) != n {
		t.Fatalf("%d of %d acknowledged lines survived the kill", len(texts), n)
	}
	for i, s := range texts {
		if s != fmt.Sprint("kept ", i) {
			t.Fatalf("line %d is %q", i, s)
		}
	}
}
