package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/procstat"
	"watchparty/tools/internal/visitor"
	"watchparty/tools/latency"
)

type options struct {
	bin          string
	members      int
	rooms        int
	duration     time.Duration
	interval     time.Duration
	chatEvery    time.Duration
	controlEvery time.Duration
	perIP        int
	pin          bool
	slowloris    int
	slowlorisWS  int
	serverArgs   string
	keep         bool
	attack       string
	attempts     int
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "", "watchparty binary to run (required; go build -o /tmp/watchparty .)")
	fs.IntVar(&o.members, "members", 200, "members (guests) in all rooms together, not counting the owner's connections")
	fs.IntVar(&o.rooms, "rooms", 10, "rooms")
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long the load runs (at most 2h)")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "how often a line of figures is printed")
	fs.DurationVar(&o.chatEvery, "chat-every", 10*time.Second, "each member sends a chat line this often")
	fs.DurationVar(&o.controlEvery, "control-every", 5*time.Second, "each room's owner sends play or pause this often")
	fs.IntVar(&o.perIP, "per-ip", 32, "connections per loopback source address (below limits.conns_per_ip)")
	fs.BoolVar(&o.pin, "pin", false, "run the server under taskset -c 0")
	fs.IntVar(&o.slowloris, "slowloris", 0, "instead of the load: hold this many HTTP connections with unfinished headers and report the server memory they take")
	fs.IntVar(&o.slowlorisWS, "slowloris-ws", 0, "instead of the load: hold this many room websockets (guests in -rooms rooms) that upgrade and then say nothing, and report the server memory they take")
	fs.StringVar(&o.serverArgs, "server-args", "", "extra arguments for `watchparty serve`, space-separated")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory and the server log")
	fs.StringVar(&o.attack, "attack", "", "instead of the load: run an abuse scenario against the server's default limits, for at most -duration: guests (a flood of guests by invite link) or queue (one member floods queue moves)")
	fs.IntVar(&o.attempts, "attempts", 50000, "guest joins the guests attack tries")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.bin == "":
		return nil, errors.New("-bin is required")
	case o.members < 1 || o.members > 20000, o.rooms < 1 || o.rooms > o.members:
		return nil, errors.New("-members must be 1..20000 and -rooms 1..members")
	case o.duration <= 0 || o.duration > 2*time.Hour:
		return nil, errors.New("-duration must be above 0 and at most 2h")
	case o.interval < time.Second, o.chatEvery < 100*time.Millisecond, o.controlEvery < 100*time.Millisecond:
		return nil, errors.New("-interval must be at least 1s, -chat-every and -control-every at least 100ms")
	case o.perIP < 1, o.slowloris < 0 || o.slowloris > 20000, o.slowlorisWS < 0 || o.slowlorisWS > 20000:
		return nil, errors.New("-per-ip must be at least 1 and -slowloris and -slowloris-ws at most 20000")
	}
	return o, nil
}

func run(args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	srv, err := startServer(o)
	if err != nil {
		return err
	}
	defer srv.stop(out)
	if o.slowloris > 0 {
		return slowloris(srv, o, out)
	}
	if o.slowlorisWS > 0 {
		return slowlorisWS(srv, o, out)
	}
	if o.attack != "" {
		return attack(srv, o, out)
	}
	return soak(srv, o, out)
}

// ---- the server process ----

type server struct {
	cmd   *exec.Cmd
	dir   string
	base  string // http://127.0.0.1:PORT
	log   string // the server's log file
	keep  bool
	email string
	pass  string
}

