package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestForwardedHeadersIgnoredWithoutTrustedProxies: with trusted_proxies
// empty (the default), a client's own X-Forwarded-Host cannot make a
// foreign Origin look like this server, and X-Forwarded-Proto cannot make
// the server believe the request came over TLS.
func TestForwardedHeadersIgnoredWithoutTrustedProxies(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.client(t)
	tok := c.CSRF(t)
	forged := http.Header{
		"Origin":             {"http://evil.example"},
		"X-Forwarded-Host":   {"evil.example"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Scheme": {"https"},
	}
	resp, _ := post(t, c, "/signup", url.Values{"csrf": {tok}, "email": {"x@example.org"}, "name": {"X"}, "password": {"password-x1"}}, forged)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-up with a forged X-Forwarded-Host: %s, want 403", resp.Status)
	}

	// Same-site, with a forged X-Forwarded-Proto: the session cookie must
	// not be marked Secure (the browser would then drop it over http).
	delete(forged, "Origin")
	delete(forged, "X-Forwarded-Host")
	resp, body := post(t, c, "/signup", url.Values{"csrf": {tok}, "email": {"y@example.org"}, "name": {"Y"}, "password": {"password-y1"}}, forged)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: %s\n%s", resp.Status, body)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "wp_session=") && strings.Contains(strings.ToLower(sc), "secure") {
			t.Fatalf("a forged X-Forwarded-Proto made the session cookie Secure: %s", sc)
		}
	}
}
