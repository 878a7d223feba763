package packaging_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/room/roomtest"
)

// The reverse-proxy snippets of docs/deploy.md, run for real: every fenced
// nginx and caddy block is started in front of a server on loopback, and a
// visitor signs up, creates a room and talks on its websocket through it.

const deployDoc = "../docs/deploy.md"

// docBlocks returns the fenced code blocks of docs/deploy.md with the given
// info string.
func docBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(deployDoc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && line == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && line == "```":
			out = append(out, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no %s blocks", deployDoc, lang)
	}
	return out
}

var subPathLocation = regexp.MustCompile(`(?m)(?:location|handle) (/[a-z]+)/`)

// basePathOf returns the sub-path a snippet proxies ("" for the root).
func basePathOf(snippet string) string {
	if m := subPathLocation.FindStringSubmatch(snippet); m != nil {
		return m[1]
	}
	return ""
}

// backend starts a server configured as docs/deploy.md says for a proxy on
// the same machine: trusted_proxies 127.0.0.1, plus the snippet's base path.
// Three log-in attempts per minute per client IP.
func backend(t *testing.T, base string) *apptest.Server {
	t.Helper()
	return apptest.StartServer(t, func(c *config.Config) {
		c.BasePath = base
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Limits.LoginPerMinute = 3
	})
}

// startProxy runs cmd until the test ends and waits until healthURL answers
// through it.
func startProxy(t *testing.T, cmd *exec.Cmd, healthURL string) {
	t.Helper()
	var logs apptest.Output
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done closes when the proxy has exited; waitErr is its result then.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
			return
		default:
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	for range 400 {
		if resp, err := client.Get(healthURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("the proxy exited: %v\n%s", waitErr, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s never answered through the proxy:\n%s", healthURL, logs.String())
}

// exerciseProxy goes through the proxy at proxyAddr as a visitor would.
func exerciseProxy(t *testing.T, srv *apptest.Server, proxyAddr, base string) {
	t.Helper()
	front := "http://" + proxyAddr + base
	c := apptest.NewClient(t, front)
	resp, body := c.Get(t, "/healthz")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("healthz through the proxy: %s %q", resp.Status, body)
	}

	resp, body = c.PostForm(t, "/signup", url.Values{"email": {"ann@example.org"}, "name": {"Ann"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base+"/" {
		t.Fatalf("sign-up through the proxy: %s to %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	if c.Cookie(apptest.SessionCookie) == "" {
		t.Fatal("no session cookie through the proxy")
	}
	resp, _ = c.PostForm(t, "/rooms", url.Values{"name": {"Proxy night"}})
	m := regexp.MustCompile(`/r/([A-Z0-9]+)$`).FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("create room through the proxy: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	code := m[1]
	if resp, _ := c.Get(t, "/r/"+code); resp.StatusCode != http.StatusOK {
		t.Fatalf("room page through the proxy: %s", resp.Status)
	}

	// The room websocket through the proxy: upgrade, hello, a chat line
	// echoed back.
	h := http.Header{}
	h.Set("Origin", "http://"+proxyAddr)
	h.Set("Cookie", apptest.SessionCookie+"="+c.Cookie(apptest.SessionCookie))
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, wresp, err := d.Dial("ws://"+proxyAddr+base+"/r/"+code+"/ws", h)
	if err != nil {
		status := ""
		if wresp != nil {
			status = wresp.Status
		}
		t.Fatalf("websocket through the proxy: %v %s", err, status)
	}
	defer conn.Close()
	if wresp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", wresp.Status)
	}
	// Messages one at a time: the server joins several into one frame.
	in := roomtest.Inbox{Frame: func() ([]byte, error) {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := conn.ReadMessage()
		return data, err
	}}
	in.Expect(t, "hello")
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"hello through the proxy","ref":"p1"}`)); err != nil {
		t.Fatal(err)
	}
	echoed := false
	for range 20 {
		msg := in.Expect(t, "chat")
		if msg["ref"] == "p1" {
			echoed = msg["text"] == "hello through the proxy"
			break
		}
	}
	if !echoed {
		t.Error("the chat line sent through the proxy did not come back")
	}

	// A forged X-Forwarded-For does not get past the per-IP log-in limit
	// (three a minute): the proxy replaces it, so every attempt counts
	// against 127.0.0.1. Were the header believed, each made-up address
	// would get a fresh allowance and no attempt would be refused.
	var codes []int
	for i := range 4 {
		v := apptest.NewClient(t, front)
		tok := v.CSRF(t)
		form := url.Values{"email": {fmt.Sprintf("x%d@example.org", i)}, "password": {"wrong password!"}, "csrf": {tok}}
		req, _ := http.NewRequest(http.MethodPost, front+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		resp, _ := v.Do(t, req)
		codes = append(codes, resp.StatusCode)
	}
	if codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("log-in statuses through the proxy %v, want the last refused (429): a forged X-Forwarded-For reached the server", codes)
	}
}

func TestNginxSnippets(t *testing.T) {
	nginx := need(t, "nginx", "nginx")
	for i, snippet := range docBlocks(t, "nginx") {
		base := basePathOf(snippet)
		t.Run(fmt.Sprintf("block%d%s", i+1, base), func(t *testing.T) {
			srv := backend(t, base)
			proxyAddr := proxyPort(t)
			conf := strings.ReplaceAll(snippet, "listen 80;", "listen "+proxyAddr+";")
			conf = strings.ReplaceAll(conf, "http://127.0.0.1:8080", "http://"+srv.Addr)
			if conf == snippet {
				t.Fatal("the snippet has no listen 80 / 127.0.0.1:8080 to point at the test")
			}
			dir := t.TempDir()
			for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
			}
			user := ""
			if os.Geteuid() == 0 {
				user = "user root;" // workers must reach the temporary directories
			}
			main := fmt.Sprintf(`%s
daemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%s
}
`, user, dir, conf)
			path := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := runErr(dir, nil, nginx, "-t", "-q", "-p", dir, "-c", path); err != nil {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
			startProxy(t, exec.Command(nginx, "-p", dir, "-c", path), "http://"+proxyAddr+base+"/healthz")
			exerciseProxy(t, srv, proxyAddr, base)
		})
	}
}

// proxyPort returns a free loopback address below the kernel's ephemeral
// range: a port from that range may meanwhile become the local end of one of
// the test's own connections, and then the proxy could not bind it.
func proxyPort(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

var siteAddress = regexp.MustCompile(`(?m)^[a-z.]+\.[a-z]+ \{$`)

func TestCaddySnippets(t *testing.T) {
	caddy := need(t, "caddy", "caddy")
	for i, snippet := range docBlocks(t, "caddy") {
		base := basePathOf(snippet)
		t.Run(fmt.Sprintf("block%d%s", i+1, base), func(t *testing.T) {
			srv := backend(t, base)
			proxyAddr := proxyPort(t)
			if !siteAddress.MatchString(snippet) {
				t.Fatal("the snippet has no site address line")
			}
			conf := siteAddress.ReplaceAllString(snippet, "http://"+proxyAddr+" {")
			conf = strings.ReplaceAll(conf, "127.0.0.1:8080", srv.Addr)
			dir := t.TempDir()
			path := filepath.Join(dir, "Caddyfile")
			full := "{\n\tadmin off\n\tauto_https off\n}\n\n" + conf
			if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(caddy, "run", "--config", path, "--adapter", "caddyfile")
			cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir, "PATH=/usr/bin:/bin"}
			startProxy(t, cmd, "http://"+proxyAddr+base+"/healthz")
			exerciseProxy(t, srv, proxyAddr, base)
		})
	}
}
