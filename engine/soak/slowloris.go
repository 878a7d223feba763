package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
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
	heldRSS, heldG := srv.rss(), srv.goroutines()
	c := &http.Client{Timeout: 5 * time.Second}
	okHealth := 0
	for range 20 {
		if resp, err := c.Get(srv.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				okHealth++
			}
		}
	}
	delta := heldRSS - baseRSS
	fmt.Fprintf(out, "  held: rss %.1f MiB (+%.1f MiB, %.1f KiB per connection), goroutines %d (+%d); /healthz answered %d of 20 meanwhile\n",
		mib(heldRSS), mib(delta), float64(delta)/1024/float64(o.slowloris), heldG, heldG-baseG, okHealth)

	// Each connection ends when the server closes it (a read returns).
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
	time.Sleep(2 * time.Second)
	fmt.Fprintf(out, "  closed by the server: %d of %d, the last %.1f s after it was opened; afterwards rss %.1f MiB, goroutines %d\n",
		closed.Load(), o.slowloris, last.Seconds(), mib(srv.rss()), srv.goroutines())
	if okHealth != 20 {
		return fmt.Errorf("/healthz failed %d times while the slow connections were held", 20-okHealth)
	}
	return nil
}
