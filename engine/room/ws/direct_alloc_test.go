//go:build linux

package ws

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"watchparty/engine/room/proto"
)

// A message sent to a member with nothing queued (here a reader that keeps
// up, frames up to 10 KB, under the socket's first send buffer) is written
// at once, as one whole frame of each length class, and allocates nothing:
// a broadcast's cost per member is the system call.
func TestDirectSendAllocatesNothing(t *testing.T) {
	client, server := tcpPair(t)
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

// tcpPair connects a client to a server socket over loopback; both are
// closed when the test ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return client, server
}

// netOnly is a Conn of which the writer uses only the socket.
type netOnly struct {
	Conn
	nc net.Conn
}

func (f netOnly) NetConn() net.Conn { return f.nc }
func (f netOnly) Close() error      { return f.nc.Close() }

// The close the websocket library writes by itself, from the reader, when
// the peer breaks the protocol goes out as a direct write while no writer
// runs: to a member whose socket is full it hands the frame to the writer
// instead of waiting, so the reader never holds the socket that the room's
// next direct write needs.
func TestLibraryWriteNeverWaits(t *testing.T) {
	client, server := tcpPair(t)
	// Fill the socket until it takes nothing more: the client reads nothing.
	rc := directConn(server)
	junk := make([]byte, 64<<10)
	for full := false; !full; {
		if err := rc.Write(func(fd uintptr) bool {
			n, err := writeNow(fd, nil, junk)
			full = n == 0 && err == nil
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}

	e := New(nil, Options{Log: slog.New(slog.DiscardHandler), WriteTimeout: time.Minute})
	defer e.Close()
	c := &outbox{e: e, user: "u", wc: directConn(server), conn: netOnly{nc: server}}
	lc := &libConn{Conn: server, c: c}
	closeFrame := []byte{0x88, 0x02, 0x03, 0xea} // close, 1002
	done := make(chan error, 1)
	go func() {
		n, err := lc.Write(closeFrame)
		if err == nil && n != len(closeFrame) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		client.Close()
		t.Fatal("the library's write waited on the full socket")
	}
	if e.Deferred() != 1 {
		t.Fatalf("the frame was not left to the writer (%d deferred)", e.Deferred())
	}
	// The writer waits on the full socket until the peer goes away.
	client.Close()
	c.shutdown()
}
