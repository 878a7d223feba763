package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

// TestScheduleDelayJitterOrder: each chunk arrives its path's delay after
// it was read, varied by at most the jitter, never before the chunk before
// it (TCP keeps order).
func TestScheduleDelayJitterOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &schedule{link: &link{}, rnd: rand.New(rand.NewPCG(1, 2))}
	p := Path{DelayMS: 100, JitterMS: 30}
	var prev time.Time
	early, late := false, false
	for i := range 500 {
		now := t0.Add(ms(float64(i) * 40))
		at := s.deliver(now, 100, p)
		d := at.Sub(now)
		// Later than 130 ms only when held behind the chunk before it.
		if d < ms(70) || (d > ms(130) && !at.Equal(prev)) {
			t.Fatalf("chunk %d delayed %v; want 100 ms ± 30", i, d)
		}
		if at.Before(prev) {
			t.Fatalf("chunk %d delivered at %v, before the chunk before it (%v)", i, at, prev)
		}
		early = early || d < ms(80)
		late = late || d > ms(120)
		prev = at
	}
	if !early || !late {
		t.Errorf("500 chunks never used the jitter's range (early %v, late %v)", early, late)
	}
}

// TestScheduleHandshake: nothing leaves before the connection's handshake
// is done (ready, a round trip after it was opened); a connection opened
// long before its first request has paid it by then.
func TestScheduleHandshake(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := Path{DelayMS: 100}
	s := &schedule{link: &link{}, rnd: rand.New(rand.NewPCG(1, 2)), ready: t0.Add(ms(200))}
	if at := s.deliver(t0.Add(ms(5)), 100, p); !at.Equal(t0.Add(ms(300))) {
		t.Errorf("a request sent 5 ms after the connect arrives %v after it; want 300ms (handshake 200 + 100)", at.Sub(t0))
	}
	if at := s.deliver(t0.Add(ms(250)), 100, p); !at.Equal(t0.Add(ms(350))) {
		t.Errorf("the next chunk arrives %v after the connect; want 350ms (its delay alone)", at.Sub(t0))
	}
	// Two connections on one path: one opened long before its first
	// request, one just opened; the new one's handshake holds only its own.
	l := &link{}
	warm := &schedule{link: l, rnd: rand.New(rand.NewPCG(1, 2)), ready: t0.Add(ms(200))}
	cold := &schedule{link: l, rnd: rand.New(rand.NewPCG(3, 4)), ready: t0.Add(ms(640))}
	if at := cold.deliver(t0.Add(ms(445)), 100, p); !at.Equal(t0.Add(ms(740))) {
		t.Errorf("a request on a connection opened at 440 arrives %v after 0; want 740ms (its handshake until 640, then 100)", at.Sub(t0))
	}
	if at := warm.deliver(t0.Add(ms(450)), 100, p); !at.Equal(t0.Add(ms(550))) {
		t.Errorf("a first request 450 ms after the connect arrives %v after it; want 550ms (the handshake long done)", at.Sub(t0))
	}
}

// TestScheduleRate: a capped link passes n bytes in n*8/kbps ms, shared by
// the connections on it, and the delay comes on top.
func TestScheduleRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := &link{}
	a := &schedule{link: l, rnd: rand.New(rand.NewPCG(1, 2))}
	b := &schedule{link: l, rnd: rand.New(rand.NewPCG(3, 4))}
	p := Path{DelayMS: 10, RateKbps: 800} // 100 bytes per ms
	if at := a.deliver(t0, 1000, p); at != t0.Add(ms(20)) {
		t.Errorf("1000 bytes at 800 kbit/s + 10 ms: delivered after %v; want 20ms", at.Sub(t0))
	}
	// A second connection waits for the link.
	if at := b.deliver(t0, 500, p); at != t0.Add(ms(25)) {
		t.Errorf("500 more bytes on the same link: delivered after %v; want 25ms", at.Sub(t0))
	}
	// An idle link starts afresh.
	t1 := t0.Add(time.Second)
	if at := a.deliver(t1, 100, p); at != t1.Add(ms(11)) {
		t.Errorf("after a pause: delivered after %v; want 11ms", at.Sub(t1))
	}
	if n := chunkSize(p); n != 2000 {
		t.Errorf("chunkSize at 800 kbit/s = %d; want 2000 (20 ms worth)", n)
	}
	if n := chunkSize(Path{}); n != maxChunk {
		t.Errorf("chunkSize uncapped = %d; want %d", n, maxChunk)
	}
}

