package room

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"watchparty/engine/room/proto"
)

// sink is a Transport that only counts the chat frames it is handed, as
// cheaply as a transport can: what a broadcast costs beyond it is the
// room's.
type sink struct{ b *broadcastBench }

func (s sink) Send(typ proto.Type, _ []byte) bool {
	if typ == proto.Chat && s.b.got.Add(1) == s.b.want.Load() {
		s.b.done <- struct{}{}
	}
	return true
}
func (sink) Close(string, string) {}
func (sink) Ping()                {}

type broadcastBench struct {
	got, want atomic.Int64
	done      chan struct{}
}

// BenchmarkBroadcastLine is one chat line from its author to every member
// of a room: the budget checks, the store write (Badger on disk), the
// encoding and the hand-over to each connection's transport. Its allocs/op
// against the number of members is the garbage a line makes per member
// (go test -run '^$' -bench BroadcastLine -benchmem ./engine/room).
func BenchmarkBroadcastLine(b *testing.B) {
	for _, members := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			st, err := openStoreErr(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			svc := New(Options{Repo: NewBadger(st), Log: quietLog(), ParseLink: testLink, ChatPer10s: 1 << 30})
			defer st.Close()
			defer svc.Close()
			ctx := context.Background()
			owner := User{ID: "u-0", Name: "m0"}
			in, err := svc.Create(ctx, owner, "bench")
			if err != nil {
				b.Fatal(err)
			}
			bb := &broadcastBench{done: make(chan struct{}, 1)}
			var from *Conn
			for i := range members {
				u := User{ID: fmt.Sprintf("u-%d", i), Name: fmt.Sprintf("m%d", i)}
				if i > 0 {
					if _, err := svc.Join(ctx, in.Code, u, ""); err != nil {
						b.Fatal(err)
					}
				}
				c, err := svc.Connect(in.Code, u, sink{bb})
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					from = c
				}
			}
			// The "joined" lines of the members are sent before the actor
			// runs anything else: after this, only the benchmark's lines.
			if err := svc.exec(ctx, in.Code, func(*actor) error { return nil }); err != nil {
				b.Fatal(err)
			}
			bb.got.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bb.want.Store(int64(i+1) * int64(members))
				from.Receive(&proto.ClientMessage{Type: proto.Chat, Text: "a line of chat like people write"})
				<-bb.done
			}
		})
	}
}
