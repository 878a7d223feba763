package syncplay_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"watchparty/engine/room"
	"watchparty/engine/room/proto"
	"watchparty/engine/store"
	"watchparty/engine/syncplay"
)

// These tests run the listener on loopback against a real room service on
// a real store; the native player is a protocol client written here (the
// real Syncplay client and mpv are driven in syncplay_client_test.go), the
// other member an in-memory transport the room treats like any other.

var (
	ann = room.User{ID: "u-ann", Name: "Ann"}
	bob = room.User{ID: "u-bob", Name: "Bob"}
)

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type rig struct {
	t      *testing.T
	svc    *room.Service
	tokens *syncplay.Tokens
	srv    *syncplay.Server
	addr   string
	code   string
	stop   context.CancelFunc
	done   chan error
}

func newRig(t *testing.T, o syncplay.Options, ro room.Options) *rig {
	t.Helper()
	st, err := store.Open(t.TempDir(), quietLog(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ro.Repo, ro.Log = room.NewBadger(st), quietLog()
	ro.ParseLink = func(raw string) (room.Video, error) {
		if strings.HasSuffix(raw, ".webm") {
			return room.Video{Kind: "file", URL: raw}, nil
		}
		return room.Video{}, errors.New("a .webm link please")
	}
	svc := room.New(ro)
	tokens := syncplay.NewTokens(syncplay.NewBadgerTokens(st))
	o.Rooms, o.Tokens, o.Log = svc, tokens, quietLog()
	srv := syncplay.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, svc: svc, tokens: tokens, srv: srv, addr: ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		svc.Close()
		st.Close()
	})
	in, err := svc.Create(context.Background(), ann, "Film night")
	if err != nil {
		t.Fatal(err)
	}
	r.code = in.Code
	if _, err := svc.Join(context.Background(), r.code, bob, ""); err != nil {
		t.Fatal(err)
	}
	return r
}

// token issues an access token; the client sends its MD5, as the real
// client does.
func (r *rig) token(uid string) string {
	return md5hex(r.rawToken(r.code, uid))
}

func (r *rig) rawToken(code, uid string) string {
	r.t.Helper()
	tok, err := r.tokens.Issue(code, uid, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s)) //nolint:gosec // what the Syncplay client sends
	return hex.EncodeToString(h[:])
}

// ---- a Syncplay protocol client ----

type spClient struct {
	// changes counts the player's own changes, flagged in the State that
	// reports them (ignoringOnTheFly.client) as the real client does.
	changes int
	t       *testing.T
	conn    net.Conn
	lr      *syncplay.LineReader
}

func dialSP(t *testing.T, addr string) *spClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &spClient{t: t, conn: c, lr: syncplay.NewLineReader(c, 1<<20)}
}

func (c *spClient) raw(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *spClient) send(cmd string, v any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{cmd: v})
	c.raw(string(b) + "\r\n")
}

// next returns the next line's commands, or an error once the connection
// ends.
func (c *spClient) next() (map[string]json.RawMessage, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.lr.ReadLine()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		c.t.Fatalf("server sent %q: %v", line, err)
	}
	return m, nil
}

// expect returns the next command cmd for which ok holds, skipping others.
func (c *spClient) expect(cmd string, ok func(json.RawMessage) bool) json.RawMessage {
	c.t.Helper()
	for range 1000 {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", cmd, err)
		}
		if v, found := m[cmd]; found && (ok == nil || ok(v)) {
			return v
		}
	}
	c.t.Fatalf("no %s", cmd)
	return nil
}

// closed reads until the server closes the connection and returns the
// last Error message it sent.
func (c *spClient) closed() string {
	c.t.Helper()
	last := ""
	for range 1000 {
		m, err := c.next()
		if err != nil {
			if isTimeout(err) {
				c.t.Fatal("the server did not close the connection")
			}
			return last
		}
		if e, ok := m["Error"]; ok {
			var v struct{ Message string }
			_ = json.Unmarshal(e, &v)
			last = v.Message
		}
	}
	c.t.Fatal("no end")
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *spClient) hello(code, password string) json.RawMessage {
	c.t.Helper()
	c.sendHello(code, password)
	return c.expect("Hello", nil)
}

