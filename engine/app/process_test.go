package app_test

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"watchparty/engine/apptest"
)

// goTool is the go command that runs the tests.
func goTool(t testing.TB) string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is not on PATH")
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// moduleRoot is the directory of go.mod.
func moduleRoot(t testing.TB) string {
	out, err := exec.Command(goTool(t), "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildBinary builds the static, stripped watchparty binary into dir.
func buildBinary(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "watchparty")
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// proc is a watchparty process.
type proc struct {
	cmd    *exec.Cmd
	base   string
	out    *lockedBuffer
	exited chan struct{}
	err    error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// binEnv is a clean environment for the binary: nothing from the test's own
// environment leaks in.
func binEnv(dataDir string, extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "HOME=" + dataDir, "WATCHPARTY_DATA_DIR=" + dataDir, "WATCHPARTY_LOG_LEVEL=warn"}, extra...)
}

// startBinary runs `watchparty serve` on a free loopback port and waits until
// /healthz answers. The process is killed at cleanup if still running.
func startBinary(t testing.TB, bin, dataDir string, extraEnv ...string) *proc {
	t.Helper()
	addr := apptest.FreePort(t)
	p := &proc{out: &lockedBuffer{}, exited: make(chan struct{}), base: "http://" + addr}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = binEnv(dataDir, append([]string{"WATCHPARTY_LISTEN=" + addr}, extraEnv...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("watchparty output:\n%s", p.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("watchparty exited at start (%v):\n%s", p.err, p.out.String())
		default:
		}
		if apptest.WaitHealthy(p.base, 100*time.Millisecond) == nil {
			return p
		}
	}
	t.Fatalf("watchparty did not answer /healthz within 30s:\n%s", p.out.String())
	return nil
}

// wait waits for the process to end, at most d.
func (p *proc) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		t.Fatalf("watchparty still running %s later", d)
		return nil
	}
}

// runBinary runs a watchparty command to completion.
func runBinary(t testing.TB, bin string, env []string, args ...string) (int, string, string) {
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
	t.Fatalf("running watchparty %v: %v", args, err)
	return 0, "", ""
}

// TestCrashKeepsAcknowledgedSignUps kills the server with SIGKILL right
// after sign-ups were acknowledged (while more are in flight), restarts it
// on the same data directory and finds every acknowledged account.
func TestCrashKeepsAcknowledgedSignUps(t *testing.T) {
	bin := buildBinary(t, t.TempDir())
	dir := t.TempDir()
	p := startBinary(t, bin, dir, "WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=10000")

	const want, workers = 24, 4
	var (
		mu    sync.Mutex
		acked []string
		kill  sync.Once
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := apptest.NewClient(t, p.base)
			for i := range 100 {
				email := "crash-" + string(rune('a'+w)) + "-" + strconv.Itoa(i) + "@example.test"
				tok, ok := csrfToken(c)
				if !ok {
					return // the server is gone
				}
				req, _ := http.NewRequest(http.MethodPost, p.base+"/signup", strings.NewReader(
					"csrf="+tok+"&email="+email+"&name=Crash&password=crash-password-"+strconv.Itoa(i)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.HTTP.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					t.Errorf("sign-up of %s: %s", email, resp.Status)
					return
				}
				// Acknowledged: the account must survive anything now.
				mu.Lock()
				acked = append(acked, email)
				n := len(acked)
				mu.Unlock()
				if n >= want {
					kill.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) })
				}
				// A new client per sign-up: each is a new visitor.
				c = apptest.NewClient(t, p.base)
			}
		})
	}
	wg.Wait()
	err := p.wait(t, 30*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the server was not killed by SIGKILL: %v", err)
	}
	if len(acked) < want {
		t.Fatalf("only %d sign-ups were acknowledged", len(acked))
	}
	t.Logf("%d sign-ups acknowledged before SIGKILL", len(acked))

	// The lock died with the process: the CLI can open the store.
	code, out, errOut := runBinary(t, bin, binEnv(dir), "user", "list")
	if code != 0 {
		t.Fatalf("user list after the crash: exit %d\n%s", code, errOut)
	}
	for _, email := range acked {
		if !strings.Contains(out, email) {
			t.Errorf("user list after the crash lacks %s", email)
		}
	}
	if n := strings.Count(out, " admin "); n != 1 {
		t.Errorf("user list shows %d admins, want 1:\n%s", n, out)
	}

	// Restart on the same directory and log in as everyone acknowledged.
	p2 := startBinary(t, bin, dir, "WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=10000")
	for _, email := range acked {
		i := email[strings.LastIndexByte(email, '-')+1 : strings.IndexByte(email, '@')]
		c := apptest.NewClient(t, p2.base)
		resp, body := c.PostForm(t, "/login", map[string][]string{"email": {email}, "password": {"crash-password-" + i}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("log-in as %s after the restart: %s\n%s", email, resp.Status, body)
		}
	}

	// SIGTERM stops it cleanly.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.wait(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p2.out.String())
	}
}

// csrfToken loads the start page and returns the CSRF token, false when
// the server does not answer.
func csrfToken(c *apptest.Client) (string, bool) {
	resp, err := c.HTTP.Get(c.Base + "/")
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return "", false
	}
	const marker = `<meta name="csrf" content="`
	s := b.String()
	i := strings.Index(s, marker)
	if i < 0 {
		return "", false
	}
	s = s[i+len(marker):]
	return s[:strings.IndexByte(s, '"')], true
}

// TestBinaryIsStatic: the default build has no dynamic loader, so it runs on
// a distroless image or any Linux without libraries.
func TestBinaryIsStatic(t *testing.T) {
	bin := buildBinary(t, t.TempDir())
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links %v", libs)
	}
	code, out, _ := runBinary(t, bin, binEnv(t.TempDir()), "version")
	if code != 0 || !strings.Contains(out, "features: ") {
		t.Errorf("the built binary's version: %d %q", code, out)
	}
}
