package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"watchparty/engine/account"
)

// Deployment behind reverse proxies: forwarded headers and sub-paths.

func TestForwardedForFromUntrustedPeerIsIgnored(t *testing.T) {
	ts := startServer(t, map[string]string{"limits.login_per_minute": "2"})
	c := formClient(t)
	var codes []int
	for i := range 3 {
		// Each attempt claims another client address and another account:
		// only the socket address can tie them together.
		resp := postLogin(t, c, ts.URL, fmt.Sprintf("u%d@example.org", i), "wrong password!",
			map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1), "X-Forwarded-Proto": "https"})
		codes = append(codes, resp.StatusCode)
		for _, ck := range resp.Cookies() {
			if ck.Secure {
				t.Errorf("cookie %s made Secure by a forged X-Forwarded-Proto", ck.Name)
			}
		}
	}
	if codes[0] != 401 || codes[1] != 401 || codes[2] != 429 {
		t.Errorf("statuses %v, want [401 401 429]: a forged X-Forwarded-For escaped the per-IP limit", codes)
	}
}

func TestForwardedForFromTrustedProxyIsHonoured(t *testing.T) {
	ts := startServer(t, map[string]string{"limits.login_per_minute": "2", "trusted_proxies": "127.0.0.1/32"})
	c := formClient(t)
	for i := range 3 {
		resp := postLogin(t, c, ts.URL, fmt.Sprintf("u%d@example.org", i), "wrong password!",
			map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)})
		if resp.StatusCode != 401 {
			t.Errorf("attempt %d from client %d through the proxy: %s, want 401 (separate clients)", i, i+1, resp.Status)
		}
	}
	// The same client three times through the proxy is limited.
	var last int
	for i := range 3 {
		last = postLogin(t, c, ts.URL, fmt.Sprintf("v%d@example.org", i), "wrong password!",
			map[string]string{"X-Forwarded-For": "198.51.100.7"}).StatusCode
	}
	if last != 429 {
		t.Errorf("third attempt of one forwarded client: %d, want 429", last)
	}
	// X-Forwarded-Proto from the proxy makes cookies Secure.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) == 0 {
		t.Fatal("no cookie set")
	}
	for _, ck := range resp.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s not Secure behind a TLS-terminating trusted proxy", ck.Name)
		}
	}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var pathAttr = regexp.MustCompile(`(?:href|action|src)="(/[^"]*)"`)

func TestBasePathRouting(t *testing.T) {
	ts := startServer(t, map[string]string{"base_path": "/watch"})
	root := strings.TrimSuffix(ts.URL, "/watch")
	if _, err := ts.Accounts.AdminCreate(context.Background(), account.SignUp{Email: "ann@example.org", Name: "Ann", Password: "correct horse battery"}, false); err != nil {
		t.Fatal(err)
	}
	c := formClient(t)

	tests := []struct {
		name     string
		url      string
		status   int
		location string
	}{
		{"home under the base", ts.URL + "/", 200, ""},
		{"health under the base", ts.URL + "/healthz", 200, ""},
		{"metrics under the base", ts.URL + "/metrics", 200, ""},
		{"log-in page", ts.URL + "/login", 200, ""},
		{"static asset", ts.URL + "/static/icon.svg", 200, ""},
		{"account needs log-in", ts.URL + "/account/", 303, "/watch/login?next=%2Fwatch%2Faccount%2F"},
		{"root is not the app", root + "/", 404, ""},
		{"health outside the base", root + "/healthz", 404, ""},
		{"login outside the base", root + "/login", 404, ""},
		{"a longer prefix is not the base", root + "/watchers/login", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, c, tt.url)
			if resp.StatusCode != tt.status {
				t.Errorf("GET %s: %s, want %d", tt.url, resp.Status, tt.status)
			}
			if loc := resp.Header.Get("Location"); loc != tt.location {
				t.Errorf("Location %q, want %q", loc, tt.location)
			}
		})
	}

	resp, body := get(t, c, ts.URL+"/login")
	links := pathAttr.FindAllStringSubmatch(body, -1)
	if len(links) < 3 {
		t.Fatalf("few links on the log-in page: %v", links)
	}
	for _, l := range links {
		if !strings.HasPrefix(l[1], "/watch/") {
			t.Errorf("link %q escapes the base path", l[1])
		}
	}
	for _, ck := range resp.Cookies() {
		if ck.Path != "/watch/" {
			t.Errorf("cookie %s has Path %q, want /watch/", ck.Name, ck.Path)
		}
	}

	// Log in: the redirect and the session cookie stay under the base.
	resp = postLogin(t, c, ts.URL, "ann@example.org", "correct horse battery", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/watch/" {
		t.Fatalf("log-in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "wp_session" {
			session = ck
		}
	}
	if session == nil || session.Path != "/watch/" {
		t.Fatalf("session cookie %+v, want Path /watch/", session)
	}
	if resp, _ := get(t, c, ts.URL+"/account/"); resp.StatusCode != http.StatusOK {
		t.Errorf("account page after log-in: %s", resp.Status)
	}
}
