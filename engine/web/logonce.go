package web

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// refusals logs refused requests (foreign origin, bad CSRF token, rate
// limits) at most once a minute per kind and client address, so that an
// attack of many requests makes one line, not one per request. The next
// line of the same kind and address says how many were not logged.
type refusals struct {
	mu    sync.Mutex
	seen  map[string]*refusal
	swept time.Time
	now   func() time.Time
}

type refusal struct {
	logged     time.Time
	suppressed int
}

// refusalWindow is how long one logged refusal stands for its kind and address.
const refusalWindow = time.Minute

// maxRefusalKeys bounds the table; past it, refusals are not logged until
// the next sweep (an attacker with very many addresses gets no more lines).
const maxRefusalKeys = 10000

// take reports whether a refusal of kind from ip should be logged now, and
// how many since the last logged one were not.
func (r *refusals) take(kind, ip string) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	if r.seen == nil {
		r.seen = map[string]*refusal{}
	}
	if now.Sub(r.swept) > refusalWindow {
		for k, x := range r.seen {
			if now.Sub(x.logged) > refusalWindow && x.suppressed == 0 {
				delete(r.seen, k)
			}
		}
		r.swept = now
	}
	key := kind + "\x00" + ip
	x := r.seen[key]
	if x == nil {
		if len(r.seen) >= maxRefusalKeys {
			return false, 0
		}
		x = &refusal{}
		r.seen[key] = x
	} else if now.Sub(x.logged) < refusalWindow {
		x.suppressed++
		return false, 0
	}
	n := x.suppressed
	x.logged, x.suppressed = now, 0
	return true, n
}

// refused logs a refused request once per kind and address per minute (see
// refusals) and keeps the access log from logging it again.
func (s *Server) refused(c *fiber.Ctx, kind string, args ...any) {
	c.Locals(refusedKey, true)
	ok, more := s.refusalLog.take(kind, c.IP())
	if !ok {
		return
	}
	args = append(args, "ip", c.IP())
	if more > 0 {
		args = append(args, "not_logged_since", more)
	}
	s.log.Warn(kind, args...)
}

const refusedKey = "web.refused"
