package reliability

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/apptest"
)

// proc is a watchparty server process.
type proc = apptest.Process

// startProc runs the binary on dataDir with the flags extra and the
// server's defaults otherwise (no WATCHPARTY_* variables).
func startProc(t testing.TB, bin, dataDir string, extra ...string) *proc {
	t.Helper()
	return apptest.StartBinary(t, bin, []string{"PATH=/usr/bin:/bin", "HOME=" + dataDir}, append([]string{"--data_dir", dataDir}, extra...)...)
}

// webClient is a cookie-keeping HTTP client that returns errors instead of
// failing the test: the server may be killed under it.
type webClient struct {
	c    *http.Client
	base string
}

func newWebClient(base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) rebase(base string) {
	old, _ := url.Parse(w.base + "/")
	nu, _ := url.Parse(base + "/")
	w.c.Jar.SetCookies(nu, w.c.Jar.Cookies(old))
	w.base = base
}

func (w *webClient) get(p string) (int, string, error) {
	resp, err := w.c.Get(w.base + p)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// post sends a form with the CSRF token from the start page; json asks for
// a JSON answer.
func (w *webClient) post(p string, vals url.Values, json bool) (int, string, error) {
	_, body, err := w.get("/")
	if err != nil {
		return 0, "", err
	}
	tok, ok := apptest.CSRFToken(body)
	if !ok {
		return 0, body, fmt.Errorf("no CSRF token on the start page")
	}
	vals.Set("csrf", tok)
	req, _ := http.NewRequest(http.MethodPost, w.base+p, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if json {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := w.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (w *webClient) session() string {
	u, _ := url.Parse(w.base + "/")
	for _, c := range w.c.Jar.Cookies(u) {
		if c.Name == "wp_session" {
			return c.Value
		}
	}
	return ""
}

// crashRoom is what the test knows a room must look like after a restart.
type crashRoom struct {
	code string
	// name and control: the last acknowledged value, or the one that was in
	// flight when the server died (either may have been saved).
	names, controls []string
	lines           []string // acknowledged chat lines
}

// kills is how many times TestCrashConsistency kills the server
// (RELIABILITY_KILLS overrides; docs/reliability.md runs 50).
func kills(t *testing.T) int {
	if v := os.Getenv("RELIABILITY_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("RELIABILITY_KILLS=%q: want 1..1000", v)
		}
		return n
	}
	return 8
}

// TestCrashConsistency kills the server with SIGKILL while sign-ups, chat
// lines and room changes (create, rename, settings) are under way, and
// restarts it on the same data directory: every acknowledged sign-up (303),
// chat line (its echo to the author) and room change (303 or {"ok":true})
// is there after the restart, and the store opens cleanly each time.
func TestCrashConsistency(t *testing.T) {
	bin := apptest.Binary(t)
	dir := filepath.Join(t.TempDir(), "data")
	flags := []string{"--limits.login_per_minute", "10000", "--limits.chat_per_10s", "10000", "--limits.rooms_per_user", "1000"}
	n := kills(t)

	p := startProc(t, bin, dir, flags...)
	owner := newWebClient(p.URL)
	if st, body, err := owner.post("/signup", url.Values{"email": {"owner@crash.test"}, "name": {"Owner"}, "password": {"owner-password-1"}}, false); err != nil || st != http.StatusSeeOther {
		t.Fatalf("owner sign-up: %d %v %s", st, err, body)
	}
	emails := []string{"owner@crash.test"}
	var rooms []*crashRoom
	totalLines, totalChanges := 0, 0

	for cycle := range n + 1 {
		if cycle > 0 {
			p = startProc(t, bin, dir, flags...)
			owner.rebase(p.URL)
			if strings.Contains(p.Output(), "level=ERROR") {
				t.Fatalf("cycle %d: errors while opening:\n%s", cycle, p.Output())
			}
			verifyRooms(t, cycle, p.URL, owner.session(), rooms)
		}
		if cycle == n {
			// The last start only checks; then a clean stop.
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.Exited():
			case <-time.After(20 * time.Second):
				t.Fatal("the server did not stop within 20s of SIGTERM")
			}
			if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.Output())
			}
			break
		}

		// A new room for this cycle (an acknowledged room change).
		st, _, err := owner.post("/rooms", url.Values{"name": {fmt.Sprintf("room %d", cycle)}}, false)
		if err != nil || st != http.StatusSeeOther {
			t.Fatalf("cycle %d: create room: %d %v", cycle, st, err)
		}
		code := lastRoomCode(t, owner)
		r := &crashRoom{code: code, names: []string{fmt.Sprintf("room %d", cycle)}, controls: []string{"everyone"}}
		rooms = append(rooms, r)
		totalChanges++
		ws, _, err := dialRoom(t, p.URL, code, owner.session(), "same")
		if err != nil {
			t.Fatalf("cycle %d: websocket: %v", cycle, err)
		}

		var wg sync.WaitGroup
		var mu sync.Mutex
		// Sign-ups.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				email := fmt.Sprintf("u%d-%d@crash.test", cycle, k)
				c := newWebClient(p.URL)
				st, _, err := c.post("/signup", url.Values{"email": {email}, "name": {"U"}, "password": {"password-" + email}}, false)
				if err != nil {
					return
				}
				if st == http.StatusSeeOther {
					mu.Lock()
					emails = append(emails, email)
					mu.Unlock()
				}
			}
		}()
		// Chat lines, acknowledged by their echo.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 30 {
				text := fmt.Sprintf("line %d-%d", cycle, k)
				_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"chat","text":%q,"ref":"r%d"}`, text, k)) != nil {
					return
				}
				for acked := false; !acked; {
					_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, data, err := ws.ReadMessage()
					if err != nil {
						return
					}
					if strings.Contains(string(data), fmt.Sprintf(`"text":%q`, text)) && strings.Contains(string(data), fmt.Sprintf(`"ref":"r%d"`, k)) {
						acked = true
					}
				}
				mu.Lock()
				r.lines = append(r.lines, text)
				mu.Unlock()
			}
		}()
		// Renames and settings, one at a time.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 40 {
				var st int
				var body string
				var err error
				if k%2 == 0 {
					name := fmt.Sprintf("room %d renamed %d", cycle, k)
					mu.Lock()
					r.names = []string{r.names[0], name} // last acked, in flight
					mu.Unlock()
					st, body, err = owner.post("/r/"+code+"/rename", url.Values{"name": {name}}, true)
					if err == nil && st == 200 && strings.Contains(body, `"ok":true`) {
						mu.Lock()
						r.names = []string{name}
						totalChanges++
						mu.Unlock()
						continue
					}
				} else {
					ctl := []string{"owner", "moderators", "everyone"}[k%3]
					mu.Lock()
					r.controls = []string{r.controls[0], ctl}
					mu.Unlock()
					st, body, err = owner.post("/r/"+code+"/settings", url.Values{"control": {ctl}, "change_video": {"everyone"}, "manage_queue": {"everyone"}}, true)
					if err == nil && st == 200 && strings.Contains(body, `"ok":true`) {
						mu.Lock()
						r.controls = []string{ctl}
						totalChanges++
						mu.Unlock()
						continue
					}
				}
				if err == nil {
					t.Errorf("cycle %d: room change answered %d %s", cycle, st, body)
				}
				return
			}
		}()
		// Kill while the three are running (at a varying moment).
		time.Sleep(time.Duration(150+(cycle*137)%450) * time.Millisecond)
		p.Kill()
		wg.Wait()
		ws.Close()
		totalLines += len(r.lines)

		// The store opens cleanly with the server down, and every
		// acknowledged sign-up is in it.
		out, err := exec.Command(bin, "user", "list", "--data_dir", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("cycle %d: watchparty user list after the kill: %v\n%s", cycle, err, out)
		}
		for _, e := range emails {
			if !strings.Contains(string(out), e) {
				t.Fatalf("cycle %d: the acknowledged sign-up %s is gone after SIGKILL", cycle, e)
			}
		}
	}
	t.Logf("%d kills survived: %d sign-ups, %d chat lines and %d room changes acknowledged, none lost", n, len(emails), totalLines, totalChanges)
}

// lastRoomCode finds the newest room on the owner's home page.
func lastRoomCode(t *testing.T, owner *webClient) string {
	t.Helper()
	_, body, err := owner.get("/")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/r/([0-9A-Z]{10})`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no room on the home page:\n%s", body)
	}
	return m[1]
}

// verifyRooms checks every room's name, settings and acknowledged chat
// lines through the hello of a fresh websocket.
func verifyRooms(t *testing.T, cycle int, base, session string, rooms []*crashRoom) {
	t.Helper()
	for _, r := range rooms {
		c, hello := mustDial(t, base, r.code, session)
		room := hello["room"].(map[string]any)
		if !slices.Contains(r.names, room["name"].(string)) {
			t.Fatalf("cycle %d: room %s is named %q after the restart, want one of %q", cycle, r.code, room["name"], r.names)
		}
		ctl := room["settings"].(map[string]any)["control"].(string)
		if !slices.Contains(r.controls, ctl) {
			t.Fatalf("cycle %d: room %s has control %q after the restart, want one of %q", cycle, r.code, ctl, r.controls)
		}
		have := map[string]bool{}
		for _, l := range hello["chat"].([]any) {
			have[l.(map[string]any)["text"].(string)] = true
		}
		for _, l := range r.lines {
			if !have[l] {
				t.Fatalf("cycle %d: room %s lost the acknowledged line %q", cycle, r.code, l)
			}
		}
		c.Close()
	}
}
