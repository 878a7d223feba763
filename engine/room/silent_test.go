package room

import (
	"errors"
	"net"
	"testing"
	"time"
)

// A member whose websocket upgrades and then says nothing (no pong, no
// message) is closed by the server once its read deadline (two ping
// intervals plus the grace) passes; another member of the room, who
// answers pings, stays connected and keeps chatting.
func TestSilentConnectionClosed(t *testing.T) {
	svc, _ := newService(t, Options{PingInterval: 50 * time.Millisecond, readGrace: 100 * time.Millisecond})
	base := serveRooms(t, svc)
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
	if n := svc.Dropped(); n != 0 {
		t.Fatalf("%d connections dropped as slow; the silent one should time out, not overflow", n)
	}
}