func (c *spClient) sendHello(code, password string) {
	c.t.Helper()
	c.send("Hello", map[string]any{"username": "mpv-user", "password": password, "room": map[string]string{"name": code},
		"version": "1.2.255", "realversion": "1.6.9", "features": map[string]bool{"chat": true, "readiness": true}})
}

type state struct {
	Playstate struct {
		Position float64
		Paused   bool
		DoSeek   bool
	}
	Ping struct {
		LatencyCalculation float64
	}
	IgnoringOnTheFly struct{ Server, Client int }
}

func decodeState(t *testing.T, raw json.RawMessage) state {
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// expectState returns the next State for which ok holds, answering every
// State as the real client does (echoing the timestamps and counters), with
// the player's position pos and pause state.
func (c *spClient) expectState(ok func(state) bool, reply func(state) (float64, bool)) state {
	c.t.Helper()
	for range 200 {
		s := decodeState(c.t, c.expect("State", nil))
		pos, paused := reply(s)
		c.answer(s, pos, paused, false)
		if ok(s) {
			return s
		}
	}
	c.t.Fatal("no such State")
	return state{}
}

func (c *spClient) answer(s state, pos float64, paused, doSeek bool) {
	c.sendState(s, pos, paused, doSeek, 0)
}

// change reports a change made in the player.
func (c *spClient) change(s state, pos float64, paused, doSeek bool) {
	c.changes++
	c.sendState(s, pos, paused, doSeek, c.changes)
}

func (c *spClient) sendState(s state, pos float64, paused, doSeek bool, own int) {
	st := map[string]any{"playstate": map[string]any{"position": pos, "paused": paused, "doSeek": doSeek},
		"ping": map[string]any{"latencyCalculation": s.Ping.LatencyCalculation, "clientLatencyCalculation": float64(time.Now().UnixMicro()) / 1e6, "clientRtt": 0}}
	ign := map[string]int{}
	if s.IgnoringOnTheFly.Server != 0 {
		ign["server"] = s.IgnoringOnTheFly.Server
	}
	if own != 0 {
		ign["client"] = own
	}
	if len(ign) > 0 {
		st["ignoringOnTheFly"] = ign
	}
	c.send("State", st)
}

// follow answers as a player that does what the server says.
func follow(s state) (float64, bool) { return s.Playstate.Position, s.Playstate.Paused }

// ---- a member through an in-memory transport ----

type member struct {
	t    *testing.T
	conn *room.Conn
	mu   sync.Mutex
	msgs []map[string]any
	wake chan struct{}
	gone chan struct{}
	once sync.Once
}

func (m *member) Send(_ proto.Type, b []byte) bool {
	m.mu.Lock()
	for _, part := range strings.Split(string(b), "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(part), &v) == nil {
			m.msgs = append(m.msgs, v)
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return true
}

func (m *member) Close(string, string) { m.once.Do(func() { close(m.gone) }) }
func (m *member) Ping()                {}

func connect(t *testing.T, svc *room.Service, code string, u room.User) *member {
	t.Helper()
	m := &member{t: t, wake: make(chan struct{}, 1), gone: make(chan struct{})}
	c, err := svc.Connect(code, u, m)
	if err != nil {
		t.Fatal(err)
	}
	m.conn = c
	t.Cleanup(c.Leave)
	return m
}

func (m *member) do(typ proto.Type, f func(*proto.ClientMessage)) {
	cm := &proto.ClientMessage{Type: typ}
	if f != nil {
		f(cm)
	}
	m.conn.Receive(cm)
}

// wait returns the first message (old or new) for which ok holds.
func (m *member) wait(ok func(map[string]any) bool) map[string]any {
	m.t.Helper()
	return m.waitFrom(0, ok)
}

// count is how many messages arrived so far.
func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// waitFrom returns the first message from the from'th on for which ok
// holds.
func (m *member) waitFrom(from int, ok func(map[string]any) bool) map[string]any {
	m.t.Helper()
	deadline := time.After(30 * time.Second)
	for i := from; ; {
		m.mu.Lock()
		for ; i < len(m.msgs); i++ {
			if ok(m.msgs[i]) {
				v := m.msgs[i]
				m.mu.Unlock()
				return v
			}
		}
		m.mu.Unlock()
		select {
		case <-m.wake:
		case <-deadline:
			m.t.Fatal("no such message")
		}
	}
}

func ofType(typ string, ok func(map[string]any) bool) func(map[string]any) bool {
	return func(v map[string]any) bool { return v["type"] == typ && (ok == nil || ok(v)) }
}

func playbackState(v map[string]any) map[string]any { return v["state"].(map[string]any) }

// ---- tests ----

func TestRefusedBeforeJoining(t *testing.T) {
	// The Hello timeout runs from the connection's accept, so a loaded
	// machine can spend a short one between dialling and sending: only the
	// slowloris case, which waits for it, has a short one.
	r := newRig(t, syncplay.Options{MaxLine: 1024}, room.Options{})
	short := newRig(t, syncplay.Options{HelloTimeout: 300 * time.Millisecond, MaxLine: 1024}, room.Options{})
	bobTok := r.token(bob.ID)
	outsider := r.token("u-eve")
	otherRoom := md5hex(r.rawToken("ZZZZZZZZZZ", bob.ID))
	tests := []struct {
		name string
		rig  *rig
		do   func(c *spClient)
		want string // in the Error message
	}{
		{"garbage before hello", r, func(c *spClient) { c.raw("GET / HTTP/1.1\r\n") }, "Hello"},
		{"another command before hello", r, func(c *spClient) { c.send("List", nil) }, "Hello first"},
		{"oversize line", r, func(c *spClient) { c.raw(strings.Repeat("x", 2048) + "\n") }, "too long"},
		{"slowloris", short, func(c *spClient) { c.raw(`{"Hello": {"username": "a"`) }, "timed out"},
		{"wrong token", r, func(c *spClient) { c.sendHello(r.code, bobTok+"x") }, "wrong password"},
		{"no token", r, func(c *spClient) { c.sendHello(r.code, "") }, "password is needed"},
		{"token for another room", r, func(c *spClient) { c.sendHello(r.code, otherRoom) }, "wrong password"},
		{"expired or unknown token", r, func(c *spClient) { c.sendHello(r.code, md5hex("wpnotissued")) }, "wrong password"},
		{"not a member", r, func(c *spClient) { c.sendHello(r.code, outsider) }, "not a member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialSP(t, tt.rig.addr)
			tt.do(c)
			if got := c.closed(); !strings.Contains(got, tt.want) {
				t.Fatalf("error %q, want %q", got, tt.want)
			}
		})
	}
	// The room saw none of them, and a good token still works.
	c := dialSP(t, r.addr)
	c.hello(r.code, bobTok)
	if n := r.srv.Refused() + short.srv.Refused(); n < len(tests) {
		t.Fatalf("refused %d", n)
	}
}

func TestChatBothWays(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	web := connect(t, r.svc, r.code, ann)
	c := dialSP(t, r.addr)
	h := c.hello(r.code, r.token(bob.ID))
	var hello struct {
		Username string
		Room     struct{ Name string }
	}
	_ = json.Unmarshal(h, &hello)
	if hello.Username != "Bob" || hello.Room.Name != r.code {
		t.Fatalf("hello %s", h)
	}
	// The member shows as a native player.
	web.wait(ofType("member", func(v map[string]any) bool {
		m := v["member"].(map[string]any)
		return m["id"] == bob.ID && m["native"] == true && m["presence"] == "online"
	}))
	c.send("Chat", "hello from mpv <b>")
	web.wait(ofType("chat", func(v map[string]any) bool { return v["user"] == bob.ID && v["text"] == "hello from mpv <b>" }))
	// A line for the client waits until its player is up (it reports a
	// playstate): the stock client fails on chat before that.
	web.do(proto.Chat, func(m *proto.ClientMessage) { m.Text = "hello from the browser" })
	c.expectState(func(state) bool { return true }, follow)
	c.expect("Chat", func(raw json.RawMessage) bool {
		var v syncplay.ChatOut
		_ = json.Unmarshal(raw, &v)
		return v.Username == "Ann" && v.Message == "hello from the browser"
	})
	// List shows both.
	c.send("List", nil)
	l := c.expect("List", nil)
	var list map[string]map[string]syncplay.ListUser
	_ = json.Unmarshal(l, &list)
	if _, ok := list[r.code]["Ann"]; !ok {
		t.Fatalf("list %s", l)
	}
	if _, ok := list[r.code]["Bob"]; !ok {
		t.Fatalf("list %s", l)
	}
	// Leaving clears the badge.
	_ = c.conn.Close()
	web.wait(ofType("member", func(v map[string]any) bool {
		m := v["member"].(map[string]any)
		return m["id"] == bob.ID && m["native"] == nil && m["presence"] == "offline"
	}))
}

func TestPlaybackBothWays(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{Sync: room.SyncOptions{LeadMS: 300, SeekLeadMS: 300}})
	web := connect(t, r.svc, r.code, ann)
	web.do(proto.Video, func(m *proto.ClientMessage) { m.URL = "https://example.com/clip.webm" })
	web.wait(ofType("playback", nil))
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	// The first State seeks the player to the room (paused at 0).
	s := c.expectState(func(s state) bool { return s.Playstate.DoSeek }, follow)
	if !s.Playstate.Paused || s.Playstate.Position != 0 {
		t.Fatalf("first state %+v", s)
	}

	// Browser plays: the client is told to play.
	web.do(proto.Play, nil)
	c.expectState(func(s state) bool { return !s.Playstate.Paused }, follow)
	// Browser seeks: the client is told to seek near 20 s.
	web.do(proto.Seek, func(m *proto.ClientMessage) { m.T = 20 })
	s = c.expectState(func(s state) bool { return s.Playstate.DoSeek }, follow)
	if s.Playstate.Position < 19 || s.Playstate.Position > 22 {
		t.Fatalf("seek state %+v", s)
	}
	// Browser pauses.
	web.do(proto.Pause, nil)
	c.expectState(func(s state) bool { return s.Playstate.Paused }, follow)

	// Now the native player: play, seek, pause reach the room.
	last := c.expectState(func(state) bool { return true }, follow)
	c.change(last, last.Playstate.Position, false, false)
	web.wait(ofType("playback", func(v map[string]any) bool { return playbackState(v)["playing"] == true && v["by"] == bob.ID }))
	c.change(last, 42, false, true)
	web.wait(ofType("playback", func(v map[string]any) bool {
		p := playbackState(v)["position"].(float64)
		return p >= 42 && p < 43 && v["by"] == bob.ID
	}))
	c.change(last, 42.5, true, false)
	web.wait(ofType("playback", func(v map[string]any) bool { return playbackState(v)["playing"] == false && v["by"] == bob.ID }))
}

