package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"watchparty/config"
	"watchparty/engine/apptest"
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

// TestLoginNoLockOutFromAnotherAddress: failures from one address for an
// account back off that (account, address) only: the account holder
// logging in from elsewhere is not refused, and the back-off grows.
func TestLoginNoLockOutFromAnotherAddress(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) {
		c.Limits.LoginPerMinute = 100
		c.TrustedProxies = []string{"127.0.0.1"}
	}, nil)
	ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	attacker := ts.client(t)
	atok := attacker.CSRF(t)
	try := func(c *apptest.Client, tok, ip, password string) *http.Response {
		resp, _ := post(t, c, "/login", url.Values{"csrf": {tok}, "email": {"ann@example.org"}, "password": {password}},
			http.Header{"X-Forwarded-For": {ip}})
		return resp
	}
	var waits []int
	for i := range 40 {
		resp := try(attacker, atok, "198.51.100.7", "guess"+strconv.Itoa(i))
		switch resp.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			waits = append(waits, ra)
		default:
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	if len(waits) < 30 {
		t.Fatalf("only %d of 40 rapid guesses from one address were refused (5 are free, then a back-off)", len(waits))
	}
	// The right password from the attacker's address waits too.
	if resp := try(attacker, atok, "198.51.100.7", "password-ann"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password from the guessing address: %s, want 429", resp.Status)
	}
	// Ann, from her own address and a browser that never logged in, is not
	// locked out.
	ann := ts.client(t)
	if resp := try(ann, ann.CSRF(t), "192.0.2.10", "password-ann"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ann from another address during the attack: %s, want a log-in", resp.Status)
	}
	// An IPv6 attacker cannot escape by changing the low 64 bits.
	v6 := 0
	for i := range 30 {
		if resp := try(attacker, atok, fmt.Sprintf("2001:db8:7:7::%x", i+1), "guess"); resp.StatusCode == http.StatusTooManyRequests {
			v6++
		}
	}
	if v6 < 20 {
		t.Fatalf("guesses from one IPv6 /64 with changing addresses: only %d of 30 refused", v6)
	}
}

// TestCSRFBoundToSession: a CSRF token together with its cookie, taken
// from one session (an attacker's own), is refused in another session
// (the victim's), even if the attacker manages to plant the cookie.
func TestCSRFBoundToSession(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	attacker := ts.signUp(t, "eve@example.org", "Eve", "password-eve")
	eveToken := attacker.CSRF(t)
	eveCookie := attacker.Cookie("wp_csrf")
	victim := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	u, _ := url.Parse(ts.URL + "/")
	victim.Jar.SetCookies(u, []*http.Cookie{{Name: "wp_csrf", Value: eveCookie, Path: "/"}})
	resp, _ := post(t, victim, "/account/name", url.Values{"csrf": {eveToken}, "name": {"Pwned"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's token and cookie: %s, want 403", resp.Status)
	}
	// The victim's own token still works.
	if resp, _ := post(t, victim, "/account/name", url.Values{"csrf": {victim.CSRF(t)}, "name": {"Ann B"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("own token: %s", resp.Status)
	}
}

// TestHostPrefixCookies: with Secure cookies and no base path, every cookie
// uses the __Host- prefix (Secure, Path=/, no Domain).
func TestHostPrefixCookies(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Session.SecureCookie = true }, nil)
	resp, _ := get(t, ts.client(t), "/login", nil)
	var names []string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(sc)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ck.Name)
		if !strings.HasPrefix(ck.Name, "__Host-") || !ck.Secure || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("cookie %q: want a __Host- cookie (Secure, Path=/, no Domain): %s", ck.Name, sc)
		}
	}
	if len(names) == 0 {
		t.Fatal("the log-in page set no cookie (expected the CSRF cookie)")
	}
	// With a base path the prefix is not allowed: plain names.
	ts2 := newTestServer(t, func(c *config.Config) { c.Session.SecureCookie = true; c.BasePath = "/watch" }, nil)
	resp, _ = get(t, ts2.client(t), "/login", nil)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-") {
			t.Errorf("a __Host- cookie under a base path: %s", sc)
		}
	}
}

// TestInviteLinkGetDoesNotJoin: opening an invite link (a GET another site
// can trigger) only shows the room with a Join button; the POST joins.
func TestInviteLinkGetDoesNotJoin(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "Movie night")
	_, body := ann.Client.Get(t, "/r/"+code)
	m := regexp.MustCompile(`/i/([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no invite link on the owner's room page")
	}
	bob := srv.SignUp(t, "Bob")
	resp, body := bob.Client.Get(t, "/i/"+m[1])
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/r/`+code+`/join"`) {
		t.Fatalf("invite link for a signed-in non-member: %s, want the page with a Join form", resp.Status)
	}
	if _, body := bob.Client.Get(t, "/r/"+code); !strings.Contains(body, `action="/r/`+code+`/join"`) {
		t.Fatal("opening the invite link made Bob a member")
	}
	resp, _ = bob.Client.PostForm(t, "/r/"+code+"/join", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s", resp.Status)
	}
	if _, body := bob.Client.Get(t, "/r/"+code); strings.Contains(body, `action="/r/`+code+`/join"`) {
		t.Fatal("after the POST Bob is still no member")
	}
	// A member opening the link goes straight to the room.
	resp, _ = bob.Client.Get(t, "/i/"+m[1])
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/r/"+code) {
		t.Fatalf("invite link for a member: %s %s", resp.Status, resp.Header.Get("Location"))
	}
}
