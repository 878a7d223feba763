package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"watchparty/tools/internal/visitor"

	"github.com/fasthttp/websocket"
)

// attack runs one of the abuse scenarios of docs/security.md against the
// server on its default limits and prints what it cost the server and the
// other members.
func attack(srv *server, o *options, out io.Writer) error {
	switch o.attack {
	case "guests":
		return guestFlood(srv, o, out)
	case "queue":
		return queueFlood(srv, o, out)
	}
	return fmt.Errorf("unknown -attack %q (want guests or queue)", o.attack)
}

// fromAddr is a browser whose connections come from a loopback address.
func fromAddr(base string, ip net.IP) *browser {
	b := visitor.New(base)
	b.Client.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4}
	return b
}

func ownerRoom(srv *server) (*browser, string, string, error) {
	owner := newBrowser(srv.base)
	if resp, body, err := owner.Post("/login", "/login", url.Values{"email": {srv.email}, "password": {srv.pass}}, ""); err != nil || resp.StatusCode != http.StatusSeeOther {
		return nil, "", "", fmt.Errorf("owner log-in: %v %s", err, body)
	}
	code, token, err := createRoom(owner, 0)
	return owner, code, token, err
}

// guestFlood tries to make -attempts guests in one room through its invite
// link, from 64 loopback addresses at once, as fast as the server answers
// (bounded by -duration), then measures the owner's hello and the server.
func guestFlood(srv *server, o *options, out io.Writer) error {
	owner, code, token, err := ownerRoom(srv)
	if err != nil {
		return err
	}
	rssBefore := srv.rss()
	var attempts, joined, limited, full, other atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := net.IPv4(127, 2, 0, byte(w+1))
			for ctx.Err() == nil && attempts.Add(1) <= int64(o.attempts) {
				// A fresh browser each time (no cookies), as a flood would be;
				// it loads the invite page for its CSRF token, then posts.
				b := fromAddr(srv.base, ip)
				resp, _, err := b.Post("/i/"+token, "/i/"+token, url.Values{"name": {"flood"}}, "")
				b.Client.CloseIdleConnections()
				if err != nil {
					other.Add(1)
					continue
				}
				switch resp.StatusCode {
				case http.StatusSeeOther:
					joined.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				case http.StatusConflict:
					full.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	n := min(attempts.Load(), int64(o.attempts))
	conn, err := dialRoom(srv.base, code, owner.Session(), net.IPv4(127, 0, 0, 1))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, hello, err := conn.ReadMessage()
	if err != nil || !bytes.HasPrefix(hello, helloMark) {
		return fmt.Errorf("owner hello: %v", err)
	}
	fmt.Fprintf(out, "guest flood: %d attempts in %s from 64 addresses (%.0f/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(out, "  joined %d, refused as too fast %d, refused as full %d, other %d\n", joined.Load(), limited.Load(), full.Load(), other.Load())
	fmt.Fprintf(out, "  owner's hello: %d bytes; server rss %.1f MiB before, %.1f MiB after (Go heap in use %.1f MiB)\n", len(hello),
		mib(rssBefore), mib(srv.rss()), srv.metric("go_memstats_heap_inuse_bytes")/(1<<20))
	return nil
}

// queueFlood builds a 200-item queue of long links, then has one member
// send queue moves from ten tabs (100 a second in all) for -duration while
// another member counts what reaches it.
func queueFlood(srv *server, o *options, out io.Writer) error {
	_, code, token, err := ownerRoom(srv)
	if err != nil {
		return err
	}
	join := func(name string, ip net.IP) (*websocket.Conn, error) {
		g := fromAddr(srv.base, ip)
		resp, body, err := g.Post("/i/"+token, "/i/"+token, url.Values{"name": {name}}, "")
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("guest %s: %v %s", name, err, body)
		}
		return dialRoom(srv.base, code, g.Session(), ip)
	}
	drain := func(c *websocket.Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	v, err := join("victim", net.IPv4(127, 3, 0, 2))
	if err != nil {
		return err
	}
	defer v.Close()
	// Ten members add 20 links each, within their own budgets.
	long := strings.Repeat("x", 1900)
	for k := range 10 {
		c, err := join(fmt.Sprint("filler", k), net.IPv4(127, 3, 1, byte(k+1)))
		if err != nil {
			return err
		}
		go drain(c)
		for i := range 20 {
			_ = c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"queue_add","url":"https://example.org/%s%03d.mp4"}`, long, k*20+i))
		}
		defer c.Close()
	}
	// Everything the fillers caused arrives before the count starts.
	_ = v.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := v.ReadMessage(); err != nil {
			break
		}
	}
	v.Close()
	v, err = join("victim2", net.IPv4(127, 3, 0, 3))
	if err != nil {
		return err
	}
	defer v.Close()
	_ = v.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, hello, err := v.ReadMessage()
	if err != nil {
		return err
	}
	_ = v.SetReadDeadline(time.Time{})
	var tabs []*websocket.Conn
	ipA := net.IPv4(127, 3, 0, 1)
	g := fromAddr(srv.base, ipA)
	if resp, body, err := g.Post("/i/"+token, "/i/"+token, url.Values{"name": {"attacker"}}, ""); err != nil || resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("attacker: %v %s", err, body)
	}
	for range 10 {
		a, err := dialRoom(srv.base, code, g.Session(), ipA)
		if err != nil {
			return err
		}
		defer a.Close()
		go drain(a)
		tabs = append(tabs, a)
	}
	var got, frames atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := v.ReadMessage()
			if err != nil {
				return
			}
			got.Add(int64(len(data)))
			frames.Add(1)
		}
	}()
	sent := 0
	start := time.Now()
	for time.Since(start) < o.duration {
		for _, a := range tabs {
			if a.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"queue_move","seq":%d,"t":%d}`, 1+sent%200, sent%2)) == nil {
				sent++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	_ = v.SetReadDeadline(time.Now().Add(time.Second))
	<-done
	fmt.Fprintf(out, "queue flood: %d queue moves from one member's 10 tabs in %s (%.0f/s); the queue holds ~200 links of 1.9 KB (hello %d bytes)\n",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), len(hello))
	fmt.Fprintf(out, "  another member received %d frames, %d bytes: %.1f KB/s\n", frames.Load(), got.Load(), float64(got.Load())/1024/took.Seconds())
	fmt.Fprintf(out, "  server rss %.1f MiB\n", mib(srv.rss()))
	return nil
}
