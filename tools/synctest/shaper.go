package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Path shapes one direction of a player's connection.
type Path struct {
	DelayMS  float64 // one-way delay
	JitterMS float64 // each chunk's delay varies uniformly by up to this much either way
	// Loss is the share of 1448-byte segments lost (0..1). TCP delivers in
	// order, so a lost segment stalls the stream until it is sent again:
	// it and everything after it arrive StallMS late, the bytes before it
	// in its chunk on time.
	Loss    float64
	StallMS float64 // 0: 250 ms, about a retransmission timeout
	// RateKbps caps the direction's bandwidth (kbit/s, shared by all the
	// player's connections); 0 is no cap. At most QueueMS of data waits
	// for the link before the proxy stops reading, so the sender slows
	// down as it would behind a real bottleneck.
	RateKbps float64
}

// Profile is a player's path to the server: up (player to server) and down.
type Profile struct {
	Name     string
	Up, Down Path
}

// RTT is the profile's round trip without jitter, loss or queueing.
func (p Profile) RTT() float64 { return p.Up.DelayMS + p.Down.DelayMS }

func (p Profile) String() string {
	if p == (Profile{}) {
		return "loopback"
	}
	s := fmt.Sprintf("%s: up %s, down %s", p.Name, p.Up, p.Down)
	return s
}

func (p Path) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%g ms", p.DelayMS)
	if p.JitterMS > 0 {
		fmt.Fprintf(&b, " ±%g", p.JitterMS)
	}
	if p.Loss > 0 {
		fmt.Fprintf(&b, " loss %g%%", p.Loss*100)
	}
	if p.RateKbps > 0 {
		fmt.Fprintf(&b, " cap %g kbit/s", p.RateKbps)
	}
	return b.String()
}

const (
	segmentBytes = 1448                  // one TCP segment's payload
	queueMS      = 300                   // longest queue behind a capped link
	defaultStall = 250                   // ms a lost segment stalls the stream
	maxChunk     = 32 << 10              // largest read passed on as one piece
	chunkSpan    = 20 * time.Millisecond // a capped link passes on this much time's worth at once
)

// link is the shared state of one direction of a player's path: when its
// bandwidth is next free.
type link struct {
	mu   sync.Mutex
	free time.Time
}

// transmit books n bytes on the link at rate kbit/s from now and returns
// when their last bit has left.
func (l *link) transmit(now time.Time, n int, kbps float64) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free.Before(now) {
		l.free = now
	}
	if kbps > 0 {
		l.free = l.free.Add(time.Duration(float64(n) * 8 / kbps * float64(time.Millisecond)))
	}
	return l.free
}

// schedule is the arithmetic of one direction of one connection, apart
// from the I/O so that it can be tested with made-up instants.
type schedule struct {
	link *link
	rnd  *rand.Rand
	last time.Time // when the previous chunk is delivered: TCP keeps order
	// ready is when the connection's handshake is done (a round trip after
	// it was opened): nothing leaves before. A connection the browser
	// opened ahead of its first request (Chromium opens one more when a
	// navigation starts) has paid it by then, as over TCP.
	ready   time.Time
	stalled float64 // ms a loss added to the last chunk
	// cut is how many of the last chunk's bytes came before its lost
	// segment, and before when they are delivered: TCP hands the receiver
	// every byte up to a loss, and holds only the lost segment and those
	// after it. 0 when nothing was lost, or the chunk's first segment was.
	cut    int
	before time.Time
	// hold is ms a loss adds to the next chunk (HoldResponse), set from
	// the other direction's goroutine.
	hold atomic.Int64
	// peer is the other direction's schedule (on the way up only).
	peer *schedule
}

