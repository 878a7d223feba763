// Package nativetest runs Debian's syncplay client (1.6.9) driving a
// headless mpv, for tests: the client's console output, its console
// commands, and mpv's own position and pause state over mpv's JSON IPC
// socket. make test installs both programs (.ci/deps).
package nativetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MakeClip writes a short WebM clip with ffmpeg and returns its path.
func MakeClip(t testing.TB, dir, name string, seconds int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=320x180:rate=25:duration=%d", seconds),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k", "-g", "25", "-y", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return p
}

// Player is a running syncplay client with its mpv.
type Player struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ipc   string

	mu    sync.Mutex
	lines []string
	wake  chan struct{}
	done  chan struct{}
}

// Start runs `syncplay --no-gui` against addr (host:port) with mpv
// headless, logged in as name to room code with password, playing file. It
// stops with the test; its output is logged when the test failed.
func Start(t testing.TB, addr, name, code, password, file string) *Player {
	t.Helper()
	for _, bin := range []string{"syncplay", "mpv"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (make test installs it: .ci/deps)", bin)
		}
	}
	mpvPath, _ := exec.LookPath("mpv")
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	home := filepath.Join(dir, "home")
	_ = os.MkdirAll(home, 0o755)
	p := &Player{t: t, ipc: filepath.Join(dir, "mpv.sock"), wake: make(chan struct{}, 1), done: make(chan struct{})}
	args := []string{"--no-gui", "--no-store", "--debug", "--host", addr, "--name", name, "--room", code}
	if password != "" {
		args = append(args, "--password", password)
	}
	args = append(args, "--player-path", mpvPath, file, "--", "--vo=null", "--ao=null", "--input-ipc-server="+p.ipc)
	p.cmd = exec.Command("syncplay", args...)
	p.cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "PYTHONUNBUFFERED=1", "LANG=C.UTF-8")
	p.cmd.Dir = dir
	// Its own process group: syncplay starts mpv, and both end together.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 2 * time.Second
	p.stdin, _ = p.cmd.StdinPipe()
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *Player) stop() {
	_, _ = p.MPV("quit")
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	if p.t.Failed() {
		p.mu.Lock()
		p.t.Logf("syncplay output:\n%s", strings.Join(p.lines, "\n"))
		p.mu.Unlock()
	}
}

// Say types a console command.
func (p *Player) Say(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("console: %v", err)
	}
}

// WaitOutput waits for a line of the client's output containing s (from
// line `from` on) and returns the index after it.
func (p *Player) WaitOutput(from int, s string) int {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], s) {
				p.mu.Unlock()
				return i + 1
			}
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-deadline:
			p.mu.Lock()
			out := strings.Join(p.lines, "\n")
			p.mu.Unlock()
			p.t.Fatalf("no output %q from syncplay; it said:\n%s", s, out)
		}
	}
}

// OutputLen is the number of output lines so far.
func (p *Player) OutputLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// MPV sends one command over mpv's IPC socket and returns its data.
func (p *Player) MPV(args ...any) (json.RawMessage, error) {
	c, err := net.DialTimeout("unix", p.ipc, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req, _ := json.Marshal(map[string]any{"command": args, "request_id": 7})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var r struct {
			Data      json.RawMessage `json:"data"`
			Error     string          `json:"error"`
			RequestID int             `json:"request_id"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.RequestID != 7 {
			continue // an event
		}
		if r.Error != "success" {
			return nil, fmt.Errorf("mpv %v: %s", args, r.Error)
		}
		return r.Data, nil
	}
	return nil, fmt.Errorf("mpv %v: no answer: %v", args, sc.Err())
}

// Must sends mpv a command that must succeed.
func (p *Player) Must(args ...any) {
	p.t.Helper()
	if _, err := p.MPV(args...); err != nil {
		p.t.Fatal(err)
	}
}

// State is mpv's position and pause state.
func (p *Player) State() (pos float64, paused bool, err error) {
	d, err := p.MPV("get_property", "time-pos")
	if err != nil {
		return 0, false, err
	}
	if err := json.Unmarshal(d, &pos); err != nil {
		return 0, false, err
	}
	d, err = p.MPV("get_property", "pause")
	if err != nil {
		return 0, false, err
	}
	err = json.Unmarshal(d, &paused)
	return pos, paused, err
}

// WaitPlayer polls mpv until ok holds for its position and pause state.
func (p *Player) WaitPlayer(what string, ok func(pos float64, paused bool) bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		pos, paused, err := p.State()
		if err == nil && ok(pos, paused) {
			return
		}
		last = fmt.Sprintf("pos %.3f paused %v err %v", pos, paused, err)
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("mpv: %s did not happen (last: %s)", what, last)
}
