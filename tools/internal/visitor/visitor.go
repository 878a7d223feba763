// Package visitor is what the development commands (tools/soak,
// tools/loadtest) need to reach a running watchparty server the way people
// do: an HTTP client that keeps cookies and sends the CSRF token of the page
// a form is on, a room opened to guests with its invite link, guests joining
// through it, and the server process's memory and metrics.
package visitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "wp_session"

// Browser is one visitor: an HTTP client with its own cookie jar that does
// not follow redirects.
type Browser struct {
	Client *http.Client
	Base   string // http://HOST:PORT
}

// New returns a visitor of the server at base with no cookies.
func New(base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Base: base, Client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Get fetches path p and returns the response with its body read.
func (b *Browser) Get(p string) (*http.Response, string, error) {
	resp, err := b.Client.Get(b.Base + p)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]*)">`)

// Post sends the form vals to p with the CSRF token of page (fetched
// first); accept, when not empty, is the Accept header.
func (b *Browser) Post(page, p string, vals url.Values, accept string) (*http.Response, string, error) {
	resp, body, err := b.Get(page)
	if err != nil {
		return nil, "", err
	}
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		return nil, "", fmt.Errorf("no CSRF token on %s (%s)", page, resp.Status)
	}
	vals.Set("csrf", m[1])
	req, _ := http.NewRequest(http.MethodPost, b.Base+p, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err = b.Client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp, string(rb), err
}

// Session is the visitor's session cookie ("" before logging in).
func (b *Browser) Session() string {
	u, _ := url.Parse(b.Base + "/")
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == SessionCookie {
			return c.Value
		}
	}
	return ""
}

// LogIn logs the visitor in with an account's email and password.
func (b *Browser) LogIn(email, password string) error {
	resp, body, err := b.Post("/login", "/login", url.Values{"email": {email}, "password": {password}}, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("log-in as %s: %s %s", email, resp.Status, body)
	}
	return nil
}

// CreateRoom makes a room named name as owner, opens it to guests with the
// room settings set (guests_allowed is added), and returns its code and
// invite token.
func CreateRoom(owner *Browser, name string, set url.Values) (code, token string, err error) {
	resp, body, err := owner.Post("/", "/rooms", url.Values{"name": {name}}, "")
	if err != nil {
		return "", "", err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/r/") {
		return "", "", fmt.Errorf("create: %s %s", resp.Status, body)
	}
	code = loc[strings.LastIndex(loc, "/r/")+3:]
	page := "/r/" + code
	vals := url.Values{"guests_allowed": {"1"}}
	for k, v := range set {
		vals[k] = v
	}
	resp, body, err = owner.Post(page, page+"/settings", vals, "application/json")
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("settings: %s %s", resp.Status, body)
	}
	resp, body, err = owner.Post(page, page+"/invite", url.Values{}, "application/json")
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("invite: %s %s", resp.Status, body)
	}
	var inv struct{ Invite string }
	if err := json.Unmarshal([]byte(body), &inv); err != nil || !strings.Contains(inv.Invite, "/i/") {
		return "", "", fmt.Errorf("invite answer %q", body)
	}
	return code, inv.Invite[strings.LastIndex(inv.Invite, "/i/")+3:], nil
}

// JoinAsGuest follows the invite link token as a new visitor and joins
// under name. The visitor then holds the guest's session.
func (b *Browser) JoinAsGuest(token, name string) error {
	resp, body, err := b.Post("/i/"+token, "/i/"+token, url.Values{"name": {name}}, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther || b.Session() == "" {
		return fmt.Errorf("guest %s: %s %s", name, resp.Status, body)
	}
	return nil
}

// Metric reads one unlabelled sample from the server's /metrics (-1 when
// it is not there).
func Metric(base, name string) float64 {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(line[len(name)+1:]), 64)
			return v
		}
	}
	return -1
}
