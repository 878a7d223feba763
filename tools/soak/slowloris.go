package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// slowloris holds n HTTP connections that each send a partial request
// header and then nothing, and reports the server memory they hold (RSS
// delta), whether the server keeps answering others meanwhile, and how long
// it takes the server to close them.
func slowloris(srv *server, o *options, out io.Writer) error {
	baseRSS, baseG := srv.rss(), srv.goroutines()
	fmt.Fprintf(out, "slowloris: %d connections against %s (pid %d); baseline rss %.1f MiB, goroutines %d\n",
		o.slowloris, srv.base, srv.pid(), mib(baseRSS), baseG)
	addr := srv.base[len("http://"):]
	conns := make([]net.Conn, 0, o.slowloris)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range o.slowloris {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceIP(i, o.perIP)}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nX-Slow: "); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	opened := time.Now()
	time.Sleep(2 * time.Second)
	okHealth := held(srv, out, len(conns), baseRSS, srv.rss(), baseG)
	awaitClose(srv, out, conns, opened)
	backToBaseline(srv, baseG, out)
	if okHealth != 20 {
		return fmt.Errorf("/healthz failed %d times while the slow connections were held", 20-okHealth)
	}
	return nil
}

// held prints what the n connections held cost the server, its resident
// memory (heldRSS) and goroutines over the baseline, and asks its /healthz
// 20 times meanwhile; it returns how many of those answered.
func held(srv *server, out io.Writer, n int, baseRSS, heldRSS int64, baseG int) int {
	heldG := srv.goroutines()
	okHealth := healthyOf20(srv)
	delta := heldRSS - baseRSS
	fmt.Fprintf(out, "  held: rss %.1f MiB (+%.1f MiB, %.1f KiB per connection), goroutines %d (+%d); /healthz answered %d of 20 meanwhile\n",
		mib(heldRSS), mib(delta), float64(delta)/1024/float64(n), heldG, heldG-baseG, okHealth)
	return okHealth
}

// awaitClose waits, at most 3 minutes, for the server to close each of
// conns (a read fails other than by timing out), prints how many it closed
// and when the last one went, and returns how many it closed.
func awaitClose(srv *server, out io.Writer, conns []net.Conn, opened time.Time) int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Duration
	for _, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cn.SetReadDeadline(time.Now().Add(3 * time.Minute))
			b := make([]byte, 512)
			for {
				if _, err := cn.Read(b); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						return
					}
					break
				}
			}
			closed.Add(1)
			mu.Lock()
			last = max(last, time.Since(opened))
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Fprintf(out, "  closed by the server: %d of %d, the last %.1f s after it was opened; afterwards rss %.1f MiB\n",
		closed.Load(), len(conns), last.Seconds(), mib(srv.rss()))
	return int(closed.Load())
}

// backToBaseline polls the server's go_goroutines for up to 60 s until it
// is at most base, and prints what it saw.
func backToBaseline(srv *server, base int, out io.Writer) bool {
	start := time.Now()
	g := srv.goroutines()
	for g > base && time.Since(start) < 60*time.Second {
		time.Sleep(500 * time.Millisecond)
		g = srv.goroutines()
	}
	if g <= base {
		fmt.Fprintf(out, "  goroutines back to the baseline: %d (baseline %d) %.1f s after the last close\n", g, base, time.Since(start).Seconds())
		return true
	}
	fmt.Fprintf(out, "  goroutines NOT back to the baseline after 60 s: %d (baseline %d)\n", g, base)
	return false
}

// slowlorisWS holds n room websockets, each a guest of one of -rooms rooms,
// that complete the upgrade and then send nothing (no pong, no message),
// and reports the server memory they hold (RSS delta), whether the server
// keeps answering meanwhile, how long it takes the server to close them,
// and whether its goroutines return to the baseline afterwards.
func slowlorisWS(srv *server, o *options, out io.Writer) error {
	owner := newBrowser(srv.base)
	resp, body, err := owner.Post("/login", "/login", url.Values{"email": {srv.email}, "password": {srv.pass}}, "")
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("owner log-in: %v %v %s", err, resp, body)
	}
	type target struct{ code, token string }
	rooms := make([]target, o.rooms)
	for i := range rooms {
		code, token, err := createRoom(owner, i)
		if err != nil {
			return fmt.Errorf("room %d: %w", i, err)
		}
		rooms[i] = target{code, token}
	}
	// Guests sign up first (their sessions and member records are not the
	// connections' cost), then the baseline is taken.
	sessions := make([]string, o.slowlorisWS)
	for k := range sessions {
		rm := rooms[k%len(rooms)]
		g := newBrowser(srv.base)
		resp, body, err := g.Post("/i/"+rm.token, "/i/"+rm.token, url.Values{"name": {fmt.Sprintf("silent%d", k)}}, "")
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("guest %d: %v %s", k, err, body)
		}
		sessions[k] = g.Session()
	}
	open := func() ([]net.Conn, error) {
		conns := make([]net.Conn, 0, len(sessions))
		for k, session := range sessions {
			ws, err := dialRoom(srv.base, rooms[k%len(rooms)].code, session, sourceIP(k, o.perIP))
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return nil, fmt.Errorf("websocket %d: %w", k, err)
			}
			// From here on only the raw socket is read, so no websocket
			// pong is ever sent.
			conns = append(conns, ws.NetConn())
		}
		return conns, nil
	}
	// A warm-up round, closed by us, so that the garbage of the sign-ups is
	// collected and the server's pools and caches exist before the baseline.
	g0 := srv.goroutines()
	warm, err := open()
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	for _, c := range warm {
		c.Close()
	}
	if !backToBaseline(srv, g0, io.Discard) {
		return errors.New("goroutines did not return to the baseline after the warm-up round")
	}
	baseRSS, baseG := steadyRSS(srv), srv.goroutines()
	fmt.Fprintf(out, "slowloris-ws: %d silent room websockets in %d rooms against %s (pid %d); baseline after a warm-up round: rss %.1f MiB, goroutines %d\n",
		o.slowlorisWS, o.rooms, srv.base, srv.pid(), mib(baseRSS), baseG)
	conns, err := open()
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	opened := time.Now()
	okHealth := held(srv, out, len(conns), baseRSS, steadyRSS(srv), baseG)
	closed := awaitClose(srv, out, conns, opened)
	back := backToBaseline(srv, baseG, out)
	switch {
	case okHealth != 20:
		return fmt.Errorf("/healthz failed %d times while the silent websockets were held", 20-okHealth)
	case closed != len(conns):
		return fmt.Errorf("%d silent websockets were still open after 3 minutes", len(conns)-closed)
	case !back:
		return errors.New("goroutines did not return to the baseline")
	}
	return nil
}

// steadyRSS waits (at most 30 s) until the server's RSS changes by less
// than 256 KiB between two readings a second apart: the garbage of setup
// has been collected and returned, so that it is not counted for or
// against the connections.
func steadyRSS(srv *server) int64 {
	prev := srv.rss()
	for range 30 {
		time.Sleep(time.Second)
		r := srv.rss()
		if d := r - prev; d > -256<<10 && d < 256<<10 {
			return r
		}
		prev = r
	}
	return prev
}

// healthyOf20 asks the server's /healthz 20 times and counts the answers
// that were 200: whether it keeps serving while connections are held.
func healthyOf20(srv *server) int {
	c := &http.Client{Timeout: 5 * time.Second}
	ok := 0
	for range 20 {
		if resp, err := c.Get(srv.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok++
			}
		}
	}
	return ok
}
