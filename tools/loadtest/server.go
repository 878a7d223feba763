package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/procstat"
	"watchparty/tools/internal/visitor"
)

// server is the watchparty binary, run as users run it (`watchparty serve`
// on its defaults) with only the limits the load needs raised. The members
// are guests who joined by invite link, like people following a link.
type server struct {
	cmd   *exec.Cmd
	dir   string
	base  string // http://127.0.0.1:PORT
	pin   bool
	owner *visitor.Browser

	pprof string // the profiler's address, with -cpuprofile or -trace

	// events are the garbage collector's reports (GODEBUG=gctrace=1) as
	// the server writes them.
	events eventLog

	mu       sync.Mutex
	sessions map[string]string // load user name -> guest session cookie
}

const (
	ownerEmail    = "owner@load.test"
	ownerPassword = "load-owner-password"
)

// binPath is the watchparty binary (-bin); empty builds one from the
// module in the working directory.
var binPath string //nolint:gochecknoglobals // the -bin flag, or the binary built for this run

// cpuProfile is the -cpuprofile flag: the prefix of the files the server's
// CPU profiles are written to, one per scenario; empty: none.
var cpuProfile string //nolint:gochecknoglobals // the -cpuprofile flag

// traceOut is the -trace flag: the prefix of the files the server's
// runtime traces are written to, one per scenario; empty: none.
var traceOut string //nolint:gochecknoglobals // the -trace flag

func watchpartyBinary() (string, error) {
	if binPath != "" {
		return binPath, nil
	}
	dir, err := os.MkdirTemp("", "watchparty-loadbin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "watchparty")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build (run from the module root, or pass -bin): %v\n%s", err, b)
	}
	binPath = out
	return out, nil
}

func startServer(pin bool) (*server, error) {
	bin, err := watchpartyBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "watchparty-load-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// The owner account exists before the server starts (one password hash).
	add := exec.Command(bin, "user", "add", ownerEmail, "--name", "Load owner", "--password", ownerPassword, "--data_dir", data)
	if b, err := add.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("watchparty user add: %v: %s", err, b)
	}
	s := &server{dir: dir, sessions: map[string]string{}, pin: pin}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.owner = visitor.New(s.base)
	if err := s.owner.LogIn(ownerEmail, ownerPassword); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// launch starts the server process on the data directory and waits until
// it answers.
func (s *server) launch() error {
	bin, err := watchpartyBinary()
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data")
	// Every member connects from 127.0.0.1, joins as a guest, and the
	// senders send far more than people do: those limits are lifted (the
	// chat limit to its highest, 1,000 lines a second per member).
	args := []string{bin, "serve", "--listen", addr, "--data_dir", data, "--log.level", "warn",
		"--limits.chat_per_10s", "10000", "--limits.members_per_room", "10000", "--limits.rooms_per_user", "100000",
		"--limits.guests_per_room", "10000", "--limits.guest_joins_per_minute", "10000",
		"--limits.room_guest_joins_per_minute", "10000", "--limits.conns_per_ip", "100000",
		"--limits.http_conns_per_ip", "100000"}
	if cpuProfile != "" || traceOut != "" {
		if s.pprof, err = freeAddr(); err != nil {
			return err
		}
		args = append(args, "--debug.pprof_listen", s.pprof)
	}
	if s.pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	s.base = "http://" + addr
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, w
	err = s.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	go func() {
		defer r.Close()
		s.events.copy(r)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return errors.New("the server did not answer /healthz within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profile takes a CPU profile of the server for d, from now, into
// cpuProfile+"-"+scenario+".pprof", and a runtime trace into
// traceOut+"-"+scenario+".trace"; the returned function waits for them.
// Without -cpuprofile and -trace it does nothing.
func (s *server) profile(scenario string, d time.Duration) (wait func()) {
	var wg sync.WaitGroup
	secs := max(1, int(d.Seconds()))
	if cpuProfile != "" {
		out := cpuProfile + "-" + scenario + ".pprof"
		wg.Go(func() {
			if s.fetchDebug(fmt.Sprintf("profile?seconds=%d", secs), out) {
				fmt.Printf("  server CPU profile: %s (go tool pprof %s %s)\n", out, binPath, out)
			}
		})
	}
	if traceOut != "" {
		out := traceOut + "-" + scenario + ".trace"
		wg.Go(func() {
			if s.fetchDebug(fmt.Sprintf("trace?seconds=%d", secs), out) {
				fmt.Printf("  server runtime trace: %s (go tool trace %s)\n", out, out)
			}
		})
	}
	return wg.Wait
}

// fetchDebug saves the profiler's /debug/pprof/what into out.
func (s *server) fetchDebug(what, out string) bool {
	resp, err := http.Get("http://" + s.pprof + "/debug/pprof/" + what)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: profile:", err)
		return false
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: profile:", err)
		return false
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: profile:", err)
		return false
	}
	return true
}

// restart stops the server and starts it again on the same data: the
// guests' sessions stay valid, and the new process holds nothing left over
// from setting them up.
func (s *server) restart() error {
	s.kill()
	return s.launch()
}

// stop ends the server and removes the data directory.
func (s *server) stop() {
	s.kill()
	os.RemoveAll(s.dir)
}

// kill sends SIGTERM and waits (bounded) for the server to exit.
func (s *server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	waitOrKill(s.cmd, 15*time.Second)
}

// waitOrKill waits for cmd to exit, and kills it when it has not within.
func waitOrKill(cmd *exec.Cmd, within time.Duration) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-done
	}
}