// deliver returns when a chunk of n bytes read at now reaches the other
// side over path p.
func (s *schedule) deliver(now time.Time, n int, p Path) time.Time {
	sent := s.link.transmit(now, n, p.RateKbps)
	if sent.Before(s.ready) {
		sent = s.ready // after the link's booking: other connections' data does not wait
	}
	d := p.DelayMS
	if p.JitterMS > 0 {
		d += (s.rnd.Float64()*2 - 1) * p.JitterMS
	}
	s.stalled, s.cut = 0, 0
	if h := s.hold.Swap(0); h > 0 {
		s.stalled = float64(h)
	} else if p.Loss > 0 {
		segs := (n + segmentBytes - 1) / segmentBytes
		for i := range segs {
			if s.rnd.Float64() < p.Loss {
				s.stalled = p.StallMS
				if s.stalled <= 0 {
					s.stalled = defaultStall
				}
				s.cut = i * segmentBytes
				break
			}
		}
	}
	on := sent.Add(time.Duration(max(d, 0) * float64(time.Millisecond)))
	at := on.Add(time.Duration(s.stalled * float64(time.Millisecond)))
	s.before = later(on, s.last)
	at = later(at, s.last)
	s.last = at
	return at
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// chunkSize is how much the proxy reads at once over path p: a capped link
// passes data on in pieces of chunkSpan's worth, so that bandwidth shows
// as a steady flow.
func chunkSize(p Path) int {
	if p.RateKbps <= 0 {
		return maxChunk
	}
	n := int(p.RateKbps * 1000 / 8 * chunkSpan.Seconds())
	return min(max(n, segmentBytes), maxChunk)
}

// Shaper is a TCP proxy on loopback in front of the server for one player:
// every connection the player's browser opens to it is passed on to the
// server, each direction delayed, jittered, stalled and capped by the
// player's profile. Kernel netem would need privileges this machine's test
// users do not have; the proxy needs none.
type Shaper struct {
	ln      net.Listener
	target  string
	profile atomic.Pointer[Profile]
	up      link
	down    link
	seed    uint64
	wire    wireLog // what went through, for the figures

	mu     sync.Mutex
	conns  map[net.Conn]bool
	holds  []held
	closed bool
	wg     sync.WaitGroup
}

// NewShaper listens on a loopback port and forwards to target (host:port).
func NewShaper(target string, p Profile, seed uint64) (*Shaper, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Shaper{ln: ln, target: target, seed: seed, conns: map[net.Conn]bool{}}
	s.profile.Store(&p)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the proxy's host:port.
func (s *Shaper) Addr() string { return s.ln.Addr().String() }

// URL turns a URL of the server into the same URL through the proxy.
func (s *Shaper) URL(serverURL string) string {
	return strings.Replace(serverURL, s.target, s.Addr(), 1)
}

// Profile is the current profile.
func (s *Shaper) Profile() Profile { return *s.profile.Load() }

// Wire returns what went through the proxy so far.
func (s *Shaper) Wire() []WireEvent { return s.wire.events() }

// Set changes the profile of every connection, open or new: a network
// change (Wi-Fi to mobile, a link that gets congested, one that recovers).
func (s *Shaper) Set(p Profile) { s.profile.Store(&p) }

// held is a response HoldResponse holds.
type held struct {
	request []byte
	ms      int64
}

// HoldResponse holds the first piece of the response to the next request
// that contains request (e.g. a Range header's "bytes=1234-") ms longer,
// as a loss of its first segment would: once, on top of the profile.
func (s *Shaper) HoldResponse(request string, ms int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds = append(s.holds, held{[]byte(request), int64(ms)})
}

// holdFor is the hold of the first pending HoldResponse that b's request
// matches, taken off the list; 0 when none does.
func (s *Shaper) holdFor(b []byte) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.holds {
		if bytes.Contains(b, h.request) {
			s.holds = append(s.holds[:i], s.holds[i+1:]...)
			return h.ms
		}
	}
	return 0
}

// Close stops the proxy and closes every connection through it.
func (s *Shaper) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Shaper) track(c net.Conn, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && s.closed {
		return false
	}
	if on {
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
	return true
}

func (s *Shaper) accept() {
	defer s.wg.Done()
	var n uint64
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		n++
		s.wg.Add(1)
		go s.serve(c.(*net.TCPConn), n)
	}
}