// TestScheduleLoss: a lost segment stalls its chunk and the ones after it.
func TestScheduleLoss(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &schedule{link: &link{}, rnd: rand.New(rand.NewPCG(1, 2))}
	if at := s.deliver(t0, 100, Path{DelayMS: 20, Loss: 1, StallMS: 300}); at != t0.Add(ms(320)) {
		t.Errorf("lost: delivered after %v; want 320ms", at.Sub(t0))
	}
	// The next chunk, read 10 ms later and not lost, waits behind it.
	if at := s.deliver(t0.Add(ms(10)), 100, Path{DelayMS: 20}); at != t0.Add(ms(320)) {
		t.Errorf("behind a stall: delivered after %v; want 320ms", at.Sub(t0))
	}
	stalls := 0
	for i := range 1000 {
		now := t0.Add(time.Duration(i+1) * time.Second)
		if s.deliver(now, 100, Path{DelayMS: 20, Loss: 0.05}).Sub(now) > ms(100) {
			stalls++
		}
	}
	if stalls < 20 || stalls > 100 {
		t.Errorf("5%% loss stalled %d of 1000 chunks", stalls)
	}

	// A loss past a chunk's first segment holds only the lost segment and
	// those after it: the bytes before come on time, as over TCP.
	var cuts int
	for i := range 200 {
		now := t0.Add(time.Duration(2000+i) * time.Second)
		n := 20 * segmentBytes
		at := s.deliver(now, n, Path{DelayMS: 20, Loss: 0.1, StallMS: 300})
		switch {
		case s.stalled == 0:
			if s.cut != 0 || at != now.Add(ms(20)) {
				t.Fatalf("no loss: cut %d, delivered after %v", s.cut, at.Sub(now))
			}
		case s.cut > 0:
			cuts++
			if s.cut%segmentBytes != 0 || s.cut >= n || s.before != now.Add(ms(20)) || at != now.Add(ms(320)) {
				t.Fatalf("a loss in the chunk: %d bytes on time at %v, the rest after %v", s.cut, s.before.Sub(now), at.Sub(now))
			}
		default:
			if at != now.Add(ms(320)) {
				t.Fatalf("the first segment lost: delivered after %v; want 320ms", at.Sub(now))
			}
		}
	}
	if cuts < 50 {
		t.Errorf("10%% loss a segment cut %d of 200 chunks of 20 segments", cuts)
	}
}

// TestScheduleHold: a hold (HoldResponse) stalls the next chunk once, as a
// loss would, and is reported as its stall.
func TestScheduleHold(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &schedule{link: &link{}, rnd: rand.New(rand.NewPCG(1, 2))}
	s.hold.Store(200)
	if at := s.deliver(t0, 100, Path{DelayMS: 20}); at != t0.Add(ms(220)) || s.stalled != 200 {
		t.Errorf("held: delivered after %v, stall %v; want 220ms, 200", at.Sub(t0), s.stalled)
	}
	now := t0.Add(ms(300))
	if at := s.deliver(now, 100, Path{DelayMS: 20}); at != now.Add(ms(20)) || s.stalled != 0 {
		t.Errorf("after the hold: delivered after %v, stall %v; want 20ms, 0", at.Sub(now), s.stalled)
	}
}

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile("C=100/80,30,1%,400")
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{Name: "C", Up: Path{DelayMS: 100, JitterMS: 30, Loss: 0.01}, Down: Path{DelayMS: 80, JitterMS: 30, Loss: 0.01, RateKbps: 400}}
	if p != want {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	if p, err := ParseProfile("D=10/90"); err != nil || p.Up.DelayMS != 10 || p.Down.DelayMS != 90 || p.RTT() != 100 {
		t.Errorf("D=10/90: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "C", "=1/2", "C=1", "C=a/2", "C=1/2,x", "C=1/2,1,200%", "C=1/2,1,1,1,1", "C=-1/2", "C=1/99999"} {
		if _, err := ParseProfile(bad); err == nil {
			t.Errorf("ParseProfile(%q) accepted", bad)
		}
	}
}

// echoServer listens on loopback and echoes every connection until the
// client's end, then closes it; it stops with the test.
func echoServer(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			}()
		}
	}()
	return ln
}

