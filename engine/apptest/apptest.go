// Package apptest starts real watchparty servers for tests in any package:
// the whole app (store, accounts, web, and whatever app.NewServer wires in)
// on a free loopback port with its own data directory, stopped when the test
// ends. It also has an HTTP client that keeps cookies and sends the CSRF
// token, and helpers that create accounts.
//
//	srv := apptest.StartServer(t, func(c *config.Config) { c.Registration = "invite" })
//	ann := srv.SignUp(t, "Ann")                 // an account, logged in over HTTP
//	resp, body := ann.Client.Get(t, "/account") // with Ann's session cookie
//
// Passwords are hashed with a low argon2id cost unless the test passes
// app.WithHashCost(0, 0) (the production defaults) as an option.
package apptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/account"
	"watchparty/engine/app"
)

// Server is a running watchparty server.
type Server struct {
	// URL is the server's base URL without a trailing slash, including the
	// base path when one is configured: http://127.0.0.1:PORT[/base].
	URL string
	// Addr is the listener's host:port.
	Addr    string
	Config  *config.Config
	App     *app.Server
	DataDir string

	cancel context.CancelFunc
	done   chan struct{}
	runErr error
	once   sync.Once
}

// StartServer starts a server on 127.0.0.1 with a fresh data directory in
// t.TempDir(). mutate, when not nil, changes the configuration first (it
// starts from the defaults, with listen 127.0.0.1:0). opts go to
// app.NewServer after the low hash cost, so they can override it. The server
// logs to the test log and stops when the test ends.
func StartServer(t testing.TB, mutate func(*config.Config), opts ...app.Option) *Server {
	t.Helper()
	cfg, err := config.Load(config.Source{})
	if err != nil {
		t.Fatalf("apptest: default configuration: %v", err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if mutate != nil {
		mutate(cfg)
	}
	return Start(t, cfg, opts...)
}

// Start starts a server with exactly cfg (for a test that restarts a server
// on the same data directory, pass the first server's Config). cfg.Listen
// should be a loopback address; port 0 picks a free one.
func Start(t testing.TB, cfg *config.Config, opts ...app.Option) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(TestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]app.Option{app.WithHashCost(1, 1024)}, opts...)
	as, err := app.NewServer(cfg, log, all...)
	if err != nil {
		t.Fatalf("apptest: building the server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Config: cfg, App: as, DataDir: cfg.DataDir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.runErr = as.Run(ctx)
	}()
	select {
	case addr := <-as.Addr:
		s.Addr = addr.String()
	case <-s.done:
		cancel()
		t.Fatalf("apptest: the server stopped before listening: %v", s.runErr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("apptest: the server did not start listening within 30s")
	}
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	s.URL = scheme + "://" + s.Addr + cfg.BasePath
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("apptest: stopping the server: %v", err)
		}
	})
	return s
}

// Stop shuts the server down (as on SIGTERM) and waits for it to finish,
// store closed. It is called at cleanup; calling it earlier is fine, and
// further calls return the same result.
func (s *Server) Stop() error {
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(app.ShutdownTimeout + 10*time.Second):
			s.runErr = fmt.Errorf("apptest: server still running %s after the stop", app.ShutdownTimeout+10*time.Second)
		}
	})
	return s.runErr
}

// Done is closed when the server's Run has returned.
func (s *Server) Done() <-chan struct{} { return s.done }

// Accounts is the server's account service, for creating users directly.
func (s *Server) Accounts() *account.Service { return s.App.Accounts }

// User is an account made by a helper, with a client logged in as it.
type User struct {
	*account.User
	Password string
	Client   *Client
}

var userSeq atomic.Int64 //nolint:gochecknoglobals // emails unique across every server of the test binary