func startServer(o *options) (*server, error) {
	dir, err := os.MkdirTemp("", "watchparty-soak-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, keep: o.keep, email: "owner@soak.test", pass: "soak-owner-password"}
	data := filepath.Join(dir, "data")
	// The owner account exists before the server starts (one password hash).
	add := exec.Command(o.bin, "user", "add", s.email, "--name", "Soak owner", "--password", s.pass, "--data_dir", data)
	if b, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("watchparty user add: %v: %s", err, b)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{o.bin, "serve", "--listen", addr, "--data_dir", data, "--log.level", "info",
		"--limits.rooms_per_user", strconv.Itoa(o.rooms + 10)}
	if o.attack == "" {
		// The load's members are guests joining by invite link, many from
		// each address and room: lift the guest limits (an -attack keeps
		// the defaults, which it measures).
		n := strconv.Itoa(o.members + 10)
		args = append(args, "--limits.guest_joins_per_minute", "10000", "--limits.room_guest_joins_per_minute", "10000",
			"--limits.guests_per_room", n)
	}
	args = append(args, strings.Fields(o.serverArgs)...)
	if o.pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	s.log = filepath.Join(dir, "server.log")
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	logf.Close()
	s.base = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			return nil, fmt.Errorf("the server did not answer /healthz within 30s (log: %s)", s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits (bounded) for the server to exit.
func (s *server) stop(out io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(out, "server exit: %v\n", err)
		}
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		fmt.Fprintln(out, "server exit: did not stop within 15s of SIGTERM; killed")
	}
	if s.keep {
		fmt.Fprintf(out, "data and log kept in %s\n", s.dir)
		return
	}
	os.RemoveAll(s.dir)
}

// rss is the server's resident memory in bytes.
func (s *server) rss() int64 { return procstat.RSS(s.pid()) }

// metric reads one unlabelled sample from the server's /metrics.
func (s *server) metric(name string) float64 { return visitor.Metric(s.base, name) }

func (s *server) goroutines() int { return int(s.metric("go_goroutines")) }

// ---- HTTP as a browser ----

type browser = visitor.Browser

func newBrowser(base string) *browser { return visitor.New(base) }

// ---- websocket members ----

// sourceIP is the loopback address connection i comes from.
func sourceIP(i, perIP int) net.IP {
	n := i/perIP + 1
	return net.IPv4(127, 1, byte(n/250), byte(n%250+1))
}

func dialRoom(base, code, session string, ip net.IP) (*websocket.Conn, error) {
	d := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4 << 10, WriteBufferSize: 1 << 10,
		NetDial: func(network, addr string) (net.Conn, error) {
			nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second}
			return nd.Dial(network, addr)
		},
	}
	h := http.Header{}
	h.Set("Cookie", "wp_session="+session)
	h.Set("Origin", base)
	ws := "ws" + strings.TrimPrefix(base, "http") + "/r/" + code + "/ws"
	conn, resp, err := d.Dial(ws, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	return conn, nil
}

// ---- the load ----

type room struct {
	idx     int
	code    string
	owner   *member
	members []*member
	acked   atomic.Int64 // lines whose author got them back
	ctlAt   atomic.Int64 // unix ns of the last play/pause sent
}

type member struct {
	idx    int
	name   string
	room   *room
	conn   *websocket.Conn
	sent   int
	closed atomic.Bool // closed on purpose
	done   chan struct{}
}

type stats struct {
	chatLat, ctlLat     *latency.Histogram
	interval            atomic.Pointer[latency.Histogram]
	intervalCtl         atomic.Pointer[latency.Histogram]
	sent, delivered     atomic.Int64
	ctlSent, ctlRecv    atomic.Int64
	drops, sendFailures atomic.Int64
	mu                  sync.Mutex
	errors              map[string]int
}

func (st *stats) addError(code string) {
	st.mu.Lock()
	st.errors[code]++
	st.mu.Unlock()
}

func (st *stats) errorText() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.errors) == 0 {
		return "0"
	}
	var keys []string
	for k := range st.errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, st.errors[k]))
	}
	return strings.Join(parts, ",")
}

// What the members look for in the messages they receive.
const (
	chatMark  = `"text":"soak:`
	helloMark = `{"type":"hello"`
	errMark   = `{"type":"error"`
	playMark  = `{"type":"playback"`
)

var codeRe = regexp.MustCompile(`"code":"([a-z_]+)"`)

