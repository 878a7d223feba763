package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/account"
)

const (
	sessionCookie = "wp_session"
	csrfCookie    = "wp_csrf"
	flashCookie   = "wp_flash"
)

func (s *Server) cookiePath() string {
	if s.base == "" {
		return "/"
	}
	return s.base + "/"
}

func (s *Server) secure(c *fiber.Ctx) bool {
	return s.cfg.Session.SecureCookie || c.Protocol() == "https"
}

// cookieName is the name a cookie goes by on this request: with the
// __Host- prefix when the cookies are Secure and cover the whole host, so
// that no other site on a sibling subdomain and no plain-http page can set
// or overwrite them (a browser accepts a __Host- cookie only with Secure,
// Path=/ and no Domain).
func (s *Server) cookieName(c *fiber.Ctx, name string) string {
	if s.base == "" && s.secure(c) {
		return "__Host-" + name
	}
	return name
}

// cookie reads one of the server's cookies.
func (s *Server) cookie(c *fiber.Ctx, name string) string { return c.Cookies(s.cookieName(c, name)) }

func (s *Server) setCookie(c *fiber.Ctx, name, value string, ttl time.Duration) {
	ck := &fiber.Cookie{
		Name: s.cookieName(c, name), Value: value, Path: s.cookiePath(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.secure(c),
	}
	if ttl > 0 {
		ck.Expires = time.Now().Add(ttl)
		ck.MaxAge = int(ttl.Seconds())
	}
	c.Cookie(ck)
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: s.cookieName(c, name), Value: "", Path: s.cookiePath(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.secure(c), MaxAge: -1, Expires: time.Unix(1, 0)})
}

// setSessionCookie stores a session token in the HttpOnly session cookie.
func (s *Server) setSessionCookie(c *fiber.Ctx, token string, ttl time.Duration) {
	s.setCookie(c, sessionCookie, token, ttl)
}

// sessionMiddleware resolves the session cookie into the request's user.
func (s *Server) sessionMiddleware(c *fiber.Ctx) error {
	tok := s.cookie(c, sessionCookie)
	if tok == "" {
		return c.Next()
	}
	u, expires, err := s.accounts.AuthenticateSession(c.UserContext(), tok)
	if errors.Is(err, account.ErrSessionInvalid) {
		s.clearCookie(c, sessionCookie)
		return c.Next()
	}
	if err != nil {
		// The store failed: keep the cookie (the session may be fine) and
		// answer with the generic error page.
		return err
	}
	c.Locals("user", u)
	c.Locals("session", tok)
	c.Locals("session_expires", expires)
	return c.Next()
}

// currentUser is the signed-in user (or guest), nil when there is none.
func (s *Server) currentUser(c *fiber.Ctx) *account.User {
	u, _ := c.Locals("user").(*account.User)
	return u
}

// requireAccount lets only signed-in account holders (not guests) through.
func (s *Server) requireAccount(c *fiber.Ctx) error {
	u := s.currentUser(c)
	if u != nil && u.Guest {
		return refuse(fiber.StatusForbidden, "guest_create", errors.New("guests have no account"))
	}
	if u == nil {
		return c.Redirect(s.base+"/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	return c.Next()
}

// csrfToken returns the CSRF token for this browser and session: an HMAC of
// a random per-browser cookie and of the session, so a token cannot be
// forged without the server secret, and a token (with its cookie) obtained
// in one session is worth nothing in another.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	if t, ok := c.Locals("csrf").(string); ok {
		return t
	}
	id := s.cookie(c, csrfCookie)
	if len(id) < 16 || len(id) > 64 {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		id = base64.RawURLEncoding.EncodeToString(b)
		s.setCookie(c, csrfCookie, id, 365*24*time.Hour)
	}
	session, _ := c.Locals("session").(string)
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("csrf:" + id + ":"))
	if session != "" {
		sum := sha256.Sum256([]byte(session))
		m.Write(sum[:])
	}
	t := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	c.Locals("csrf", t)
	return t
}

// csrfMiddleware rejects state-changing requests without a valid token or
// from a foreign origin.
func (s *Server) csrfMiddleware(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !s.sameOrigin(c) {
		s.refused(c, "cross-origin request refused", "path", c.Path(), "origin", c.Get(fiber.HeaderOrigin))
		return fiber.NewError(fiber.StatusForbidden, "This request came from another site and was refused.")
	}
	if s.cookie(c, csrfCookie) == "" {
		return fiber.NewError(fiber.StatusForbidden, "Your form expired or cookies are off. Reload the page and try again.")
	}
	want := s.csrfToken(c)
	got := c.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		s.refused(c, "csrf token mismatch", "path", c.Path())
		return fiber.NewError(fiber.StatusForbidden, "Your form expired. Reload the page and try again.")
	}
	return c.Next()
}

// sameOrigin checks Origin (or Referer) against the request's own host or
// the configured base URL. Requests without either header pass (the token
// still protects them).
func (s *Server) sameOrigin(c *fiber.Ctx) bool {
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		o = c.Get(fiber.HeaderReferer)
	}
	if o == "" {
		return c.Get("Sec-Fetch-Site") != "cross-site"
	}
	return s.originAllowed(c, o)
}

// originAllowed reports whether origin (a URL) names this server.
func (s *Server) originAllowed(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if s.cfg.BaseURL != "" {
		if b, err := url.Parse(s.cfg.BaseURL); err == nil && strings.EqualFold(b.Host, u.Host) {
			return true
		}
	}
	return strings.EqualFold(u.Host, c.Hostname()) || strings.EqualFold(u.Host, string(c.Request().Host()))
}

func (s *Server) flash(c *fiber.Ctx, key string) { s.setCookie(c, flashCookie, key, time.Minute) }
