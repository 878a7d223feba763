package limit

import (
	"sync"
	"time"
)

// Refusals decides which refused requests and connections to log: at most
// one a minute per key (a kind of refusal and a client address), so that an
// attack of many requests makes one line, not one per request. The next
// line for the same key says how many were not logged. The zero value is
// ready to use.
type Refusals struct {
	// Now, when set, is the clock (tests).
	Now func() time.Time

	mu    sync.Mutex
	seen  map[string]*refusal
	swept time.Time
}

type refusal struct {
	logged     time.Time
	suppressed int
}

// RefusalWindow is how long one logged refusal stands for its key.
const RefusalWindow = time.Minute

// MaxRefusalKeys bounds the table; past it, refusals are not logged until
// the next sweep (an attacker with very many addresses gets no more lines).
const MaxRefusalKeys = 10000

// Take reports whether a refusal under key should be logged now, and how
// many under that key since the last logged one were not.
func (r *Refusals) Take(key string) (log bool, notLogged int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if r.seen == nil {
		r.seen = map[string]*refusal{}
	}
	if now.Sub(r.swept) > RefusalWindow {
		for k, x := range r.seen {
			if now.Sub(x.logged) > RefusalWindow && x.suppressed == 0 {
				delete(r.seen, k)
			}
		}
		r.swept = now
	}
	x := r.seen[key]
	if x == nil {
		if len(r.seen) >= MaxRefusalKeys {
			return false, 0
		}
		x = &refusal{}
		r.seen[key] = x
	} else if now.Sub(x.logged) < RefusalWindow {
		x.suppressed++
		return false, 0
	}
	n := x.suppressed
	x.logged, x.suppressed = now, 0
	return true, n
}