// receive reads until the connection ends, counting soak lines (their
// latency from the time in the text), errors and playback messages.
func (m *member) receive(st *stats) {
	defer close(m.done)
	for {
		_, data, err := m.conn.ReadMessage()
		if err != nil {
			if !m.closed.Load() {
				st.drops.Add(1)
			}
			return
		}
		now := time.Now().UnixNano()
		for part := range bytes.SplitSeq(data, []byte{'\n'}) {
			switch {
			case bytes.HasPrefix(part, []byte(helloMark)):
			case bytes.HasPrefix(part, []byte(errMark)):
				code := "unknown"
				if mm := codeRe.FindSubmatch(part); mm != nil {
					code = string(mm[1])
				}
				st.addError(code)
			case bytes.HasPrefix(part, []byte(playMark)):
				st.ctlRecv.Add(1)
				if at := m.room.ctlAt.Load(); at > 0 {
					d := time.Duration(now - at)
					st.ctlLat.Add(d)
					st.intervalCtl.Load().Add(d)
				}
			default:
				i := bytes.Index(part, []byte(chatMark))
				if i < 0 {
					continue
				}
				// soak:<member>:<n>:<unix ns>
				f := strings.SplitN(string(part[i+len(chatMark):]), ":", 3)
				if len(f) < 3 {
					continue
				}
				end := strings.IndexByte(f[2], '"')
				if end < 0 {
					continue
				}
				ns, _ := strconv.ParseInt(f[2][:end], 10, 64)
				d := time.Duration(now - ns)
				st.chatLat.Add(d)
				st.interval.Load().Add(d)
				st.delivered.Add(1)
				if f[0] == m.name {
					m.room.acked.Add(1)
				}
			}
		}
	}
}

func (m *member) send(msg []byte) error {
	_ = m.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return m.conn.WriteMessage(websocket.TextMessage, msg)
}

// drive is the only writer of its room's connections: members' chat lines
// spread over chatEvery, the owner's play/pause every controlEvery.
func (r *room) drive(ctx context.Context, o *options, st *stats) {
	rng := rand.New(rand.NewPCG(uint64(r.idx), 7))
	next := make([]time.Time, len(r.members))
	start := time.Now()
	for i := range next {
		next[i] = start.Add(time.Duration(rng.Int64N(int64(o.chatEvery))))
	}
	nextCtl := start.Add(time.Duration(rng.Int64N(int64(o.controlEvery))))
	playing := false
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		for i, m := range r.members {
			if now.Before(next[i]) || m.closed.Load() {
				continue
			}
			// Jitter of ±10% keeps the members from lining up.
			next[i] = now.Add(o.chatEvery + time.Duration(rng.Int64N(int64(o.chatEvery/5))) - o.chatEvery/10)
			m.sent++
			msg := fmt.Appendf(nil, `{"type":"chat","text":"soak:%s:%d:%d"}`, m.name, m.sent, time.Now().UnixNano())
			if err := m.send(msg); err != nil {
				st.sendFailures.Add(1)
				continue
			}
			st.sent.Add(1)
		}
		if now.After(nextCtl) {
			nextCtl = now.Add(o.controlEvery)
			typ := "play"
			if playing {
				typ = "pause"
			}
			playing = !playing
			r.ctlAt.Store(time.Now().UnixNano())
			if err := r.owner.send([]byte(`{"type":"` + typ + `"}`)); err != nil {
				st.sendFailures.Add(1)
				continue
			}
			st.ctlSent.Add(1)
		}
	}
}

