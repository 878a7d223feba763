//go:build linux

package ws_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/room"
	"watchparty/engine/room/ws"
)

// A member who stops reading fills its socket: the room's writes to it
// stop being taken at once and go to its writer, while the others keep
// receiving every line without waiting for it. When it reads again it gets
// every line, each frame whole and in order, though some were begun by a
// direct write and finished by the writer; and once it has caught up, new
// lines reach it again.
func TestStalledReaderKeepsFramesWholeAndInOrder(t *testing.T) {
	// Room enough to queue everything for the stalled member, and time: its
	// writer's write waits until the member reads again, after all the lines
	// below are sent, which took over the default 10 s on a loaded machine
	// (the write timed out and the member was dropped).
	ep, a, b, stalled := slowRoom(t, ws.Options{OutboxBytes: 16 << 20, OutboxMessages: 100000, WriteTimeout: 2 * time.Minute})
	// Wait until the room has Cat (Ann hears of it) before sending.
	for {
		m := a.expect("member")
		if mm, _ := m["member"].(map[string]any); mm["id"] == cat.ID {
			break
		}
	}

	// Lines the room sends JSON-escaped, six bytes a character: 12 KB a
	// frame. Send until the stalled member's socket refuses one (bounded),
	// then as many again.
	pad := strings.Repeat("<", room.MaxChatRunes-10)
	line := func(i int) string { return fmt.Sprintf("%d:%s", i, pad) }
	lines := 0
	for more := -1; more != 0 && lines < 5000; lines++ {
		sendText(t, a, line(lines))
		// Ann and Bob read as they go: a stalled member does not hold
		// them up.
		for _, c := range []*wsClient{a, b} {
			if m := c.expectChat(); m["text"] != line(lines) {
				t.Fatalf("line %d: got %.20q", lines, m["text"])
			}
		}
		if more < 0 && ep.Deferred() > 0 {
			more = lines + 1
		}
		if more > 0 {
			more--
		}
	}
	if ep.Deferred() == 0 {
		t.Fatalf("the stalled member's socket took all %d frames at once: nothing was left to the writer", lines)
	}
	if ep.Dropped() != 0 {
		t.Fatalf("dropped %d members", ep.Dropped())
	}
	stalled.expect("hello")
	for i := range lines {
		if m := stalled.expectChat(); m["text"] != line(i) {
			t.Fatalf("stalled member's line %d: got %.20q", i, m["text"])
		}
	}
	a.send(map[string]any{"type": "chat", "text": "caught up"})
	if m := stalled.expectChat(); m["text"] != "caught up" {
		t.Fatalf("after catching up: %v", m)
	}
}

// Frames of every length class (a 7-bit, 16-bit and 64-bit length in the
// header) arrive whole: a hello over 64 KiB (lines of text that JSON
// escapes six bytes to a character) to a member who joins, and the lines
// themselves to one who was there.
func TestDirectFramesOfEveryLength(t *testing.T) {
	svc, _ := newService(t, room.Options{ChatPer10s: 100000})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	long := strings.Repeat("<", room.MaxChatRunes)
	for range 30 {
		sendText(t, a, long)
		if m := a.expectChat(); m["text"] != long {
			t.Fatalf("a line of %d bytes came back as %d", len(long), len(m["text"].(string)))
		}
	}
	a.send(map[string]any{"type": "chat", "text": "x"})
	a.expectChat()
	b := dial(t, base, in.Code, bob)
	_ = b.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := b.conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 0xffff || !strings.HasPrefix(string(data), `{"type":"hello"`) {
		t.Fatalf("hello of %d bytes: %.40q; want over 64 KiB", len(data), data)
	}
	b.in.Frame = func() ([]byte, error) { return data, nil }
	h, err := b.next()
	if err != nil {
		t.Fatalf("hello does not parse: %v", err)
	}
	chat, _ := h["chat"].([]any)
	if len(chat) < 2 {
		t.Fatalf("hello has %d lines", len(chat))
	}
}

// A ping from the peer is answered with its payload, and a close with the
// same code: both written by the connection's outbox, never in the middle
// of a frame.
func TestPingAnsweredAndCloseEchoed(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	pongs := make(chan string, 4)
	a.conn.SetPongHandler(func(data string) error { pongs <- data; return nil })
	for _, p := range []string{"one", "two"} {
		if err := a.conn.WriteControl(websocket.PingMessage, []byte(p), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	a.send(map[string]any{"type": "chat", "text": "after the pings"})
	if m := a.expectChat(); m["text"] != "after the pings" {
		t.Fatalf("got %v", m)
	}
	var got []string
	for len(pongs) > 0 {
		got = append(got, <-pongs)
	}
	// Each ping is answered unless a later one was still unanswered.
	if len(got) == 0 || got[len(got)-1] != "two" {
		t.Fatalf("pongs %q; want the last one \"two\"", got)
	}
	if err := a.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, a, 4001, "after our close")
}

// expectClose reads what c is sent until the server's close, which must
// carry code.
func expectClose(t *testing.T, c *wsClient, code int, after string) {
	t.Helper()
	for {
		_, err := c.next()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("%s: %v; want a close with %d", after, err, code)
		}
		return
	}
}

// sendText sends a chat line as a page does: JSON that leaves '<' as it is
// (json.Marshal would escape it to six bytes).
func sendText(t *testing.T, c *wsClient, text string) {
	t.Helper()
	if strings.ContainsAny(text, `"\\`) {
		t.Fatalf("sendText takes no quotes or backslashes: %.20q", text)
	}
	msg := `{"type":"chat","text":"` + text + `"}`
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// A peer that breaks the protocol (a reserved opcode) gets the library's
// close with 1002, written like a direct write, and the room goes on.
func TestProtocolErrorClosed(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	b := dial(t, base, in.Code, bob)
	b.expect("hello")
	// A masked frame of opcode 3 (reserved), empty.
	if _, err := b.conn.NetConn().Write([]byte{0x83, 0x80, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, b, websocket.CloseProtocolError, "after a reserved opcode")
	a.send(map[string]any{"type": "chat", "text": "still here"})
	if m := a.expectChat(); m["text"] != "still here" {
		t.Fatalf("got %v", m)
	}
}