func TestPlaybackRoleRefused(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	ctx := context.Background()
	set := room.DefaultSettings()
	set.Control = room.LevelOwner
	if err := r.svc.UpdateSettings(ctx, r.code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	web := connect(t, r.svc, r.code, ann)
	web.do(proto.Video, func(m *proto.ClientMessage) { m.URL = "https://example.com/clip.webm" })
	web.wait(ofType("playback", nil))
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	s := c.expectState(func(s state) bool { return s.Playstate.DoSeek }, follow)
	// Bob unpauses in his player: the room refuses, and the player is put
	// back (a forced, paused State), with the reason in the chat.
	c.change(s, 0, false, false)
	c.expect("Chat", func(raw json.RawMessage) bool { return strings.Contains(string(raw), "may not control") })
	c.expectState(func(s state) bool { return s.Playstate.Paused && s.IgnoringOnTheFly.Server != 0 }, follow)
	if v := web.msgsOf("playback"); v != 1 {
		t.Fatalf("%d playback messages; the room changed", v)
	}
}

func (m *member) msgsOf(typ string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.msgs {
		if v["type"] == typ {
			n++
		}
	}
	return n
}

// newWaitingRig is a rig whose room waits for everyone to be ready, with
// Ann's page in it and a video set.
func newWaitingRig(t *testing.T, ro room.Options) (*rig, *member) {
	t.Helper()
	r := newRig(t, syncplay.Options{}, ro)
	set := room.DefaultSettings()
	set.WaitForAll = true
	if err := r.svc.UpdateSettings(context.Background(), r.code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	web := connect(t, r.svc, r.code, ann)
	web.do(proto.Video, func(m *proto.ClientMessage) { m.URL = "https://example.com/clip.webm" })
	return r, web
}

func TestReadinessHoldsTheRoom(t *testing.T) {
	r, web := newWaitingRig(t, room.Options{})
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	c.send("Set", map[string]any{"ready": map[string]any{"isReady": false, "manuallyInitiated": true}})
	c.expect("Set", func(raw json.RawMessage) bool { return strings.Contains(string(raw), `"isReady":false`) })
	web.wait(ofType("sync_members", func(v map[string]any) bool {
		m, _ := v["members"].(map[string]any)[bob.ID].(map[string]any)
		return m != nil && m["buffering"] == true
	}))
	web.do(proto.Play, nil)
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == true }))
	c.send("Set", map[string]any{"ready": map[string]any{"isReady": true, "manuallyInitiated": true}})
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == nil && playbackState(v)["playing"] == true }))
	// And the browser's readiness reaches the client.
	web.do(proto.Buffering, func(m *proto.ClientMessage) { m.On = true })
	c.expect("Set", func(raw json.RawMessage) bool {
		return strings.Contains(string(raw), `"username":"Ann"`) && strings.Contains(string(raw), `"isReady":false`)
	})
}