func soak(srv *server, o *options, out io.Writer) error {
	fmt.Fprintf(out, "soak: %d members in %d rooms for %s against %s (pid %d)\n", o.members, o.rooms, o.duration, srv.base, srv.pid())
	owner := newBrowser(srv.base)
	resp, body, err := owner.Post("/login", "/login", url.Values{"email": {srv.email}, "password": {srv.pass}}, "")
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("owner log-in: %v %v %s", err, resp, body)
	}
	baseG, baseRSS := srv.goroutines(), srv.rss()
	fmt.Fprintf(out, "baseline: rss %.1f MiB, goroutines %d\n", mib(baseRSS), baseG)

	st := &stats{chatLat: &latency.Histogram{}, ctlLat: &latency.Histogram{}, errors: map[string]int{}}
	st.interval.Store(&latency.Histogram{})
	st.intervalCtl.Store(&latency.Histogram{})
	setupStart := time.Now()
	rooms := make([]*room, o.rooms)
	connIdx := 0
	for i := range rooms {
		r, err := setupRoom(srv, owner, i, o, &connIdx, st)
		if err != nil {
			closeRooms(rooms[:i])
			return fmt.Errorf("room %d: %w", i, err)
		}
		rooms[i] = r
	}
	conns := o.members + o.rooms
	fmt.Fprintf(out, "setup: %d connections in %s; rss %.1f MiB, goroutines %d\n", conns, time.Since(setupStart).Round(time.Millisecond), mib(srv.rss()), srv.goroutines())

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Add(1)
		go func() { defer wg.Done(); r.drive(ctx, o, st) }()
	}
	warmup := o.duration / 5
	rssAfterWarmup := printIntervals(ctx, srv, o, st, out, warmup)
	cancel()
	wg.Wait()
	sent, acked, exp := awaitDeliveries(rooms, st)
	got := st.delivered.Load()
	peakG := srv.goroutines()
	closeRooms(rooms)
	// Empty rooms stop after their idle timeout (30 s); wait up to 90 s.
	afterG := -1
	for d := time.Now().Add(90 * time.Second); time.Now().Before(d); time.Sleep(time.Second) {
		if afterG = srv.goroutines(); afterG <= baseG {
			break
		}
	}
	finalRSS := srv.rss()
	fmt.Fprintf(out, "\nsummary: %d members + %d owners in %d rooms for %s\n", o.members, o.rooms, o.rooms, o.duration)
	fmt.Fprintf(out, "  chat: %d sent, %d acknowledged, %d delivered of %d expected (loss %d = %.4f%%)\n",
		sent, acked, got, exp, exp-got, 100*float64(exp-got)/float64(max(exp, 1)))
	fmt.Fprintf(out, "  chat latency (send to receive, all members): p50 %s p99 %s p99.9 %s max %s\n",
		ms(st.chatLat.Quantile(0.5)), ms(st.chatLat.Quantile(0.99)), ms(st.chatLat.Quantile(0.999)), ms(st.chatLat.Quantile(1)))
	fmt.Fprintf(out, "  control: %d play/pause sent, %d playback messages received; latency p50 %s p99 %s\n",
		st.ctlSent.Load(), st.ctlRecv.Load(), ms(st.ctlLat.Quantile(0.5)), ms(st.ctlLat.Quantile(0.99)))
	fmt.Fprintf(out, "  errors %s, drops %d, send failures %d\n", st.errorText(), st.drops.Load(), st.sendFailures.Load())
	printRSS(out, warmup, rssAfterWarmup)
	fmt.Fprintf(out, "  goroutines: baseline %d, under load %d, after everyone left %d; rss after leaving %.1f MiB\n", baseG, peakG, afterG, mib(finalRSS))
	if exp != got || st.drops.Load() > 0 {
		return fmt.Errorf("lost %d deliveries, %d connections dropped", exp-got, st.drops.Load())
	}
	if afterG > baseG {
		return fmt.Errorf("goroutines did not return to the baseline (%d > %d)", afterG, baseG)
	}
	return nil
}

// printIntervals prints a line of figures every -interval until ctx ends, and
// returns the server's RSS at each line after the warm-up.
func printIntervals(ctx context.Context, srv *server, o *options, st *stats, out io.Writer, warmup time.Duration) []int64 {
	start := time.Now()
	var rssAfterWarmup []int64
	var lastSent, lastDelivered int64
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return rssAfterWarmup
		case <-tick.C:
		}
		el := time.Since(start)
		h := st.interval.Swap(&latency.Histogram{})
		hc := st.intervalCtl.Swap(&latency.Histogram{})
		sent, delivered := st.sent.Load(), st.delivered.Load()
		secs := o.interval.Seconds()
		rss, g := srv.rss(), srv.goroutines()
		if el >= warmup {
			rssAfterWarmup = append(rssAfterWarmup, rss)
		}
		fmt.Fprintf(out, "t=%5.0fs sent %6.0f/s delivered %7.0f/s chat p50 %6s p99 %6s max %6s | control p99 %6s | errors %s drops %d | rss %6.1f MiB goroutines %d\n",
			el.Seconds(), float64(sent-lastSent)/secs, float64(delivered-lastDelivered)/secs,
			ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Quantile(1)), ms(hc.Quantile(0.99)),
			st.errorText(), st.drops.Load(), mib(rss), g)
		lastSent, lastDelivered = sent, delivered
	}
}

