package web

import (
	"sync"
	"time"
)

// limiter is a token bucket per key: n events per window, refilled evenly.
type limiter struct {
	mu     sync.Mutex
	n      float64
	per    time.Duration
	m      map[string]*bucket
	now    func() time.Time
	sweeps time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{n: float64(n), per: per, m: map[string]*bucket{}, now: time.Now}
}

// allow takes one token for key; when none is left it reports how long to wait.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.sweeps) > l.per {
		for k, b := range l.m {
			if now.Sub(b.last) > l.per {
				delete(l.m, k)
			}
		}
		l.sweeps = now
	}
	b, ok := l.m[key]
	if !ok {
		b = &bucket{tokens: l.n, last: now}
		l.m[key] = b
	}
	rate := l.n / float64(l.per)
	b.tokens += float64(now.Sub(b.last)) * rate
	if b.tokens > l.n {
		b.tokens = l.n
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate)
}
