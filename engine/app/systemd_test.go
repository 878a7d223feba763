package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"watchparty/config"
)

// notifySocket is a stand-in for systemd's end of NOTIFY_SOCKET: a real
// unixgram socket in a temporary directory.
type notifySocket struct {
	conn *net.UnixConn
	path string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{conn: conn, path: path}
}

// next returns the next datagram; the deadline only keeps a broken test from
// hanging.
func (n *notifySocket) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = n.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	k, _, err := n.conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("no notify message: %v", err)
	}
	return string(buf[:k])
}

// waitFor reads datagrams until one has the line want, and returns the
// ones read before it.
func (n *notifySocket) waitFor(t *testing.T, want string) []string {
	t.Helper()
	var before []string
	for range 200 {
		m := n.next(t)
		for _, line := range strings.Split(m, "\n") {
			if line == want {
				return before
			}
		}
		before = append(before, m)
	}
	t.Fatalf("no %q among %q", want, before)
	return nil
}

func (n *notifySocket) notifier(t *testing.T, extra ...string) *Notifier {
	t.Helper()
	nt := NotifierFromEnv(append([]string{"NOTIFY_SOCKET=" + n.path}, extra...))
	if nt == nil {
		t.Fatal("NotifierFromEnv returned nil")
	}
	return nt
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testServer is a server running in the test, ready (READY=1 received) when
// startServer returns.
type testServer struct {
	*Server
	URL    string
	notify *notifySocket
	cancel context.CancelFunc
	errc   chan error
}

// startServer starts a full server with the given options (flag names as
// keys) on a loopback port and a fresh data directory unless given, and
// waits until it has told systemd it is ready.
func startServer(t *testing.T, flags map[string]string, setup ...func(*Server)) *testServer {
	t.Helper()
	f := map[string]string{"listen": "127.0.0.1:0", "data_dir": filepath.Join(t.TempDir(), "data"), "log.level": "error"}
	for k, v := range flags {
		f[k] = v
	}
	cfg, err := config.Load(config.Source{Flags: f})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, quietLog(), WithHashCost(1, 64))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNotifySocket(t)
	srv.Notify = ns.notifier(t)
	for _, fn := range setup {
		fn(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, notify: ns, cancel: cancel, errc: make(chan error, 1)}
	go func() { ts.errc <- srv.Run(ctx) }()
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	ts.URL = scheme + "://" + (<-srv.Addr).String() + cfg.BasePath
	ns.waitFor(t, "READY=1")
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down once and reports an error from Run.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	if err := <-ts.errc; err != nil {
		t.Errorf("server: %v", err)
	}
}

func TestNotifierFromEnv(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	tests := []struct {
		name     string
		env      []string
		nilOK    bool
		watchdog time.Duration
	}{
		{name: "no socket", env: []string{"HOME=/root"}, nilOK: true},
		{name: "relative path is not a socket", env: []string{"NOTIFY_SOCKET=run/x"}, nilOK: true},
		{name: "path socket", env: []string{"NOTIFY_SOCKET=/run/systemd/notify"}},
		{name: "abstract socket", env: []string{"NOTIFY_SOCKET=@/org/freedesktop/systemd1/notify/1"}},
		{name: "watchdog for us", env: []string{"NOTIFY_SOCKET=/x", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=" + pid}, watchdog: 15 * time.Second},
		{name: "watchdog without pid", env: []string{"NOTIFY_SOCKET=/x", "WATCHDOG_USEC=2000000"}, watchdog: time.Second},
		{name: "watchdog for another process", env: []string{"NOTIFY_SOCKET=/x", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=1"}},
		{name: "bad watchdog value", env: []string{"NOTIFY_SOCKET=/x", "WATCHDOG_USEC=soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NotifierFromEnv(tt.env)
			if (n == nil) != tt.nilOK {
				t.Fatalf("NotifierFromEnv = %v, want nil %v", n, tt.nilOK)
			}
			if got := n.WatchdogInterval(); got != tt.watchdog {
				t.Errorf("watchdog interval %s, want %s", got, tt.watchdog)
			}
		})
	}
}

func TestNilNotifierDoesNothing(t *testing.T) {
	var n *Notifier
	for _, err := range []error{n.Ready("x"), n.Stopping(), n.Reloading(), n.Watchdog(), n.Send("STATUS=x")} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotifierMessages(t *testing.T) {
	ns := newNotifySocket(t)
	n := ns.notifier(t)
	if err := n.Ready("127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	if m := ns.next(t); m != "READY=1\nSTATUS=serving on 127.0.0.1:8080" {
		t.Errorf("ready message %q", m)
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	m := ns.next(t)
	lines := strings.Split(m, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("reloading message %q", m)
	}
	if us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil || us <= 0 {
		t.Errorf("MONOTONIC_USEC %q", lines[1])
	}
	if err := n.Watchdog(); err != nil {
		t.Fatal(err)
	}
	if m := ns.next(t); m != "WATCHDOG=1" {
		t.Errorf("watchdog message %q", m)
	}
	if err := n.Stopping(); err != nil {
		t.Fatal(err)
	}
	if m := ns.next(t); !strings.HasPrefix(m, "STOPPING=1") {
		t.Errorf("stopping message %q", m)
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	name := "@watchparty-test-" + strconv.Itoa(os.Getpid())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := NotifierFromEnv([]string{"NOTIFY_SOCKET=" + name}).Ready("x"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, _, err := conn.ReadFromUnix(buf)
	if err != nil || !strings.HasPrefix(string(buf[:k]), "READY=1") {
		t.Fatalf("got %q, %v", buf[:k], err)
	}
}

// TestServerLifecycleNotifications runs a server as systemd would: READY=1
// once listening, WATCHDOG=1 pings at half WATCHDOG_USEC, RELOADING=1 then
// READY=1 around a reload, STOPPING=1 on shutdown.
func TestServerLifecycleNotifications(t *testing.T) {
	ts := startServer(t, nil, func(s *Server) {
		// A 100 ms watchdog: pings every 50 ms.
		s.Notify = NotifierFromEnv([]string{"NOTIFY_SOCKET=" + s.Notify.addr, "WATCHDOG_USEC=100000"})
	})
	// The server answers once READY=1 is sent.
	if _, err := ts.Store.Get([]byte("meta/schema")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ts.notify.waitFor(t, "WATCHDOG=1")
	}
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	ts.notify.waitFor(t, "RELOADING=1")
	// The status names the address the server bound (port 0 asked for).
	ts.notify.waitFor(t, "STATUS=serving on "+strings.TrimPrefix(ts.URL, "http://"))
	ts.cancel()
	ts.notify.waitFor(t, "STOPPING=1")
	if err := <-ts.errc; err != nil {
		t.Fatal(err)
	}
	ts.cancel = nil
}
