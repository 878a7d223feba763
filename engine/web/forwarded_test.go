package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"watchparty/config"
)

// TestForgedForwardedForBehindAppendingProxy: behind a trusted proxy that
// appends to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for), a client
// that sends its own header cannot pick the address the rate limit counts.
func TestForgedForwardedForBehindAppendingProxy(t *testing.T) {
	const limit = 3
	ts := newTestServer(t, func(c *config.Config) {
		c.Limits.LoginPerMinute = limit
		c.TrustedProxies = []string{"127.0.0.1"}
	}, nil)
	c := ts.client(t)
	tok := c.CSRF(t)
	attempt := func(i int) *http.Response {
		// The client forges a new address each time; the proxy appends
		// the one it saw.
		xff := "192.0.2." + strconv.Itoa(i+1) + ", 198.51.100.50"
		resp, _ := post(t, c, "/login", url.Values{"csrf": {tok}, "email": {"n" + strconv.Itoa(i) + "@example.org"}, "password": {"wrong-password"}},
			http.Header{"X-Forwarded-For": {xff}})
		return resp
	}
	for i := range limit {
		if resp := attempt(i); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s, want 401", i+1, resp.Status)
		}
	}
	if resp := attempt(limit); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("attempt %d with a forged leftmost address: %s, want 429", limit+1, resp.Status)
	}
}
