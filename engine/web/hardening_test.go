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

// TestGuestFloodLimited: invite links make guests at a bounded rate per
// client address (an IPv6 /64 counts as one) and per room, and a room takes
// at most limits.guests_per_room guests; each refusal is a page that says
// what happened.
func TestGuestFloodLimited(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Limits.GuestJoinsPerMinute = 5
		c.Limits.RoomGuestJoinsPerMinute = 12
		c.Limits.GuestsPerRoom = 15
	})
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "")
	_, body := ann.Client.Get(t, "/r/"+code)
	m := regexp.MustCompile(`/i/([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no invite link")
	}
	join := func(addr string, i int) *http.Response {
		c := srv.Client(t)
		tok := c.CSRF(t)
		resp, _ := post(t, c, "/i/"+m[1], url.Values{"csrf": {tok}, "name": {fmt.Sprint("G", i)}}, http.Header{"X-Forwarded-For": {addr}})
		return resp
	}
	ok, limited := 0, 0
	for i := range 20 {
		switch resp := join(fmt.Sprintf("2001:db8:9:9::%x", i+1), i); resp.StatusCode {
		case http.StatusSeeOther:
			ok++
		case http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			limited++
		default:
			t.Fatalf("guest %d: %s", i, resp.Status)
		}
	}
	if ok != 5 || limited != 15 {
		t.Fatalf("20 guests from one /64: %d joined, %d refused; want 5 and 15", ok, limited)
	}
	// From many addresses, the room's own rate (12 a minute, 5 used).
	ok = 0
	for i := range 20 {
		if join(fmt.Sprintf("198.51.100.%d", i+1), 100+i).StatusCode == http.StatusSeeOther {
			ok++
		}
	}
	if ok != 7 {
		t.Fatalf("guests from 20 addresses: %d joined, want the room's 7 left this minute", ok)
	}
	_, page := get(t, srv.Client(t), "/i/"+m[1], nil)
	if !strings.Contains(page, "guest-name") {
		t.Fatal("the invite page no longer offers the guest form")
	}
}

// TestKickedGuestCannotRejoinWithFreshBrowser: a guest the owner removed
// opens the invite link again in a fresh browser (no cookies) from the same
// network and is refused; the guest never saw the invite token itself.
func TestKickedGuestCannotRejoinWithFreshBrowser(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "")
	_, body := ann.Client.Get(t, "/r/"+code)
	m := regexp.MustCompile(`/i/([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no invite link")
	}
	guestJoin := func(addr string) (*apptest.Client, *http.Response) {
		c := srv.Client(t)
		tok := c.CSRF(t)
		resp, _ := post(t, c, "/i/"+m[1], url.Values{"csrf": {tok}, "name": {"Mallory"}}, http.Header{"X-Forwarded-For": {addr}})
		return c, resp
	}
	guest, resp := guestJoin("203.0.113.5")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("guest join: %s", resp.Status)
	}
	if _, page := guest.Get(t, "/r/"+code); strings.Contains(page, m[1]) {
		t.Fatal("the guest's room page contains the invite token")
	}
	ws, _, err := dialRoom(t, srv, guest, code, "http://"+srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	h := readMsg(t, ws, "hello")
	if inv, _ := h["room"].(map[string]any)["invite"].(string); inv != "" {
		t.Fatalf("the guest's hello carries the invite %q", inv)
	}
	id := h["you"].(map[string]any)["id"].(string)
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/kick", url.Values{"user": {id}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("kick: %s", resp.Status)
	}
	if _, resp := guestJoin("203.0.113.5"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the kicked guest from a fresh browser: %s, want 403", resp.Status)
	}
	if _, resp := guestJoin("198.51.100.77"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a guest from another network: %s", resp.Status)
	}
}
