package web_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/config"
	"watchparty/embed/i18n"
	"watchparty/engine/account"
	"watchparty/engine/apptest"
	"watchparty/engine/room"
	"watchparty/engine/store"
	"watchparty/engine/web"
)

// testServer is the web server on a real store and a loopback listener.
type testServer struct {
	URL  string
	cfg  *config.Config
	st   *store.Store
	acc  *account.Service
	web  *web.Server
	logs *apptest.Output
}

// newTestServer starts a web server; mutate changes the configuration and
// routes (when not nil) adds routes before it serves.
func newTestServer(t *testing.T, mutate func(*config.Config), routes func(*fiber.App)) *testServer {
	t.Helper()
	cfg, err := config.Load(config.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	logs := &apptest.Output{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, apptest.TestWriter(t)), &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(t.TempDir(), log, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc := account.New(account.NewBadger(st), account.Settings{Registration: cfg.Registration, SessionTTL: cfg.Session.TTL, GuestTTL: cfg.Guests.TTL, HashTime: 1, HashMemory: 1024})
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	ro := room.OptionsFrom(cfg)
	ro.Repo, ro.Log = room.NewBadger(st), log
	rooms := room.New(ro)
	w, err := web.New(web.Deps{Config: cfg, Log: log, Store: st, Accounts: acc, Secret: secret, Rooms: rooms})
	if err != nil {
		rooms.Close()
		t.Fatal(err)
	}
	w.OnClose(rooms.Close)
	w.OnClose(acc.Close)
	if routes != nil {
		routes(w.App())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return &testServer{URL: "http://" + ln.Addr().String() + cfg.BasePath, cfg: cfg, st: st, acc: acc, web: w, logs: logs}
}

func (ts *testServer) client(t *testing.T) *apptest.Client { return apptest.NewClient(t, ts.URL) }

// signUp registers an account through the form and returns its client.
func (ts *testServer) signUp(t *testing.T, email, name, password string) *apptest.Client {
	t.Helper()
	c := ts.client(t)
	resp, body := c.PostForm(t, "/signup", url.Values{"email": {email}, "name": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up of %s: %s\n%s", email, resp.Status, body)
	}
	return c
}

func post(t *testing.T, c *apptest.Client, path string, vals url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return c.Do(t, req)
}

func get(t *testing.T, c *apptest.Client, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.Do(t, req)
}

// internalText is text that must never reach a visitor.
var internalText = []string{"DB Closed", "badger", "Badger", "goroutine", ".go:", "runtime.", "store:", "secret internal detail", "panic", "web: ", "account: "}

func assertClean(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range internalText {
		if strings.Contains(body, s) {
			t.Errorf("%s: the response contains internal text %q:\n%s", what, s, body)
		}
	}
}

func TestEveryFormNeedsCSRF(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	admin := ts.signUp(t, "admin@example.org", "Admin", "password-admin")
	other := ts.client(t)
	otherToken := other.CSRF(t) // valid, but for another browser

	forms := []struct {
		path string
		vals url.Values
	}{
		{"/signup", url.Values{"email": {"new@example.org"}, "name": {"New"}, "password": {"password-new"}}},
		{"/login", url.Values{"email": {"admin@example.org"}, "password": {"password-admin"}}},
		{"/logout", url.Values{}},
		{"/account/name", url.Values{"name": {"Renamed"}}},
		{"/account/password", url.Values{"current": {"password-admin"}, "password": {"changed-password"}}},
		{"/account/delete", url.Values{"delete_password": {"password-admin"}}},
		{"/account/invites", url.Values{"days": {"7"}}},
	}
	tokens := []struct {
		name  string
		token *string // nil: no csrf field at all
	}{
		{"missing", nil},
		{"empty", new("")},
		{"wrong", new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")},
		{"another browser's", &otherToken},
	}
	for _, f := range forms {
		for _, tok := range tokens {
			t.Run(f.path+"/"+tok.name, func(t *testing.T) {
				vals := url.Values{}
				for k, v := range f.vals {
					vals[k] = v
				}
				if tok.token != nil {
					vals.Set("csrf", *tok.token)
				}
				resp, body := post(t, admin, f.path, vals, nil)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("POST %s with a %s token: %s, want 403", f.path, tok.name, resp.Status)
				}
				if !strings.Contains(body, "Reload the page and try again") {
					t.Errorf("403 page does not say what to do:\n%s", body)
				}
			})
		}
		t.Run(f.path+"/no cookie", func(t *testing.T) {
			fresh := ts.client(t)
			resp, _ := post(t, fresh, f.path, url.Values{"csrf": {otherToken}}, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("POST %s without the CSRF cookie: %s, want 403", f.path, resp.Status)
			}
		})
	}

	// Nothing happened: still logged in, same name, same password, no new
	// account, no invite.
	resp, body := admin.Get(t, "/account")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `value="Admin"`) {
		t.Fatalf("after the refused forms, /account: %s\n%s", resp.Status, body)
	}
	if _, err := ts.acc.UserByEmail(context.Background(), "new@example.org"); err == nil {
		t.Error("a sign-up without a CSRF token created an account")
	}
	if inv, _ := ts.acc.Invites(context.Background()); len(inv) != 0 {
		t.Error("an invite was created without a CSRF token")
	}
	ts.client(t).PostForm(t, "/login", url.Values{"email": {"admin@example.org"}, "password": {"password-admin"}})

	// The token in a header works too (for scripts).
	resp, _ = post(t, admin, "/account/name", url.Values{"name": {"Header"}}, http.Header{"X-Csrf-Token": {admin.CSRF(t)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("rename with the token in X-CSRF-Token: %s", resp.Status)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	c := ts.client(t)
	tok := c.CSRF(t)
	vals := url.Values{"csrf": {tok}, "email": {"ann@example.org"}, "password": {"password-ann"}}
	for _, h := range []http.Header{
		{"Origin": {"http://evil.example"}},
		{"Origin": {"null"}},
		{"Referer": {"http://evil.example/page"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://127.0.0.1.evil.example"}},
	} {
		resp, body := post(t, c, "/login", vals, h)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another site") {
			t.Errorf("POST /login with %v: %s, want 403 naming another site", h, resp.Status)
		}
		if c.Cookie(apptest.SessionCookie) != "" {
			t.Fatalf("a cross-origin log-in set a session (%v)", h)
		}
	}
	u, _ := url.Parse(ts.URL)
	resp, _ := post(t, c, "/login", vals, http.Header{"Origin": {"http://" + u.Host}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin log-in: %s", resp.Status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	const limit = 3
	ts := newTestServer(t, func(c *config.Config) {
		c.Limits.LoginPerMinute = limit
		c.TrustedProxies = []string{"127.0.0.1"} // lets the test vary the client IP
	}, nil)
	ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	c := ts.client(t)
	tok := c.CSRF(t)
	attempt := func(ip, email, password string) (*http.Response, string) {
		return post(t, c, "/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}}, http.Header{"X-Forwarded-For": {ip}})
	}
	check429 := func(resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status %s, want 429", resp.Status)
		}
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, "Too many attempts. Please wait "+strconv.Itoa(ra)+" seconds") || !strings.Contains(body, `role="alert"`) {
			t.Errorf("the 429 page does not explain the wait next to the form:\n%s", body)
		}
	}

	t.Run("per IP", func(t *testing.T) {
		for i := range limit {
			resp, _ := attempt("198.51.100.1", "nobody"+strconv.Itoa(i)+"@example.org", "wrong-password")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %s, want 401", i+1, resp.Status)
			}
		}
		check429(attempt("198.51.100.1", "someone-else@example.org", "wrong-password"))
		// Even the right password waits: the limit is on attempts.
		check429(attempt("198.51.100.1", "ann@example.org", "password-ann"))
		// Another IP is not affected.
		if resp, _ := attempt("198.51.100.2", "ann@example.org", "password-ann"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("log-in from another IP: %s", resp.Status)
		}
	})
	t.Run("per account from many addresses", func(t *testing.T) {
		tok = c.CSRF(t) // the log-in above started a new session
		// Guessing spread over many addresses is bounded per account
		// (10 times the per-address limit a minute) ...
		victim := ts.signUp(t, "victim@example.org", "Victim", "password-victim")
		vtok := victim.CSRF(t)
		if resp, body := post(t, victim, "/login", url.Values{"csrf": {vtok}, "email": {"victim@example.org"}, "password": {"password-victim"}},
			http.Header{"X-Forwarded-For": {"192.0.2.200"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the victim's own log-in: %s\n%s", resp.Status, body)
		}
		tried := 0
		for i := range 10 * limit {
			// The sign-up and log-in above took their share of the bucket.
			resp, _ := attempt("203.0.113."+strconv.Itoa(i+1), "victim@example.org", "guess"+strconv.Itoa(i))
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				tried++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("attempt %d: %s", i+1, resp.Status)
			}
		}
		if tried < 10*limit-2 {
			t.Fatalf("only %d guesses from distinct addresses were tried before the per-account limit, want %d", tried, 10*limit-2)
		}
		// A fresh address, the same account (in another spelling): limited.
		check429(attempt("203.0.113.99", " VICTIM@example.org", "guess"))
		// Another account from a fresh address is not.
		if resp, _ := attempt("203.0.113.100", "other@example.org", "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("another account: %s, want 401", resp.Status)
		}
		// ... but the account holder is not locked out: a browser that
		// logged in to the account before gets through.
		vtok = victim.CSRF(t)
		if resp, body := post(t, victim, "/login", url.Values{"csrf": {vtok}, "email": {"victim@example.org"}, "password": {"password-victim"}},
			http.Header{"X-Forwarded-For": {"192.0.2.201"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the victim's known browser during the attack: %s, want a log-in\n%s", resp.Status, body)
		}
	})
	t.Run("sign-up per IP", func(t *testing.T) {
		tok = c.CSRF(t)
		for i := range limit {
			resp, _ := post(t, c, "/signup", url.Values{"csrf": {tok}, "email": {"s" + strconv.Itoa(i) + "@example.org"}, "name": {"S"}, "password": {"short"}},
				http.Header{"X-Forwarded-For": {"192.0.2.7"}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("sign-up %d: %s, want 422", i+1, resp.Status)
			}
		}
		check429(post(t, c, "/signup", url.Values{"csrf": {tok}, "email": {"s9@example.org"}, "name": {"S"}, "password": {"long enough"}},
			http.Header{"X-Forwarded-For": {"192.0.2.7"}}))
		if _, err := ts.acc.UserByEmail(context.Background(), "s9@example.org"); err == nil {
			t.Error("a rate-limited sign-up created the account")
		}
	})
	if !strings.Contains(ts.logs.String(), "rate limited") {
		t.Error("rate limiting is not logged")
	}
}

func TestNoInternalErrorText(t *testing.T) {
	ts := newTestServer(t, nil, func(app *fiber.App) {
		app.Get("/boom", func(c *fiber.Ctx) error { panic("secret internal detail 42") })
		app.Get("/fail", func(c *fiber.Ctx) error { return io.ErrUnexpectedEOF })
	})
	ann := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	visitor := ts.client(t)
	tok := visitor.CSRF(t)

	t.Run("panic", func(t *testing.T) {
		resp, body := visitor.Get(t, "/boom")
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "Something went wrong on the server") {
			t.Fatalf("GET /boom: %s\n%s", resp.Status, body)
		}
		assertClean(t, "panic page", body)
		if !strings.Contains(ts.logs.String(), "secret internal detail 42") {
			t.Error("the panic is not in the log")
		}
		resp, body = get(t, visitor, "/boom", http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("JSON panic: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		assertClean(t, "JSON panic", body)
		// The server goes on.
		if resp, _ := visitor.Get(t, "/healthz"); resp.StatusCode != http.StatusOK {
			t.Errorf("after a panic /healthz: %s", resp.Status)
		}
	})
	t.Run("handler error", func(t *testing.T) {
		resp, body := visitor.Get(t, "/fail")
		if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "unexpected EOF") {
			t.Errorf("GET /fail: %s\n%s", resp.Status, body)
		}
	})
	t.Run("not found", func(t *testing.T) {
		resp, body := visitor.Get(t, "/no/such/page")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "404") {
			t.Errorf("GET of a missing page: %s", resp.Status)
		}
		assertClean(t, "404 page", body)
	})

	t.Run("store closed", func(t *testing.T) {
		if err := ts.st.Close(); err != nil {
			t.Fatal(err)
		}
		requests := []struct {
			name string
			do   func() (*http.Response, string)
		}{
			{"page with a session", func() (*http.Response, string) { return ann.Get(t, "/") }},
			{"account page", func() (*http.Response, string) { return ann.Get(t, "/account") }},
			{"log-in", func() (*http.Response, string) {
				return post(t, visitor, "/login", url.Values{"csrf": {tok}, "email": {"ann@example.org"}, "password": {"password-ann"}}, nil)
			}},
			{"sign-up", func() (*http.Response, string) {
				return post(t, visitor, "/signup", url.Values{"csrf": {tok}, "email": {"bob@example.org"}, "name": {"Bob"}, "password": {"password-bob"}}, nil)
			}},
			{"rename", func() (*http.Response, string) {
				return post(t, ann, "/account/name", url.Values{"csrf": {ann.CSRF(t)}, "name": {"X"}}, nil)
			}},
		}
		for _, r := range requests {
			resp, body := r.do()
			if resp.StatusCode < 500 {
				t.Errorf("%s with the store closed: %s, want a 5xx", r.name, resp.Status)
			}
			assertClean(t, r.name, body)
			if !strings.Contains(body, "Please try again") {
				t.Errorf("%s: no plain message for the visitor:\n%s", r.name, body)
			}
		}
		// A failing store is not a reason to log the visitor out.
		if ann.Cookie(apptest.SessionCookie) == "" {
			t.Error("the session cookie was dropped because the store failed")
		}
		if !strings.Contains(ts.logs.String(), "request failed") {
			t.Error("the cause is not logged")
		}
	})
}

func TestSessionCookie(t *testing.T) {
	cases := []struct {
		name       string
		secure     bool
		header     http.Header
		wantSecure bool
	}{
		{"plain http", false, nil, false},
		{"configured secure", true, nil, true},
		{"https at the proxy", false, http.Header{"X-Forwarded-Proto": {"https"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *config.Config) {
				c.Session.SecureCookie = tc.secure
				c.TrustedProxies = []string{"127.0.0.1"}
			}, nil)
			c := ts.client(t)
			// The form is loaded as the browser would: over the same scheme.
			_, page := get(t, c, "/", tc.header)
			tok := regexp.MustCompile(`<meta name="csrf" content="([^"]*)">`).FindStringSubmatch(page)
			if tok == nil {
				t.Fatal("no CSRF token on the start page")
			}
			resp, _ := post(t, c, "/signup", url.Values{"csrf": {tok[1]}, "email": {"ann@example.org"}, "name": {"Ann"}, "password": {"password-ann"}}, tc.header)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-up: %s", resp.Status)
			}
			name := apptest.SessionCookie
			if tc.wantSecure {
				name = "__Host-" + name // Secure cookies on the whole host carry the prefix
			}
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == name {
					session = ck
				}
			}
			if session == nil || len(session.Value) < 40 {
				t.Fatalf("no session cookie with a long random token in %q", resp.Header.Values("Set-Cookie"))
			}
			if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
				t.Errorf("session cookie %q: want HttpOnly, SameSite=Lax, Path=/", resp.Header.Values("Set-Cookie"))
			}
			if session.Secure != tc.wantSecure {
				t.Errorf("session cookie Secure = %v, want %v", session.Secure, tc.wantSecure)
			}
			if session.MaxAge != int(ts.cfg.Session.TTL.Seconds()) {
				t.Errorf("session cookie Max-Age %d, want the session TTL", session.MaxAge)
			}
		})
	}
}

func TestSessionRotatedAtLogIn(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	before := c.Cookie(apptest.SessionCookie)
	resp, _ := c.PostForm(t, "/login", url.Values{"email": {"ann@example.org"}, "password": {"password-ann"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in: %s", resp.Status)
	}
	after := c.Cookie(apptest.SessionCookie)
	if after == "" || after == before {
		t.Fatal("log-in did not issue a new session token")
	}
	if _, err := ts.acc.Authenticate(context.Background(), before); err == nil {
		t.Error("the session from before the log-in is still valid")
	}
	// Log-out revokes the session on the server, not only the cookie.
	resp, body := c.PostForm(t, "/logout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-out: %s\n%s", resp.Status, body)
	}
	if _, err := ts.acc.Authenticate(context.Background(), after); err == nil {
		t.Error("the session is valid after log-out")
	}
	if c.Cookie(apptest.SessionCookie) != "" {
		t.Error("the session cookie survived log-out")
	}
	if _, body := c.Get(t, "/"); !strings.Contains(body, "You are logged out.") {
		t.Error("no log-out message")
	}
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.client(t)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		resp, body := c.Get(t, path)
		if resp.StatusCode != http.StatusOK || body != want {
			t.Errorf("GET %s: %s %q", path, resp.Status, body)
		}
	}
	ts.st.Close()
	resp, body := c.Get(t, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %s", resp.Status)
	}
	assertClean(t, "readyz", body)
	if resp, _ := c.Get(t, "/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with the store closed: %s (the process is alive)", resp.Status)
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Limits.LoginPerMinute = 100 }, nil)
	c := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	cases := []struct{ next, want string }{
		{"/account", "/account"},
		{"/?a=b", "/?a=b"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"http:evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	}
	for _, tc := range cases {
		// A logged-in visit to /login goes straight to next.
		resp, _ := c.Get(t, "/login?next="+url.QueryEscape(tc.next))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Errorf("GET /login?next=%q: %s to %q, want %q", tc.next, resp.Status, resp.Header.Get("Location"), tc.want)
		}
		// And so does the form.
		fresh := ts.client(t)
		resp, _ = fresh.PostForm(t, "/login", url.Values{"email": {"ann@example.org"}, "password": {"password-ann"}, "next": {tc.next}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Errorf("POST /login next=%q: %s to %q, want %q", tc.next, resp.Status, resp.Header.Get("Location"), tc.want)
		}
	}
	// A logged-out visit to /account is sent to the log-in with next set.
	resp, _ := ts.client(t).Get(t, "/account")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Faccount" {
		t.Errorf("logged-out /account: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

func TestUserContentIsEscaped(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	evil := `<script>alert("x")</script>`
	c := ts.signUp(t, "ann@example.org", evil, "password-ann")
	for _, path := range []string{"/", "/account"} {
		_, body := c.Get(t, path)
		if strings.Contains(body, evil) || strings.Contains(body, "<script>alert") {
			t.Errorf("%s shows the display name unescaped", path)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s does not show the escaped display name", path)
		}
	}
	// Values echoed back into a form after an error are escaped too.
	other := ts.client(t)
	resp, body := other.PostForm(t, "/signup", url.Values{"email": {`"><script>alert(1)</script>`}, "name": {`"onfocus="x`}, "password": {"password-x"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad sign-up: %s", resp.Status)
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, `"onfocus="x"`) {
		t.Errorf("form values are echoed unescaped:\n%s", body)
	}
}

var fieldError = regexp.MustCompile(`<p class="field-error" id="([a-z_]+)-error">([^<]*)</p>`)

func TestErrorsNextToFields(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.client(t)
	cases := []struct {
		vals  url.Values
		field string
		text  string
	}{
		{url.Values{"email": {"ann@example.org"}, "name": {"Ann"}, "password": {"short"}}, "password", "at least 8 characters"},
		{url.Values{"email": {"not-an-email"}, "name": {"Ann"}, "password": {"password-ann"}}, "email", "valid email"},
		{url.Values{"email": {"ann@example.org"}, "name": {""}, "password": {"password-ann"}}, "name", "display name"},
	}
	for _, tc := range cases {
		resp, body := c.PostForm(t, "/signup", tc.vals)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("sign-up with a bad %s: %s", tc.field, resp.Status)
		}
		m := fieldError.FindAllStringSubmatch(body, -1)
		if len(m) != 1 || m[0][1] != tc.field || !strings.Contains(m[0][2], tc.text) {
			t.Errorf("bad %s: field errors %q, want one on %s saying %q", tc.field, m, tc.field, tc.text)
		}
		if !strings.Contains(body, `aria-invalid="true" aria-describedby="`+tc.field+`-error"`) {
			t.Errorf("bad %s: the input is not marked invalid", tc.field)
		}
		// What was typed is kept, except the password.
		if tc.vals.Get("email") != "" && !strings.Contains(body, `value="`+tc.vals.Get("email")+`"`) {
			t.Errorf("bad %s: the email was not kept", tc.field)
		}
		if strings.Contains(body, tc.vals.Get("password")) {
			t.Errorf("bad %s: the password is echoed back", tc.field)
		}
	}
	ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	_, body := c.PostForm(t, "/signup", url.Values{"email": {"ANN@example.org"}, "name": {"Ann 2"}, "password": {"password-ann"}})
	if m := fieldError.FindStringSubmatch(body); m == nil || m[1] != "email" || !strings.Contains(m[2], "already exists") {
		t.Errorf("duplicate email: field error %q", m)
	}
	resp, body := c.PostForm(t, "/login", url.Values{"email": {"ann@example.org"}, "password": {"wrong-password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong email or password") {
		t.Errorf("wrong password: %s", resp.Status)
	}
}

// TestFormErrorsInTheirLanguage: the account forms' errors read in the
// page's language, as the rest of the page does.
func TestFormErrorsInTheirLanguage(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	for _, lang := range []string{"de", "fr"} {
		T := i18n.Get(lang)
		c := ts.client(t)
		c.Get(t, "/signup?lang="+lang) // the choice is kept in a cookie
		_, body := c.PostForm(t, "/signup", url.Values{"email": {"bob@example.org"}, "name": {"Bob"}, "password": {"short"}})
		m := fieldError.FindStringSubmatch(body)
		if want := T.T("acct_err_weak_password"); m == nil || m[1] != "password" || m[2] != want || want == i18n.Get("en").T("acct_err_weak_password") {
			t.Errorf("%s: short password: field error %q, want %q", lang, m, want)
		}
		_, body = c.PostForm(t, "/signup", url.Values{"email": {"ANN@example.org"}, "name": {"Ann"}, "password": {"password-ann"}})
		if m := fieldError.FindStringSubmatch(body); m == nil || m[2] != T.T("acct_err_email_taken") {
			t.Errorf("%s: email taken: field error %q", lang, m)
		}
		resp, body := c.PostForm(t, "/login", url.Values{"email": {"ann@example.org"}, "password": {"wrong-password"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, T.T("acct_err_bad_credentials")) {
			t.Errorf("%s: wrong password: %s, the page does not say %q", lang, resp.Status, T.T("acct_err_bad_credentials"))
		}
		if !strings.Contains(body, "<title>"+T.T("log_in")+" · watchparty</title>") {
			t.Errorf("%s: the log-in page's title is not %q", lang, T.T("log_in"))
		}
	}
}

func TestAccountPage(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	admin := ts.signUp(t, "admin@example.org", "Admin", "password-admin")
	phone := ts.client(t)
	phone.PostForm(t, "/login", url.Values{"email": {"admin@example.org"}, "password": {"password-admin"}})

	resp, _ := admin.PostForm(t, "/account/name", url.Values{"name": {"  Boss  "}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %s", resp.Status)
	}
	if _, body := admin.Get(t, "/account"); !strings.Contains(body, `value="Boss"`) || !strings.Contains(body, "Your display name was saved.") {
		t.Error("the new name is not shown")
	}
	resp, body := admin.PostForm(t, "/account/name", url.Values{"name": {strings.Repeat("n", 41)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="name-error"`) {
		t.Errorf("long name: %s", resp.Status)
	}

	resp, body = admin.PostForm(t, "/account/password", url.Values{"current": {"wrong"}, "password": {"new-password"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="current-error"`) {
		t.Errorf("wrong current password: %s", resp.Status)
	}
	resp, _ = admin.PostForm(t, "/account/password", url.Values{"current": {"password-admin"}, "password": {"new-password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %s", resp.Status)
	}
	if resp, _ := admin.Get(t, "/account"); resp.StatusCode != http.StatusOK {
		t.Errorf("the session that changed the password was logged out: %s", resp.Status)
	}
	if resp, _ := phone.Get(t, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the other session still reaches /account: %s", resp.Status)
	}

	// Admins create invite links; the link is absolute and works once.
	resp, body = admin.PostForm(t, "/account/invites", url.Values{"days": {"0"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="days-error"`) {
		t.Errorf("invite for 0 days: %s", resp.Status)
	}
	resp, body = admin.PostForm(t, "/account/invites", url.Values{"days": {"3"}})
	m := regexp.MustCompile(`id="invite-link" readonly value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.HasPrefix(m[1], ts.URL+"/signup?invite=") {
		t.Fatalf("invite: %s, link %q", resp.Status, m)
	}

	// A regular user may not create invites, and deletes their account with
	// their password.
	user := ts.signUp(t, "user@example.org", "User", "password-user")
	if resp, _ := user.PostForm(t, "/account/invites", url.Values{"days": {"3"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("invite by a regular user: %s", resp.Status)
	}
	resp, body = user.PostForm(t, "/account/delete", url.Values{"delete_password": {"wrong"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="delete-error"`) {
		t.Errorf("delete with a wrong password: %s", resp.Status)
	}
	resp, _ = user.PostForm(t, "/account/delete", url.Values{"delete_password": {"password-user"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	if _, err := ts.acc.UserByEmail(context.Background(), "user@example.org"); err == nil {
		t.Error("the account still exists")
	}
	// The last admin cannot delete the account while others exist.
	ts.signUp(t, "third@example.org", "Third", "password-third")
	resp, body = admin.PostForm(t, "/account/delete", url.Values{"delete_password": {"new-password"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "last admin") {
		t.Errorf("last admin deleting the account: %s", resp.Status)
	}
}

func TestRegistrationModes(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		ts := newTestServer(t, func(c *config.Config) { c.Registration = "closed" }, nil)
		c := ts.client(t)
		resp, body := c.Get(t, "/signup")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sign-up is closed") {
			t.Errorf("GET /signup when closed: %s", resp.Status)
		}
		_, body = c.Get(t, "/")
		if strings.Contains(body, `href="/signup"`) {
			t.Error("the start page links to sign-up on a closed server")
		}
		resp, body = c.PostForm(t, "/signup", url.Values{"email": {"a@example.org"}, "name": {"A"}, "password": {"password-a"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "sign-up is closed") {
			t.Errorf("POST /signup when closed: %s", resp.Status)
		}
	})
	t.Run("invite", func(t *testing.T) {
		ts := newTestServer(t, func(c *config.Config) { c.Registration = "invite" }, nil)
		admin, err := ts.acc.AdminCreate(context.Background(), account.SignUp{Email: "admin@example.org", Name: "Admin", Password: "password-admin"}, true)
		if err != nil {
			t.Fatal(err)
		}
		c := ts.client(t)
		if resp, body := c.Get(t, "/signup"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "needs an invite") {
			t.Errorf("GET /signup without an invite: %s", resp.Status)
		}
		if resp, body := c.Get(t, "/signup?invite=bogus"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "invalid, used or expired") {
			t.Errorf("GET /signup with a bad invite: %s", resp.Status)
		}
		inv, err := ts.acc.CreateInvite(context.Background(), admin.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := c.Get(t, "/signup?invite="+inv.Token)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="invite" value="`+inv.Token+`"`) {
			t.Fatalf("GET /signup with an invite: %s", resp.Status)
		}
		resp, _ = c.PostForm(t, "/signup", url.Values{"email": {"new@example.org"}, "name": {"New"}, "password": {"password-new"}, "invite": {inv.Token}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-up with the invite: %s", resp.Status)
		}
		again := ts.client(t)
		resp, body = again.PostForm(t, "/signup", url.Values{"email": {"second@example.org"}, "name": {"Second"}, "password": {"password-2"}, "invite": {inv.Token}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "invalid, used or expired") {
			t.Errorf("second use of the invite: %s", resp.Status)
		}
	})
}

func TestBasePath(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.BasePath = "/watch" }, nil)
	c := ts.client(t)
	resp, body := c.PostForm(t, "/signup", url.Values{"email": {"ann@example.org"}, "name": {"Ann"}, "password": {"password-ann"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/watch/" {
		t.Fatalf("sign-up under /watch: %s to %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == apptest.SessionCookie && ck.Path != "/watch/" {
			t.Errorf("session cookie path %q, want /watch/", ck.Path)
		}
	}
	_, body = c.Get(t, "/")
	if !strings.Contains(body, `href="/watch/account"`) || !strings.Contains(body, `/watch/static/`) {
		t.Error("links do not carry the base path")
	}
	resp, _ = c.Get(t, "/login?next="+url.QueryEscape("/elsewhere"))
	if resp.Header.Get("Location") != "/watch/" {
		t.Errorf("next outside the base path: redirected to %q", resp.Header.Get("Location"))
	}
}

func TestStaticAssets(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.client(t)
	_, body := c.Get(t, "/")
	m := regexp.MustCompile(`href="(/static/[0-9a-f]+/css/app\.css)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no versioned stylesheet link")
	}
	resp, css := c.Get(t, m[1])
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || len(css) == 0 {
		t.Errorf("stylesheet: %s, Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
	}
	// No page loads anything from another host.
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("the start page loads a third-party asset")
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
}