// SignUp creates an account through the sign-up form (so the first one
// becomes admin) and returns it with a client holding its session. The email
// is derived from name and unique within the test binary.
func (s *Server) SignUp(t testing.TB, name string) *User {
	t.Helper()
	n := userSeq.Add(1)
	email := fmt.Sprintf("%s.%d@example.test", strings.ToLower(strings.Join(strings.Fields(name), ".")), n)
	password := fmt.Sprintf("password-%d-%s", n, name)
	c := s.Client(t)
	resp, body := c.PostForm(t, "/signup", url.Values{"email": {email}, "name": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apptest: sign-up of %s answered %s:\n%s", email, resp.Status, body)
	}
	u, err := s.Accounts().UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("apptest: the signed-up account %s is not in the store: %v", email, err)
	}
	return &User{User: u, Password: password, Client: c}
}

// CreateUser adds an account directly through the account service (any
// registration mode), without logging in.
func (s *Server) CreateUser(t testing.TB, email, name, password string, admin bool) *account.User {
	t.Helper()
	u, err := s.Accounts().AdminCreate(context.Background(), account.SignUp{Email: email, Name: name, Password: password}, admin)
	if err != nil {
		t.Fatalf("apptest: creating %s: %v", email, err)
	}
	return u
}

// LogIn returns a new client logged in with email and password.
func (s *Server) LogIn(t testing.TB, email, password string) *Client {
	t.Helper()
	c := s.Client(t)
	resp, body := c.PostForm(t, "/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apptest: log-in of %s answered %s:\n%s", email, resp.Status, body)
	}
	return c
}

// Client is an HTTP client for one browser-like visitor: it keeps cookies,
// does not follow redirects (so tests see the 303s), and PostForm adds the
// CSRF token the server expects.
type Client struct {
	HTTP *http.Client
	Jar  http.CookieJar
	// Base is the server URL that relative paths are resolved against.
	Base string
}

// Client returns a new client of this server with an empty cookie jar.
func (s *Server) Client(t testing.TB) *Client { return NewClient(t, s.URL) }

// NewClient returns a client with an empty cookie jar for any server at base
// (a URL without a trailing slash).
func NewClient(t testing.TB, base string) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{
		HTTP: &http.Client{
			Jar:           jar,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Jar:  jar,
		Base: base,
	}
}

func (c *Client) url(p string) string {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return p
	}
	return c.Base + p
}

// Do sends req and returns the response with its body read and closed.
func (c *Client) Do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("apptest: %s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apptest: reading %s %s: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// Get fetches a path (relative to the base URL) or a full URL.
func (c *Client) Get(t testing.TB, p string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.url(p), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(t, req)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]*)">`)

// CSRF returns this client's CSRF token, loading the start page to get the
// CSRF cookie and the token when needed.
func (c *Client) CSRF(t testing.TB) string {
	t.Helper()
	resp, body := c.Get(t, "/")
	tok, ok := CSRFToken(body)
	if !ok {
		t.Fatalf("apptest: no CSRF token on the start page (%s)", resp.Status)
	}
	return tok
}

// CSRFToken finds the CSRF token in a page's <meta name="csrf">.
func CSRFToken(page string) (string, bool) {
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// PostForm posts a form with this client's CSRF token added (unless vals
// already has a "csrf" field, which lets a test send a wrong one).
func (c *Client) PostForm(t testing.TB, p string, vals url.Values) (*http.Response, string) {
	t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	if _, ok := vals["csrf"]; !ok {
		vals.Set("csrf", c.CSRF(t))
	}
	req, err := http.NewRequest(http.MethodPost, c.url(p), strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(t, req)
}

// Cookie returns the value of the named cookie the client holds for the
// server ("" when none). The session cookie is "wp_session".
func (c *Client) Cookie(name string) string {
	u, err := url.Parse(c.Base + "/")
	if err != nil {
		return ""
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "wp_session"

// FreePort returns a loopback TCP address that was free a moment ago, for
// servers that are started as a separate process.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestWriter is an io.Writer that sends each write to t.Log while the test
// runs and drops writes after it has finished, so that a goroutine that logs
// late cannot crash the test binary.
func TestWriter(t testing.TB) io.Writer {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// ErrNoAnswer is returned by WaitHealthy when nothing answered in time.
var ErrNoAnswer = errors.New("apptest: no answer from /healthz")

// WaitHealthy polls base+"/healthz" until it answers 200 or timeout passes.
func WaitHealthy(base string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ErrNoAnswer
}
