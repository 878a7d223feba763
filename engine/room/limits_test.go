package room

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"watchparty/engine/room/proto"
)

// TestEveryMessageTypeIsLimited: each class of client message has a budget
// per connection. A member flooding queue_move (which used to skip every
// limit and re-send the whole queue each time) gets rate_limited answers,
// and the other members receive only what the budget lets through.
func TestEveryMessageTypeIsLimited(t *testing.T) {
	svc, _ := newService(t, Options{CommandsPer10s: 10})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	b := dial(t, base, in.Code, bob)
	b.expect("hello")
	for i := range 3 {
		a.send(map[string]any{"type": "queue_add", "url": fmt.Sprintf("https://youtu.be/v%d", i)})
	}
	const flood = 100
	for i := range flood {
		a.send(map[string]any{"type": "queue_move", "seq": 1 + i%3, "t": i % 2, "ref": fmt.Sprint(i)})
	}
	a.send(map[string]any{"type": "chat", "text": "still here", "ref": "last"})
	limited := 0
	for {
		m, err := a.next()
		if err != nil {
			t.Fatal(err)
		}
		if m["type"] == "error" && m["code"] == proto.CodeRateLimited {
			limited++
		}
		if m["type"] == "chat" && m["ref"] == "last" {
			break
		}
	}
	// A budget of 10 per 10 s: 3 adds and 7 moves pass at once, give or
	// take the refill while the flood is read.
	if limited < flood-15 {
		t.Fatalf("only %d of %d rapid queue moves were refused (budget 10 per 10 s)", limited, flood)
	}
	// Bob got few queue updates, and the chat line after the flood.
	updates := 0
	for {
		m, err := b.next()
		if err != nil {
			t.Fatal(err)
		}
		if m["type"] == "queue" || m["type"] == "queue_change" {
			updates++
		}
		if m["type"] == "chat" && m["text"] == "still here" {
			break
		}
	}
	if updates > 15 {
		t.Fatalf("the other member received %d queue updates from a flood of %d moves", updates, flood)
	}
}

// TestFloodingConnectionClosed: a connection that keeps sending after
// being told to slow down is closed; nobody else is disturbed.
func TestFloodingConnectionClosed(t *testing.T) {
	svc, _ := newService(t, Options{})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	b := dial(t, base, in.Code, bob)
	b.expect("hello")
	// Pings are dropped quietly past their budget: no answers pile up.
	for range floodLimit + 50 {
		if err := b.sendRaw([]byte(`{"type":"ping","t":1}`)); err != nil {
			break // closed: expected
		}
	}
	closed := false
	for range 1000 {
		m, err := b.next()
		if err != nil {
			closed = true
			break
		}
		if m["type"] == "closed" && m["code"] != proto.ReasonFlood {
			t.Fatalf("closed for %v, want %s", m["code"], proto.ReasonFlood)
		}
	}
	if !closed {
		t.Fatal("a connection sending far past its budget was not closed")
	}
	a.send(map[string]any{"type": "chat", "text": "fine here"})
	if m := a.expectChat(); m["text"] != "fine here" {
		t.Fatalf("the other member's chat: %v", m)
	}
}

// TestInvalidUTF8Refused: text that is not valid UTF-8 (raw bytes or a
// lone surrogate escape) is refused with bad_message and stored nowhere,
// as docs/protocol.md says.
func TestInvalidUTF8Refused(t *testing.T) {
	svc, _ := newService(t, Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	for _, raw := range []string{
		"{\"type\":\"chat\",\"text\":\"bad \xff\xfe bytes\",\"ref\":\"x\"}",
		`{"type":"chat","text":"lone \ud800 surrogate","ref":"y"}`,
	} {
		if err := a.sendRaw([]byte(raw)); err != nil {
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

// TestConnectionsPerMemberCapped: one member's tabs are capped, so budgets
// per connection do not multiply without end; the member's own budget for
// commands is shared by all its tabs.
func TestConnectionsPerMemberCapped(t *testing.T) {
	svc, _ := newService(t, Options{CommandsPer10s: 5})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	var tabs []*testClient
	for range MaxConnsPerMember {
		c := dial(t, base, in.Code, ann)
		c.expect("hello")
		tabs = append(tabs, c)
	}
	if _, err := tryDial(base, in.Code, ann); !errors.Is(err, ErrTooManyTabs) {
		t.Fatalf("tab %d: %v, want %v", MaxConnsPerMember+1, err, ErrTooManyTabs)
	}
	// 2 queue adds from each of the 10 tabs: the member's 5 pass.
	for i, c := range tabs {
		for j := range 2 {
			c.send(map[string]any{"type": "queue_add", "url": fmt.Sprintf("https://youtu.be/t%d_%d", i, j), "ref": fmt.Sprintf("t%d-%d", i, j)})
		}
	}
	added, limited := 0, 0
	for i, c := range tabs {
		for range 2 {
			for {
				m, err := c.next()
				if err != nil {
					t.Fatal(err)
				}
				if ref, _ := m["ref"].(string); !strings.HasPrefix(ref, fmt.Sprintf("t%d-", i)) {
					continue // another tab's change
				}
				if m["type"] == "queue_change" {
					added++
				} else if m["type"] == "error" && m["code"] == proto.CodeRateLimited {
					limited++
				} else {
					continue
				}
				break
			}
		}
	}
	if added != 5 || limited != 15 {
		t.Fatalf("20 adds from 10 tabs: %d added, %d limited; want 5 and 15", added, limited)
	}
}
