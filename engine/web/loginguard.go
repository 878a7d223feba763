package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/limit"
)

// deviceCookie marks a browser that logged in to an account before: it
// carries a random id and an HMAC binding it to the account's email.
const deviceCookie = "wp_device"

// loginGuard decides whether a password may be tried (log-in, sign-up,
// password change, account deletion). Guessing is bounded per address,
// per account and per (account, address); repeated failures of one
// (account, address) back off. Nobody can lock an account holder out from
// elsewhere: the per-account bucket, the only one others share, is skipped
// by a browser that logged in to that account before, and every other
// bucket belongs to the attacker's own address.
type loginGuard struct {
	addr    *limit.Keyed   // per client address (IPv6: /64)
	pair    *limit.Keyed   // per (account, address or known device)
	account *limit.Keyed   // per account from anywhere, for unknown devices
	fails   *limit.Backoff // failures per (account, address or known device)
}

func newLoginGuard(perMinute int) *loginGuard {
	return &loginGuard{
		addr:    limit.NewKeyed(perMinute, time.Minute),
		pair:    limit.NewKeyed(perMinute, time.Minute),
		account: limit.NewKeyed(10*perMinute, time.Minute),
		fails:   limit.NewBackoff(5, time.Second, 15*time.Minute),
	}
}

// attempt says who tries a password: the account (normalised email) and
// where from: a known device of that account, or else the address.
type attempt struct {
	account string
	from    string
	known   bool
}

// check reports whether the attempt may go ahead; when not, how long to
// wait and which limit refused it.
func (g *loginGuard) check(addr string, a attempt) (bool, time.Duration, string) {
	if ok, wait := g.addr.Allow(limit.AddrKey(addr)); !ok {
		return false, wait, "address"
	}
	if a.account == "" {
		return true, 0, ""
	}
	if !a.known {
		if ok, wait := g.account.Allow(a.account); !ok {
			return false, wait, "account"
		}
	}
	key := a.account + "|" + a.from
	if wait := g.fails.Wait(key); wait > 0 {
		return false, wait, "back-off"
	}
	if ok, wait := g.pair.Allow(key); !ok {
		return false, wait, "account and address"
	}
	return true, 0, ""
}

func (g *loginGuard) failed(a attempt)    { g.fails.Fail(a.account + "|" + a.from) }
func (g *loginGuard) succeeded(a attempt) { g.fails.Reset(a.account + "|" + a.from) }

// loginAttempt describes a password attempt on the account with this email
// from this request.
func (s *Server) loginAttempt(c *fiber.Ctx, email string) attempt {
	email = strings.ToLower(strings.TrimSpace(email))
	if id, ok := s.knownDevice(c, email); ok {
		return attempt{account: email, from: "device:" + id, known: true}
	}
	return attempt{account: email, from: "addr:" + limit.AddrKey(c.IP())}
}

func (s *Server) deviceMAC(email, id string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("device:" + email + ":" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// knownDevice returns the device id when this browser logged in to the
// account with this email before.
func (s *Server) knownDevice(c *fiber.Ctx, email string) (string, bool) {
	return deviceFor(s.cookie(c, deviceCookie), email, s.deviceMAC)
}

// deviceFor reads a device cookie's value: the id of the entry whose MAC is
// right for email, if any.
func deviceFor(v, email string, mac func(email, id string) string) (string, bool) {
	if len(v) > 200 {
		return "", false
	}
	for _, part := range strings.Split(v, "~") {
		id, m, ok := strings.Cut(part, ".")
		if ok && len(id) == 22 && hmac.Equal([]byte(m), []byte(mac(email, id))) {
			return id, true
		}
	}
	return "", false
}

// rememberDevice marks this browser as one that logged in to the account
// with this email (a browser remembers its two most recent accounts).
func (s *Server) rememberDevice(c *fiber.Ctx, email string) {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, ok := s.knownDevice(c, email); ok {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	v := id + "." + s.deviceMAC(email, id)
	if old := s.cookie(c, deviceCookie); old != "" && len(old) <= 200 {
		if first, _, _ := strings.Cut(old, "~"); strings.Count(first, ".") == 1 {
			v += "~" + first
		}
	}
	s.setCookie(c, deviceCookie, v, 365*24*time.Hour)
}
