package app_test

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
)

// TestHTTPConnectionsPerAddressBounded: one address cannot hold more than
// limits.http_conns_per_ip connections to the server (each would hold
// buffers until its idle timeout); another address is served meanwhile.
func TestHTTPConnectionsPerAddressBounded(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) { c.Limits.HTTPConnsPerIP = 5 })
	from := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for range 5 {
		from("127.0.0.44")
	}
	extra := from("127.0.0.44")
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := extra.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a 6th connection from one address was kept: %v", err)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("another address during the flood: %v %v", resp, err)
	}
	resp.Body.Close()
}
