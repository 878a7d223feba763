package room

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestPingsSpreadOverTheInterval: a room pings its connections a slice at
// a time, each connection once per interval, rather than all of them at
// once; the session and guest expiry run once per interval, as before.
func TestPingsSpreadOverTheInterval(t *testing.T) {
	// The room's own ticker never fires within the test: the test takes
	// the ticks itself, on the room's goroutine.
	svc, _ := newService(t, Options{PingInterval: time.Hour})
	owner := User{ID: "u-0", Name: "m0"}
	in := mustCreate(t, svc, owner, "pings")
	const conns = 2*pingSlots + 10
	clients := make([]*testClient, 0, conns)
	for i := range conns {
		u := User{ID: fmt.Sprintf("u-%d", i), Name: fmt.Sprintf("m%d", i)}
		if i > 0 {
			mustJoin(t, svc, in.Code, u)
		}
		c := dial(t, svc, in.Code, u)
		c.expect("hello")
		clients = append(clients, c)
	}
	ctx := context.Background()
	for round := range 2 {
		before := make([]int, conns)
		for i, c := range clients {
			before[i] = c.p.pinged()
		}
		pinged := 0
		for tick := range pingSlots {
			var whole bool
			if err := svc.exec(ctx, in.Code, func(a *actor) error {
				whole = a.pingSome()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if whole != (tick == pingSlots-1) {
				t.Fatalf("round %d, tick %d: pingSome reported a whole interval: %v", round, tick, whole)
			}
			n := 0
			for i, c := range clients {
				switch got := c.p.pinged() - before[i]; got {
				case 0:
				case 1:
					n++
				default:
					t.Fatalf("round %d, tick %d: connection %d pinged %d times", round, tick, i, got)
				}
			}
			// A tick pings two or three of the 60 (60/25), never all.
			if got := n - pinged; got < conns/pingSlots || got > conns/pingSlots+1 {
				t.Fatalf("round %d, tick %d pinged %d of %d connections", round, tick, got, conns)
			}
			pinged = n
		}
		for i, c := range clients {
			if got := c.p.pinged() - before[i]; got != 1 {
				t.Fatalf("round %d: connection %d pinged %d times in one interval", round, i, got)
			}
		}
	}
}
