package app_test

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"watchparty/engine/apptest"
)

// binEnv is a clean environment for the binary at warn level.
func binEnv(dataDir string, extra ...string) []string {
	return apptest.BinaryEnv(dataDir, append([]string{"WATCHPARTY_LOG_LEVEL=warn"}, extra...)...)
}

// TestCrashKeepsAcknowledgedSignUps kills the server with SIGKILL right
// after sign-ups were acknowledged (while more are in flight), restarts it
// on the same data directory and finds every acknowledged account.
func TestCrashKeepsAcknowledgedSignUps(t *testing.T) {
	bin := apptest.Binary(t)
	dir := t.TempDir()
	p := apptest.StartBinary(t, bin, binEnv(dir, "WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=10000"))

	const want, workers = 24, 4
	var (
		mu    sync.Mutex
		acked []string
		kill  sync.Once
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := apptest.NewClient(t, p.URL)
			for i := range 100 {
				email := "crash-" + string(rune('a'+w)) + "-" + strconv.Itoa(i) + "@example.test"
				tok, ok := csrfToken(c)
				if !ok {
					return // the server is gone
				}
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/signup", strings.NewReader(
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
					kill.Do(func() { _ = p.Cmd.Process.Signal(syscall.SIGKILL) })
				}
				// A new client per sign-up: each is a new visitor.
				c = apptest.NewClient(t, p.URL)
			}
		})
	}
	wg.Wait()
	err := p.Wait(t, 30*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the server was not killed by SIGKILL: %v", err)
	}
	if len(acked) < want {
		t.Fatalf("only %d sign-ups were acknowledged", len(acked))
	}
	t.Logf("%d sign-ups acknowledged before SIGKILL", len(acked))

	// The lock died with the process: the CLI can open the store.
	code, out, errOut := apptest.RunBinary(t, bin, binEnv(dir), "user", "list")
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
	p2 := apptest.StartBinary(t, bin, binEnv(dir, "WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=10000"))
	for _, email := range acked {
		i := email[strings.LastIndexByte(email, '-')+1 : strings.IndexByte(email, '@')]
		c := apptest.NewClient(t, p2.URL)
		resp, body := c.PostForm(t, "/login", map[string][]string{"email": {email}, "password": {"crash-password-" + i}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("log-in as %s after the restart: %s\n%s", email, resp.Status, body)
		}
	}

	// SIGTERM stops it cleanly.
	if err := p2.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.Wait(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p2.Output())
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false
	}
	return apptest.CSRFToken(string(b))
}

// TestBinaryIsStatic: the default build has no dynamic loader, so it runs on
// a distroless image or any Linux without libraries.
func TestBinaryIsStatic(t *testing.T) {
	bin := apptest.Binary(t)
	apptest.CheckStatic(t, bin)
	code, out, _ := apptest.RunBinary(t, bin, binEnv(t.TempDir()), "version")
	if code != 0 || !strings.Contains(out, "features: ") {
		t.Errorf("the built binary's version: %d %q", code, out)
	}
}