// memory is the server process's resident memory and goroutines.
type memory struct {
	rss        int64
	anon       int64 // the anonymous part of rss (not the store's mapped files)
	goroutines float64
	goInUse    float64 // Go heap in use and goroutine stacks, bytes
	stacks     float64 // goroutine stacks, bytes
	dropped    float64 // members dropped for falling behind
}

func (s *server) memory() memory {
	pid := s.cmd.Process.Pid
	m := memory{rss: procstat.RSS(pid), anon: procstat.RSSAnon(pid), goroutines: visitor.Metric(s.base, "go_goroutines"),
		dropped: visitor.Metric(s.base, "watchparty_drops_total"), stacks: visitor.Metric(s.base, "go_memstats_stack_inuse_bytes")}
	m.goInUse = visitor.Metric(s.base, "go_memstats_heap_inuse_bytes") + m.stacks
	return m
}

// setup makes rooms owned by the owner account, open to guests, each with
// members guests r<room>-m<j> joined through its invite link.
func (s *server) setup(rooms, members int) ([]string, error) {
	codes := make([]string, 0, rooms)
	for i := range rooms {
		code, token, err := visitor.CreateRoom(s.owner, fmt.Sprintf("load %d", i), nil)
		if err != nil {
			return nil, err
		}
		codes = append(codes, code)
		// Guests join from a few workers at once, as a crowd would.
		errs := make(chan error, members)
		work := make(chan int)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for j := range work {
					name := fmt.Sprintf("r%d-m%d", i, j)
					g := visitor.New(s.base)
					if err := g.JoinAsGuest(token, name); err != nil {
						errs <- err
						continue
					}
					s.mu.Lock()
					s.sessions[name] = g.Session()
					s.mu.Unlock()
				}
			})
		}
		for j := range members {
			work <- j
		}
		close(work)
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	return codes, nil
}

func (s *server) name() string { return "watchparty" }

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) send(m *member, id, n int) error { return sendLine(m.conn, nil, id, n, "") }

// dial connects guest user to the room's websocket with its session cookie
// and the page's origin, as the room page does, and waits for hello.
func (s *server) dial(code, user string) (*member, error) {
	s.mu.Lock()
	session, ok := s.sessions[user]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no guest %s joined room %s", user, code)
	}
	h := http.Header{}
	h.Set("Cookie", "wp_session="+session)
	h.Set("Origin", s.base)
	conn, resp, err := dialer().Dial("ws"+strings.TrimPrefix(s.base, "http")+"/r/"+code+"/ws", h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	m := &member{conn: conn, done: make(chan struct{})}
	conn.SetPingHandler(func(data string) error {
		m.pingAt.Store(time.Now().UnixNano())
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	// Wait for hello so that every member is in before anyone sends.
	if _, _, err := conn.ReadMessage(); err != nil {
		conn.Close()
		return nil, err
	}
	return m, nil
}