// serve passes one connection on to the server. Nothing leaves until a
// round trip after the connection was opened, as a TCP handshake over the
// path would take.
func (s *Shaper) serve(c *net.TCPConn, n uint64) {
	defer s.wg.Done()
	u, err := net.Dial("tcp", s.target)
	if err != nil {
		_ = c.Close()
		return
	}
	uc := u.(*net.TCPConn)
	if !s.track(c, true) || !s.track(uc, true) {
		_ = c.Close()
		_ = uc.Close()
		return
	}
	defer func() {
		s.track(c, false)
		s.track(uc, false)
		_ = c.Close()
		_ = uc.Close()
	}()
	opened := time.Now()
	s.wire.add(WireEvent{At: msOf(opened), Conn: n, Kind: "open"})
	upSched := &schedule{link: &s.up, rnd: rand.New(rand.NewPCG(s.seed, n*2)), ready: opened.Add(time.Duration(s.Profile().RTT() * float64(time.Millisecond)))}
	downSched := &schedule{link: &s.down, rnd: rand.New(rand.NewPCG(s.seed, n*2+1))}
	upSched.peer = downSched
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.pipe(c, uc, upSched, n, true)
	}()
	go func() {
		defer wg.Done()
		s.pipe(uc, c, downSched, n, false)
	}()
	wg.Wait()
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst (connection conn, up: from the player to the
// server), each chunk released at the instant its schedule says. The end of
// src is passed on (a half close) after the last chunk.
func (s *Shaper) pipe(src, dst *net.TCPConn, sc *schedule, conn uint64, up bool) {
	path := func(p *Profile) Path {
		if up {
			return p.Up
		}
		return p.Down
	}
	ch := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range ch {
			if d := time.Until(c.at); d > 0 {
				time.Sleep(d)
			}
			if c.b == nil {
				_ = dst.CloseWrite()
				continue
			}
			if _, err := dst.Write(c.b); err != nil {
				_ = src.Close() // the other side is gone: stop reading
				for range ch {
				}
				return
			}
		}
	}()
	defer func() {
		close(ch)
		<-done
	}()
	for {
		buf := make([]byte, chunkSize(path(s.profile.Load())))
		n, err := src.Read(buf)
		now := time.Now()
		// The profile when the chunk came, not when the read began: on an
		// idle connection that was the previous chunk's time, and a change
		// (Set) would have missed the first chunk after it in each direction.
		p := path(s.profile.Load())
		if n > 0 {
			if up {
				if h := s.holdFor(buf[:n]); h > 0 {
					sc.peer.hold.Store(h)
				}
			}
			at := sc.deliver(now, n, p)
			b := buf[:n]
			if sc.cut > 0 {
				s.wire.observe(conn, up, b[:sc.cut], sc.before, 0)
				ch <- chunk{b: b[:sc.cut], at: sc.before}
				b = b[sc.cut:]
			}
			s.wire.observe(conn, up, b, at, sc.stalled)
			ch <- chunk{b: b, at: at}
			// A capped link holds at most queueMS of data: the proxy stops
			// reading, and the sender's TCP window fills.
			if p.RateKbps > 0 {
				sc.link.mu.Lock()
				wait := time.Until(sc.link.free) - queueMS*time.Millisecond
				sc.link.mu.Unlock()
				if wait > 0 {
					time.Sleep(wait)
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				ch <- chunk{at: sc.last}
			}
			return
		}
	}
}

// ParseProfile reads a profile written as
//
//	name=up/down[,jitter][,loss%][,capKbps]
//
// e.g. "C=100/100,30,1%" or "D=10/90" or "E=5/5,1,,400" (delays and jitter in
// ms, applied to both directions; the cap to the down direction).
func ParseProfile(s string) (Profile, error) {
	name, spec, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Profile{}, fmt.Errorf("profile %q: want name=up/down[,jitter][,loss%%][,cap]", s)
	}
	parts := strings.Split(spec, ",")
	ud := strings.Split(parts[0], "/")
	if len(ud) != 2 {
		return Profile{}, fmt.Errorf("profile %q: the delays are up/down in ms", s)
	}
	num := func(x string) (float64, error) {
		if x == "" {
			return 0, nil
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(x, "%"), 64)
		if err != nil || v < 0 || v > 60000 {
			return 0, fmt.Errorf("profile %q: %q is not a number from 0 to 60000", s, x)
		}
		return v, nil
	}
	p := Profile{Name: name}
	var err error
	if p.Up.DelayMS, err = num(ud[0]); err != nil {
		return Profile{}, err
	}
	if p.Down.DelayMS, err = num(ud[1]); err != nil {
		return Profile{}, err
	}
	vals := make([]float64, 3)
	for i := range vals {
		if i+1 < len(parts) {
			if vals[i], err = num(parts[i+1]); err != nil {
				return Profile{}, err
			}
		}
	}
	if len(parts) > 4 {
		return Profile{}, fmt.Errorf("profile %q: too many fields", s)
	}
	if vals[1] > 100 {
		return Profile{}, fmt.Errorf("profile %q: loss is a percentage", s)
	}
	p.Up.JitterMS, p.Down.JitterMS = vals[0], vals[0]
	p.Up.Loss, p.Down.Loss = vals[1]/100, vals[1]/100
	p.Down.RateKbps = vals[2]
	return p, nil
}
