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
	if err != nil || !bytes.HasPrefix(hello, []byte(helloMark)) {
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
	q := queueRoom{srv: srv, code: code, token: token}
	fillers, err := q.fill()
	defer closeAll(fillers)
	if err != nil {
		return err
	}
	v, err := q.join("victim2", net.IPv4(127, 3, 0, 3))
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
	tabs, err := q.attacker(10)
	defer closeAll(tabs)
	if err != nil {
		return err
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

// queueRoom is the room of the queue flood, joined through its invite link.
type queueRoom struct {
	srv         *server
	code, token string
}

// join makes a guest from ip and opens their room websocket.
func (q queueRoom) join(name string, ip net.IP) (*websocket.Conn, error) {
	g := fromAddr(q.srv.base, ip)
	resp, body, err := g.Post("/i/"+q.token, "/i/"+q.token, url.Values{"name": {name}}, "")
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("guest %s: %v %s", name, err, body)
	}
	return dialRoom(q.srv.base, q.code, g.Session(), ip)
}

// fill has ten members add 20 long links each, within their own budgets,
// and returns once everything they caused has reached another member. The
// fillers stay connected: the caller closes them.
func (q queueRoom) fill() ([]*websocket.Conn, error) {
	v, err := q.join("victim", net.IPv4(127, 3, 0, 2))
	if err != nil {
		return nil, err
	}
	defer v.Close()
	long := strings.Repeat("x", 1900)
	var fillers []*websocket.Conn
	for k := range 10 {
		c, err := q.join(fmt.Sprint("filler", k), net.IPv4(127, 3, 1, byte(k+1)))
		if err != nil {
			return fillers, err
		}
		fillers = append(fillers, c)
		go drainConn(c)
		for i := range 20 {
			_ = c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"queue_add","url":"https://example.org/%s%03d.mp4"}`, long, k*20+i))
		}
	}
	_ = v.SetReadDeadline(time.Now().Add(2 * time.Second))
	drainConn(v)
	return fillers, nil
}

// attacker is one guest with n tabs open in the room, each read and
// ignored.
func (q queueRoom) attacker(n int) ([]*websocket.Conn, error) {
	ip := net.IPv4(127, 3, 0, 1)
	g := fromAddr(q.srv.base, ip)
	if resp, body, err := g.Post("/i/"+q.token, "/i/"+q.token, url.Values{"name": {"attacker"}}, ""); err != nil || resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("attacker: %v %s", err, body)
	}
	var tabs []*websocket.Conn
	for range n {
		a, err := dialRoom(q.srv.base, q.code, g.Session(), ip)
		if err != nil {
			return tabs, err
		}
		tabs = append(tabs, a)
		go drainConn(a)
	}
	return tabs, nil
}

// drainConn reads c until it fails.
func drainConn(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
