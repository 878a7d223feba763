package syncplay_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"watchparty/engine/room"
	"watchparty/engine/room/proto"
	"watchparty/engine/syncplay"
)

// The real thing: Debian's syncplay client (1.6.9) driving a headless mpv
// (make test installs both, .ci/deps). The test reads mpv's own position and
// pause state over its JSON IPC socket, and drives the client through its
// console commands, as a person at a terminal does.

// makeClip writes a short WebM clip with ffmpeg and returns its path.
func makeClip(t testing.TB, dir, name string, seconds int) string {
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

// NativePlayer is a running syncplay client with its mpv.
type nativePlayer struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ipc   string

	mu    sync.Mutex
	lines []string
	wake  chan struct{}
	done  chan struct{}
}

// startNative runs `syncplay --no-gui` against addr with mpv headless.
func startNative(t testing.TB, addr, name, code, password, file string) *nativePlayer {
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
	p := &nativePlayer{t: t, ipc: filepath.Join(dir, "mpv.sock"), wake: make(chan struct{}, 1), done: make(chan struct{})}
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

func (p *nativePlayer) stop() {
	_, _ = p.mpv("quit")
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	if p.t.Failed() {
		p.mu.Lock()
		p.t.Logf("syncplay output:\n%s", strings.Join(p.lines, "\n"))
		p.mu.Unlock()
	}
}

// say types a console command.
func (p *nativePlayer) say(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("console: %v", err)
	}
}

// waitOutput waits for a line of the client's output containing s (from
// line `from` on) and returns the index after it.
func (p *nativePlayer) waitOutput(from int, s string) int {
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

func (p *nativePlayer) outputLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// mpv sends one command over mpv's IPC socket and returns its data.
func (p *nativePlayer) mpv(args ...any) (json.RawMessage, error) {
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

// must sends mpv a command that must succeed.
func (p *nativePlayer) must(args ...any) {
	p.t.Helper()
	if _, err := p.mpv(args...); err != nil {
		p.t.Fatal(err)
	}
}

// playState is mpv's position and pause state.
func (p *nativePlayer) playState() (pos float64, paused bool, err error) {
	d, err := p.mpv("get_property", "time-pos")
	if err != nil {
		return 0, false, err
	}
	if err := json.Unmarshal(d, &pos); err != nil {
		return 0, false, err
	}
	d, err = p.mpv("get_property", "pause")
	if err != nil {
		return 0, false, err
	}
	err = json.Unmarshal(d, &paused)
	return pos, paused, err
}

// waitPlayer polls mpv until ok holds for its position and pause state.
func (p *nativePlayer) waitPlayer(what string, ok func(pos float64, paused bool) bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		pos, paused, err := p.playState()
		if err == nil && ok(pos, paused) {
			return
		}
		last = fmt.Sprintf("pos %.3f paused %v err %v", pos, paused, err)
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("mpv: %s did not happen (last: %s)", what, last)
}

// TestNativePlayer puts the real client and mpv in a room with a member
// who controls it like a page does: chat both ways; play, seek and pause
// from the room reach mpv and from the client's console reach the room;
// readiness holds the room; a kick disconnects the player; a wrong token is
// refused with the client showing why.
func TestNativePlayer(t *testing.T) {
	r := newRig(t, syncplay.Options{}, room.Options{Sync: room.SyncOptions{LeadMS: 300, SeekLeadMS: 300}})
	set := room.DefaultSettings()
	set.WaitForAll = true
	if err := r.svc.UpdateSettings(context.Background(), r.code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	web := connect(t, r.svc, r.code, ann)
	web.do(proto.Video, func(m *proto.ClientMessage) { m.URL = "https://example.com/clip.webm" })
	clip := makeClip(t, t.TempDir(), "clip.webm", 40)

	// A wrong token: the client shows the server's reason.
	bad := startNative(t, r.addr, "Mallory", r.code, "wp-not-a-token", clip)
	bad.waitOutput(0, "wrong password")

	p := startNative(t, r.addr, "Bobby", r.code, r.rawToken(r.code, bob.ID), clip)
	p.waitOutput(0, "Successfully connected")
	web.wait(ofType("member", func(v map[string]any) bool {
		m := v["member"].(map[string]any)
		return m["id"] == bob.ID && m["native"] == true && m["presence"] == "online"
	}))
	p.waitPlayer("the file loaded, paused", func(pos float64, paused bool) bool { return paused && pos < 1 })

	// Chat both ways.
	web.do(proto.Chat, func(m *proto.ClientMessage) { m.Text = "hi mpv" })
	p.waitOutput(0, "<Ann> hi mpv")
	p.say("ch hello browser")
	web.wait(ofType("chat", func(v map[string]any) bool { return v["user"] == bob.ID && v["text"] == "hello browser" }))

	// Bob starts not ready (the client's default), so the room waits for
	// him; toggling ready lets it start.
	web.wait(ofType("sync_members", func(v map[string]any) bool {
		m, _ := v["members"].(map[string]any)[bob.ID].(map[string]any)
		return m != nil && m["buffering"] == true
	}))
	web.do(proto.Play, nil)
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == true }))
	p.say("t")
	web.wait(ofType("playback", func(v map[string]any) bool { return v["held"] == nil && playbackState(v)["playing"] == true }))
	p.waitPlayer("playing", func(pos float64, paused bool) bool { return !paused && pos > 0.5 })

	// The room seeks and pauses; mpv follows.
	web.do(proto.Seek, func(m *proto.ClientMessage) { m.T = 20 })
	p.waitPlayer("at 20 s", func(pos float64, paused bool) bool { return pos >= 19.5 && pos < 30 })
	n := web.count()
	web.do(proto.Pause, nil)
	at := playbackState(web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return playbackState(v)["playing"] == false })))["position"].(float64)
	p.waitPlayer("paused where the room paused", func(pos float64, paused bool) bool { return paused && math.Abs(pos-at) < 1 })

	// In mpv (as its keys do): play, seek and pause become the room's.
	n = web.count()
	p.must("set_property", "pause", false)
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return v["by"] == bob.ID && playbackState(v)["playing"] == true }))
	n = web.count()
	p.must("seek", 5, "absolute")
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool {
		pos := playbackState(v)["position"].(float64)
		return v["by"] == bob.ID && pos >= 4.5 && pos < 7
	}))
	// (Once the player has taken the room's answer to the seek: a pause
	// before it would be undone by it, as for any member.)
	p.waitPlayer("playing after its seek", func(pos float64, paused bool) bool { return !paused && pos > 6 && pos < 15 })
	n = web.count()
	p.must("set_property", "pause", true)
	web.waitFrom(n, ofType("playback", func(v map[string]any) bool { return v["by"] == bob.ID && playbackState(v)["playing"] == false }))

	// A kick ends the session; the client says why.
	if err := r.svc.Kick(context.Background(), r.code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(0, "removed")
	web.wait(ofType("member_removed", func(v map[string]any) bool { return v["id"] == bob.ID }))
}