// echoTrip sends msg on c, a connection to an echo server, and returns how
// long it took to come back.
func echoTrip(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	return time.Since(start)
}

// TestShaperPassesBytes: a real connection through the proxy to an echo
// server on loopback carries everything, in order, both ways; the end of
// the client's stream reaches the server; and a round trip takes at least
// the path's delays (plus the handshake's round trip for the first bytes).
func TestShaperPassesBytes(t *testing.T) {
	ln := echoServer(t)
	prof := Profile{Name: "t", Up: Path{DelayMS: 15, JitterMS: 5}, Down: Path{DelayMS: 25, JitterMS: 5, Loss: 0.01, StallMS: 20}}
	sh, err := NewShaper(ln.Addr().String(), prof, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if got := sh.URL("http://" + ln.Addr().String() + "/r/X"); got != "http://"+sh.Addr()+"/r/X" {
		t.Errorf("URL = %q", got)
	}

	start := time.Now()
	c, err := net.Dial("tcp", sh.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	// Handshake (40 ms) + up (≥10) + down (≥20): at least 70 ms.
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Errorf("first round trip took %v; the path adds at least 70ms", d)
	}

	payload := bytes.Repeat([]byte(strings.Repeat("0123456789abcdef", 64)), 300) // 300 KiB
	go func() {
		_, _ = c.Write(payload)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, not the %d sent (or not in order)", len(got), len(payload))
	}

	// A profile change applies to the open proxy.
	sh.Set(Profile{Name: "slow", Down: Path{DelayMS: 120}})
	if sh.Profile().Name != "slow" {
		t.Errorf("Set did not change the profile")
	}
	start = time.Now() // the handshake's round trip counts from the connect
	c2, err := net.Dial("tcp", sh.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = c2.Write([]byte("x"))
	if _, err := io.ReadFull(c2, buf[:1]); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Errorf("round trip after the change took %v; want at least 240ms (handshake 120 + down 120)", d)
	}
}

// TestShaperSetAppliesToAnIdleConnection: a change of profile applies to
// the next chunk in each direction of a connection that sat idle, as a
// change of network would: a round trip over a 5/5 ms path, then one after
// the path became 100/100, which takes at least 200 ms.
func TestShaperSetAppliesToAnIdleConnection(t *testing.T) {
	ln := echoServer(t)
	sh, err := NewShaper(ln.Addr().String(), Profile{Name: "fast", Up: Path{DelayMS: 5}, Down: Path{DelayMS: 5}}, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	c, err := net.Dial("tcp", sh.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoTrip(t, c, "before")
	sh.Set(Profile{Name: "slow", Up: Path{DelayMS: 100}, Down: Path{DelayMS: 100}})
	if d := echoTrip(t, c, "after"); d < 200*time.Millisecond {
		t.Errorf("the first round trip after the path became 100/100 ms took %v; want at least 200ms", d)
	}
}

// TestShaperHoldsAResponse: HoldResponse holds the answer to the one
// request that names it, once; the requests before and after it are not
// held.
func TestShaperHoldsAResponse(t *testing.T) {
	ln := echoServer(t)
	sh, err := NewShaper(ln.Addr().String(), Profile{Name: "t"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	sh.HoldResponse("bytes=16384-", 300)
	c, err := net.Dial("tcp", sh.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	trip := func(req string) time.Duration { return echoTrip(t, c, req) }
	trip("Range: bytes=0-\r\n")
	if held := trip("Range: bytes=16384-\r\n"); held < 300*time.Millisecond {
		t.Errorf("the named request's answer came after %v; want it held 300ms", held)
	}
	trip("Range: bytes=16384-\r\n")
	var stalls []float64
	for _, e := range sh.Wire() {
		if e.Kind == "data" {
			stalls = append(stalls, e.Stall)
		}
	}
	if len(stalls) != 3 || stalls[0] != 0 || stalls[1] != 300 || stalls[2] != 0 {
		t.Errorf("the answers' pieces were held %v ms; want [0 300 0]: the named one, once", stalls)
	}
}
