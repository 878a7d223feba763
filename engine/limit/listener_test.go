package limit

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestListenerBoundsConnectionsPerAddress: past the bound, connections from
// one address are closed at once; others still get in; a connection the
// server closes gives its slot back; exempt addresses are not counted.
func TestListenerBoundsConnectionsPerAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, 3, func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.9") })
	defer ln.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	server := func() net.Conn {
		select {
		case c := <-accepted:
			t.Cleanup(func() { c.Close() })
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	var held []net.Conn
	for range 3 {
		dial("127.0.0.5")
		held = append(held, server())
	}
	if !closedByServer(dial("127.0.0.5")) {
		t.Fatal("a 4th connection from one address stayed open")
	}
	if ln.Refused() != 1 {
		t.Fatalf("refused %d, want 1", ln.Refused())
	}
	dial("127.0.0.6")
	server()
	held[0].Close()
	dial("127.0.0.5")
	server()
	for range 5 {
		dial("127.0.0.9") // exempt: never counted
		server()
	}
}
