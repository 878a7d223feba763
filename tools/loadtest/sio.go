package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/tools/latency"
)

// The socket.io comparison: a minimal socket.io room server (socketio/server.js)
// driven by a client that speaks the Engine.IO v4 / Socket.IO v5 websocket
// framing directly:
//
//	server: 0{"sid":...,"pingInterval":...}    Engine.IO open
//	client: 40                                 Socket.IO connect to "/"
//	server: 40{"sid":...}                      connected
//	server: 2          client: 3               Engine.IO ping, pong
//	both:   42["event",...]                    Socket.IO event
//
// Only the websocket transport is used (/socket.io/?EIO=4&transport=websocket).

// nodeServer is a running socket.io server child.
type nodeServer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	addr    string
	version string
}

// startNode installs socket.io into dir when its node_modules is missing,
// then starts node on server.js, pinned to CPU 0 like our server.
func startNode(dir string, pin bool) (*nodeServer, error) {
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
		return nil, fmt.Errorf("socket.io server not found (run from the repository root or pass -socketio-dir): %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err != nil {
		install := exec.Command("npm", "install", "--no-audit", "--no-fund")
		install.Dir = dir
		install.Stdout, install.Stderr = os.Stderr, os.Stderr
		if err := install.Run(); err != nil {
			return nil, fmt.Errorf("npm install in %s: %w", dir, err)
		}
	}
	version := "?"
	if b, err := os.ReadFile(filepath.Join(dir, "node_modules", "socket.io", "package.json")); err == nil {
		if i := bytes.Index(b, []byte(`"version": "`)); i >= 0 {
			rest := b[i+len(`"version": "`):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				version = string(rest[:j])
			}
		}
	}
	args := []string{"node", "server.js"}
	if pin {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 || f[0] != "READY" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("socket.io server did not start: %q %v", line, err)
	}
	return &nodeServer{cmd: cmd, stdin: stdin, addr: f[1], version: version}, nil
}

func (s *nodeServer) stop() {
	_ = s.stdin.Close()
	waitOrKill(s.cmd, 10*time.Second)
}

func (s *nodeServer) name() string { return "socket.io " + s.version }

// setup names the rooms: a socket.io room exists once someone joins it.
func (s *nodeServer) setup(rooms, members int) ([]string, error) {
	codes := make([]string, rooms)
	for i := range codes {
		codes[i] = fmt.Sprintf("room%d", i)
	}
	return codes, nil
}

func (s *nodeServer) pid() int { return s.cmd.Process.Pid }

func (s *nodeServer) dial(code, user string) (*member, error) {
	conn, _, err := dialer().Dial("ws://"+s.addr+"/socket.io/?EIO=4&transport=websocket&room="+code+"&u="+user, nil)
	if err != nil {
		return nil, err
	}
	m := &member{conn: conn, done: make(chan struct{}), sio: true}
	fail := func(err error) (*member, error) {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		return fail(err)
	}
	if len(b) == 0 || b[0] != '0' {
		return fail(fmt.Errorf("expected an Engine.IO open packet, got %q", b))
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return fail(err)
	}
	// Wait for the connect acknowledgement, then for hello: the member is in
	// the room before anyone sends.
	connected := false
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return fail(err)
		}
		switch {
		case string(b) == "2":
			if err := conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				return fail(err)
			}
		case bytes.HasPrefix(b, []byte("44")):
			return fail(fmt.Errorf("socket.io connect refused: %s", b))
		case bytes.HasPrefix(b, []byte("40")):
			connected = true
		case bytes.HasPrefix(b, []byte(`42["hello"`)):
			if !connected {
				return fail(errors.New("hello before the connect acknowledgement"))
			}
			_ = conn.SetReadDeadline(time.Time{})
			return m, nil
		}
	}
}

func (s *nodeServer) send(m *member, id, n int) error {
	msg := fmt.Appendf(nil, `42["chat","s%d:%d:%d"]`, id, n, time.Now().UnixNano())
	m.wmu.Lock()
	defer m.wmu.Unlock()
	return m.conn.WriteMessage(websocket.TextMessage, msg)
}

// receiveSIO reads packets until the connection closes, answering pings
// and counting chat events ({"user":...,"text":"s<sender>:<n>:<unix ns>",...}).
func (m *member) receiveSIO(h *latency.Histogram) {
	for {
		_, b, err := m.conn.ReadMessage()
		if err != nil {
			return
		}
		if len(b) == 1 && b[0] == '2' {
			m.pingAt.Store(time.Now().UnixNano())
			m.wmu.Lock()
			err := m.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			m.wmu.Unlock()
			if err != nil {
				return
			}
			continue
		}
		if bytes.HasPrefix(b, []byte("42")) {
			m.count(b, h)
		}
	}
}

// compareSocketIO runs the scenarios against our server and the socket.io
// server in turn, each pinned to CPU 0 and fresh, and prints the figures
// side by side. d is the steady scenarios' length, step the rising one's
// step, wait the idle one's.
func compareSocketIO(scenarios []string, d, step, wait time.Duration, pin bool, dir string, rounds int) error {
	type row struct {
		scenario string
		round    int
		ours     result
		theirs   result
		name     string
	}
	var rows []row
	for _, sc := range scenarios {
		var run func(target) (result, error)
		switch sc {
		case "fanout500":
			run = func(t target) (result, error) { return fanout500On(t, d) }
		case "rooms200":
			run = func(t target) (result, error) { return rooms200On(t, d) }
		case "rising":
			run = func(t target) (result, error) { return risingOn(t, step) }
		case "idle1000":
			run = func(t target) (result, error) { return idle1000On(t, wait) }
		default:
			return fmt.Errorf("-compare socketio runs fanout500, rooms200, rising and idle1000, not %q", sc)
		}
		// Rounds alternate the servers, so that what else the machine
		// does weighs on both alike.
		for round := range rounds {
			s, err := startServer(pin)
			if err != nil {
				return err
			}
			ours, err := run(s)
			s.stop()
			if err != nil {
				return err
			}
			n, err := startNode(dir, pin)
			if err != nil {
				return err
			}
			theirs, err := run(n)
			n.stop()
			if err != nil {
				return err
			}
			rows = append(rows, row{sc, round + 1, ours, theirs, n.name()})
		}
	}
	fmt.Printf("\nside by side (same run, each server alone on CPU 0):\n")
	fmt.Printf("  %-10s %-16s %-22s %-9s %-10s %-10s %-10s %-6s\n", "scenario", "server", "delivered", "loss", "p50", "p99", "max", "CPU")
	line := func(sc, name string, r result) {
		switch strings.Split(sc, "#")[0] {
		case "rising":
			fmt.Printf("  %-10s %-16s most delivered/s with p99 < 500 ms and no loss: %.0f (p50 %v, p99 %v)\n", sc, name, r.rate,
				r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
		case "idle1000":
			fmt.Printf("  %-10s %-16s RSS per idle connection: %.1f KB 3 s after connecting, %.1f KB after %v\n", sc, name, r.rss3, r.rssWait, wait)
		default:
			fmt.Printf("  %-10s %-16s %-22s %-9s %-10v %-10v %-10v %.1f%%\n", sc, name, fmt.Sprintf("%d/%d", r.delivered, r.want),
				fmt.Sprintf("%.3f%%", r.loss()), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond), r.cpu)
		}
	}
	for _, r := range rows {
		sc := r.scenario
		if rounds > 1 {
			sc = fmt.Sprintf("%s#%d", sc, r.round)
		}
		line(sc, "watchparty", r.ours)
		line(sc, r.name, r.theirs)
	}
	return nil
}