// awaitDeliveries waits (bounded) for the last lines to arrive, and
// returns the lines sent, acknowledged, and the deliveries expected.
func awaitDeliveries(rooms []*room, st *stats) (sent, acked, expected int64) {
	expect := func() int64 {
		var n int64
		for _, r := range rooms {
			n += r.acked.Load() * int64(len(r.members)+1)
		}
		return n
	}
	for d := time.Now().Add(15 * time.Second); time.Now().Before(d); time.Sleep(100 * time.Millisecond) {
		sent, acked = st.sent.Load(), 0
		for _, r := range rooms {
			acked += r.acked.Load()
		}
		if acked == sent && st.delivered.Load() >= expect() {
			break
		}
	}
	return sent, acked, expect()
}

// printRSS prints the range of the RSS samples taken after the warm-up.
func printRSS(out io.Writer, warmup time.Duration, samples []int64) {
	if len(samples) == 0 {
		return
	}
	lo, hi := samples[0], samples[0]
	for _, v := range samples {
		lo, hi = min(lo, v), max(hi, v)
	}
	fmt.Fprintf(out, "  rss after warm-up (%s): first %.1f MiB, last %.1f MiB, min %.1f, max %.1f\n", warmup,
		mib(samples[0]), mib(samples[len(samples)-1]), mib(lo), mib(hi))
}

// createRoom makes room i as the owner, open to guests, and returns its
// code and invite token.
func createRoom(owner *browser, i int) (code, token string, err error) {
	return visitor.CreateRoom(owner, fmt.Sprintf("soak %d", i), url.Values{"control": {"everyone"},
		"change_video": {"everyone"}, "manage_queue": {"everyone"}})
}

func setupRoom(srv *server, owner *browser, i int, o *options, connIdx *int, st *stats) (*room, error) {
	code, token, err := createRoom(owner, i)
	if err != nil {
		return nil, err
	}
	r := &room{idx: i, code: code}
	n := o.members / o.rooms
	if i < o.members%o.rooms {
		n++
	}
	connect := func(name, session string) (*member, error) {
		conn, err := dialRoom(srv.base, code, session, sourceIP(*connIdx, o.perIP))
		*connIdx++
		if err != nil {
			return nil, err
		}
		// The first message is hello.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, first, err := conn.ReadMessage(); err != nil || !bytes.HasPrefix(first, []byte(helloMark)) {
			conn.Close()
			return nil, fmt.Errorf("no hello for %s: %v", name, err)
		}
		_ = conn.SetReadDeadline(time.Time{})
		m := &member{idx: *connIdx, name: name, room: r, conn: conn, done: make(chan struct{})}
		go m.receive(st)
		return m, nil
	}
	if r.owner, err = connect(fmt.Sprintf("r%do", i), owner.Session()); err != nil {
		return nil, err
	}
	for j := range n {
		g := newBrowser(srv.base)
		name := fmt.Sprintf("r%dm%d", i, j)
		resp, body, err := g.Post("/i/"+token, "/i/"+token, url.Values{"name": {name}}, "")
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			closeRoom(r)
			return nil, fmt.Errorf("guest %s: %v %s", name, err, body)
		}
		m, err := connect(name, g.Session())
		if err != nil {
			closeRoom(r)
			return nil, err
		}
		r.members = append(r.members, m)
	}
	if err := r.owner.send([]byte(`{"type":"video","url":"https://example.org/soak.mp4"}`)); err != nil {
		return nil, err
	}
	return r, nil
}

func closeRoom(r *room) {
	all := append([]*member{r.owner}, r.members...)
	for _, m := range all {
		if m == nil {
			continue
		}
		m.closed.Store(true)
		_ = m.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
		_ = m.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	for _, m := range all {
		if m == nil {
			continue
		}
		<-m.done
		m.conn.Close()
	}
}

func closeRooms(rs []*room) {
	for _, r := range rs {
		if r != nil {
			closeRoom(r)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}
