package apptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GoTool is the go command that runs the tests.
func GoTool(t testing.TB) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("apptest: the go command is not on PATH")
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// ModuleRoot is the directory of go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(GoTool(t), "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("apptest: go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var built struct { //nolint:gochecknoglobals // one build for the whole test binary
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the static, stripped watchparty binary of this
// checkout (CGO_ENABLED=0, -trimpath, -ldflags "-s -w", as make build).
// Every test package of one checkout shares it: it lives in a directory of
// os.TempDir named after the module root, the build holds a file lock there,
// and go build leaves a binary that is up to date alone, so the first
// package to ask links it and the others only check it.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = buildShared(t) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func buildShared(t testing.TB) (string, error) {
	root := ModuleRoot(t)
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "watchparty-test-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close() // and so unlocks
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "watchparty")
	cmd := exec.Command(GoTool(t), "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("apptest: go build: " + err.Error() + "\n" + string(b))
	}
	return out, nil
}

// BinaryEnv is a clean environment for the binary, with nothing from the
// test's own environment: PATH, HOME and the data directory, then extra
// (NAME=value pairs).
func BinaryEnv(dataDir string, extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "HOME=" + dataDir, "WATCHPARTY_DATA_DIR=" + dataDir}, extra...)
}

// Process is a watchparty server running as a child process.
type Process struct {
	Cmd *exec.Cmd
	// URL is http://ADDR, the server's base URL.
	URL  string
	Addr string

	out    Output
	exited chan struct{}
	err    error
}

// StartBinary runs `bin serve --listen 127.0.0.1:0 args...` with the
// environment env (see BinaryEnv) and waits until it is ready and /healthz
// answers. The kernel picks the port as the server binds it, so no other
// process can take it in between, as it could a port found free before; the
// server names the address in its systemd readiness message (sd_notify),
// which the test receives on a socket of its own (NOTIFY_SOCKET). The
// process is killed at cleanup if it still runs, and its output is logged
// when the test failed.
func StartBinary(t testing.TB, bin string, env []string, args ...string) *Process {
	t.Helper()
	notify := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := &Process{exited: make(chan struct{})}
	p.Cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	p.Cmd.Env = append(slices.Clip(env), "NOTIFY_SOCKET="+notify)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.out, &p.out
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("watchparty output:\n%s", p.Output())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("apptest: watchparty exited at start (%v):\n%s", p.err, p.Output())
		default:
		}
		if p.Addr == "" {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if k, _, err := conn.ReadFromUnix(buf); err == nil {
				p.Addr = ReadyAddr(string(buf[:k]))
				p.URL = "http://" + p.Addr
			}
			continue
		}
		if WaitHealthy(p.URL, 100*time.Millisecond) == nil {
			return p
		}
	}
	t.Fatalf("apptest: watchparty was not ready within 30s:\n%s", p.Output())
	return nil
}

// ReadyAddr is the address in a systemd readiness message of the server
// ("READY=1\nSTATUS=serving on ADDR"), "" for any other message.
func ReadyAddr(msg string) string {
	lines := strings.Split(msg, "\n")
	if !slices.Contains(lines, "READY=1") {
		return ""
	}
	for _, l := range lines {
		if a, ok := strings.CutPrefix(l, "STATUS=serving on "); ok {
			return a
		}
	}
	return ""
}

// Output is what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait waits at most d for the process to end and returns how it ended.
func (p *Process) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		t.Fatalf("apptest: watchparty still running %s later", d)
		return nil
	}
}

// Kill ends the process with SIGKILL (if it still runs) and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.exited:
	default:
		_ = p.Cmd.Process.Kill()
		<-p.exited
	}
}

// RunBinary runs a watchparty command to completion (at most a minute) and
// returns its exit code, stdout and stderr.
func RunBinary(t testing.TB, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("apptest: running watchparty %v: %v", args, err)
	return 0, "", ""
}

// Output collects what a process or a logger writes; it may be read while
// it is still written to.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Output) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Output) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CheckStatic fails t unless the binary at path is static: no dynamic
// loader (PT_INTERP) and no shared libraries, so that it runs on a
// distroless image or any Linux without libraries.
func CheckStatic(t testing.TB, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s names a dynamic loader (PT_INTERP): it is not static", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}
