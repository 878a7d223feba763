package frames

import (
	"net"
	"sync"
	"time"
)

// refusalLog lets a refused connection be logged once a minute per client
// address: a flood of bad handshakes makes one line, and the next line from
// that address counts the ones that were not logged.
type refusalLog struct {
	mu    sync.Mutex
	seen  map[string]*refusalEntry
	swept time.Time
}

type refusalEntry struct {
	logged     time.Time
	suppressed int
}

const (
	refusalWindow  = time.Minute
	maxRefusalKeys = 10000
)

// take reports whether a refusal from addr should be logged, and how many
// from that address were not logged since the last one.
func (r *refusalLog) take(addr net.Addr) (bool, int) {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]*refusalEntry{}
	}
	if now.Sub(r.swept) > refusalWindow {
		for k, e := range r.seen {
			if now.Sub(e.logged) > refusalWindow && e.suppressed == 0 {
				delete(r.seen, k)
			}
		}
		r.swept = now
	}
	e := r.seen[host]
	if e == nil {
		if len(r.seen) >= maxRefusalKeys {
			return false, 0
		}
		e = &refusalEntry{}
		r.seen[host] = e
	} else if now.Sub(e.logged) < refusalWindow {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.logged, e.suppressed = now, 0
	return true, n
}