// TestPauseAfterNotReadyHeldTheRoom: the stock client, paused in the
// player, sends its not-ready and then its paused State. When the not-ready
// has held the room before the State is read (as a loaded machine may
// order them), the State still pauses the room, which then does not start
// by itself when the hold times out.
func TestPauseAfterNotReadyHeldTheRoom(t *testing.T) {
	r, web := newWaitingRig(t, room.Options{})
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	c.expectState(func(s state) bool { return s.Playstate.DoSeek }, follow)
	web.do(proto.Play, nil)
	last := c.expectState(func(s state) bool { return !s.Playstate.Paused }, follow)

	c.send("Set", map[string]any{"ready": map[string]any{"isReady": false, "manuallyInitiated": false}})
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == true }))
	// The room's hold reaches the client (a forced, paused State) after it
	// has sent its own pause, which confirms nothing of it.
	for !decodeState(t, c.expect("State", nil)).Playstate.Paused {
		// a State from before the hold
	}
	n := web.count()
	c.change(state{Ping: last.Ping}, last.Playstate.Position, true, false)
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool {
		return v["by"] == bob.ID && v["held"] == nil && playbackState(v)["playing"] == false
	}))
}

func TestKickDisconnects(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	web := connect(t, r.svc, r.code, ann)
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	web.wait(ofType("member", func(v map[string]any) bool { return v["member"].(map[string]any)["native"] == true }))
	if err := r.svc.Kick(context.Background(), r.code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if got := c.closed(); !strings.Contains(strings.ToLower(got), "removed") {
		t.Fatalf("kicked with %q", got)
	}
	// The token no longer gets in.
	c = dialSP(t, r.addr)
	c.sendHello(r.code, r.token(bob.ID))
	if got := c.closed(); !strings.Contains(got, "not a member") {
		t.Fatalf("after the kick: %q", got)
	}
}

func TestStateFloodClosesOnlyTheFlooder(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	web := connect(t, r.svc, r.code, ann)
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	line := `{"State": {"ping": {"clientRtt": 0}}}` + "\r\n"
	go func() {
		for range 5000 {
			if _, err := c.conn.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	if got := c.closed(); !strings.Contains(got, "Too many") {
		t.Fatalf("closed with %q", got)
	}
	// The room goes on for everyone else.
	web.do(proto.Chat, func(m *proto.ClientMessage) { m.Text = "still here" })
	web.wait(ofType("chat", func(v map[string]any) bool { return v["text"] == "still here" }))
}

func TestSlowClientTimesOut(t *testing.T) {
	r := newRig(t, syncplay.Options{IdleTimeout: 300 * time.Millisecond}, room.Options{})
	web := connect(t, r.svc, r.code, ann)
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	// Half a line, then nothing: the line does not arrive in time.
	c.raw(`{"Chat": "hel`)
	if got := c.closed(); !strings.Contains(got, "timed out") {
		t.Fatalf("closed with %q", got)
	}
	web.wait(ofType("member", func(v map[string]any) bool {
		m := v["member"].(map[string]any)
		return m["id"] == bob.ID && m["presence"] == "offline"
	}))
}

func TestShutdownTellsClients(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	pending := dialSP(t, r.addr) // connected, no Hello yet
	r.stop()
	if got := c.closed(); !strings.Contains(got, "shutting down") {
		t.Fatalf("closed with %q", got)
	}
	pending.closed()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		r.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if n := r.srv.Live(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

func TestTooManyConnections(t *testing.T) {
	r := newRig(t, syncplay.Options{MaxConns: 1}, room.Options{})
	a := dialSP(t, r.addr)
	a.hello(r.code, r.token(bob.ID))
	b := dialSP(t, r.addr)
	if got := b.closed(); !strings.Contains(got, "too many") {
		t.Fatalf("second connection: %q", got)
	}
}

func TestStartTLS(t *testing.T) {
	cert := selfSigned(t)
	r := newRig(t, syncplay.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}, room.Options{})
	c := dialSP(t, r.addr)
	c.send("TLS", map[string]string{"startTLS": "send"})
	if v := c.expect("TLS", nil); !strings.Contains(string(v), `"true"`) {
		t.Fatalf("TLS answer %s", v)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's own certificate
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.lr = tc, syncplay.NewLineReader(tc, 1<<20)
	c.hello(r.code, r.token(bob.ID))

	// Without a certificate the server says no, and the client goes on.
	r2 := newRig(t, syncplay.Options{}, room.Options{})
	c2 := dialSP(t, r2.addr)
	c2.send("TLS", map[string]string{"startTLS": "send"})
	if v := c2.expect("TLS", nil); !strings.Contains(string(v), `"false"`) {
		t.Fatalf("TLS answer %s", v)
	}
	c2.hello(r2.code, r2.token(bob.ID))
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestFileIdentityWarning(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{})
	web := connect(t, r.svc, r.code, ann)
	web.do(proto.Video, func(m *proto.ClientMessage) { m.URL = "https://example.com/Night.webm" })
	web.wait(ofType("playback", nil))
	c := dialSP(t, r.addr)
	c.hello(r.code, r.token(bob.ID))
	c.expectState(func(state) bool { return true }, follow)
	notice := func(raw json.RawMessage) bool {
		return strings.Contains(string(raw), `"username":"watchparty"`) && strings.Contains(string(raw), "is not the room's")
	}
	// The room's file (by its name): no warning. Another file: a warning.
	c.send("Set", map[string]any{"file": map[string]any{"name": "Night.webm", "duration": 30, "size": 1000}})
	c.send("Set", map[string]any{"file": map[string]any{"name": "Day.mkv", "duration": 30, "size": 1000}})
	got := c.expect("Chat", func(raw json.RawMessage) bool { return strings.Contains(string(raw), "is not the room's") })
	if !notice(got) || !strings.Contains(string(got), "Day.mkv") {
		t.Fatalf("warning %s", got)
	}
}
