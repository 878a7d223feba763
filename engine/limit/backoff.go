package limit

import (
	"sync"
	"time"
)

// Backoff counts failures per key and makes each key wait longer after
// each failure beyond the first few: after Free failures, the next attempt
// must wait Base, then twice that, up to Max. A success (Reset) or a
// quiet Max clears the key. It bounds guessing from one key without
// letting anyone lock the key out for long.
type Backoff struct {
	Free int           // failures allowed without waiting
	Base time.Duration // first wait
	Max  time.Duration // longest wait
	Now  func() time.Time

	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// NewBackoff returns a back-off with the given free failures and waits.
func NewBackoff(free int, base, maxWait time.Duration) *Backoff {
	return &Backoff{Free: free, Base: base, Max: maxWait, Now: time.Now, m: map[string]*failures{}}
}

// Wait reports how long key must still wait before its next attempt (0:
// it may try now).
func (b *Backoff) Wait(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.m[key]
	if f == nil {
		return 0
	}
	now := b.Now()
	if now.Sub(f.last) >= b.Max {
		delete(b.m, key)
		return 0
	}
	if f.n < b.Free {
		return 0
	}
	d := b.Base << min(f.n-b.Free, 20)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	if wait := f.last.Add(d).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

// Fail records a failure for key.
func (b *Backoff) Fail(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.Now()
	if len(b.m) >= DefaultMaxKeys {
		for k, f := range b.m {
			if now.Sub(f.last) >= b.Max {
				delete(b.m, k)
			}
		}
		if len(b.m) >= DefaultMaxKeys {
			clear(b.m) // a flood of keys: start afresh rather than grow
		}
	}
	f := b.m[key]
	if f == nil || now.Sub(f.last) >= b.Max {
		f = &failures{}
		b.m[key] = f
	}
	f.n++
	f.last = now
}

// Reset forgets key's failures.
func (b *Backoff) Reset(key string) {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}
