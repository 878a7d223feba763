//go:build linux

package ws

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"watchparty/engine/room/proto"
)

// A message sent to a member with nothing queued (here a reader that keeps
// up, frames up to 10 KB, under the socket's first send buffer) is written
// at once, as one whole frame of each length class, and allocates nothing:
// a broadcast's cost per member is the system call.
func TestDirectSendAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	e := New(nil, Options{Log: slog.New(slog.DiscardHandler)})
	c := &outbox{e: e, user: "u", wc: directConn(server)}
	if c.wc == nil {
		t.Fatal("no socket for direct writes")
	}
	for _, size := range []int{100, 1000, 10000} {
		msg := []byte(`{"type":"chat","text":"` + strings.Repeat("x", size) + `"}`)
		frame := make([]byte, maxHeader+len(msg))
		read := func() {
			c.dw.header(1, len(msg))
			want := c.dw.hlen + len(msg)
			if _, err := io.ReadFull(client, frame[:want]); err != nil {
				t.Fatal(err)
			}
			if string(frame[c.dw.hlen:want]) != string(msg) || frame[0] != 0x81 {
				t.Fatalf("frame of %d bytes: header % x, body differs", size, frame[:c.dw.hlen])
			}
		}
		// The first send binds the write function, once per connection.
		if !c.Send(proto.Chat, msg) {
			t.Fatal("send refused")
		}
		read()
		allocs := testing.AllocsPerRun(200, func() {
			if !c.Send(proto.Chat, msg) {
				t.Fatal("send refused")
			}
			read()
		})
		if e.Deferred() != 0 {
			t.Fatalf("a frame of %d bytes to an empty socket was not taken at once", len(msg))
		}
		if allocs != 0 {
			t.Errorf("a direct send of %d bytes allocates %.1f times", len(msg), allocs)
		}
	}
}
