// Package limit holds the server's rate limits: token buckets per key (an
// address, an account, a room), the key a client address counts against,
// and a back-off for repeated failures. Every per-client limit of the
// server is built from these, so that the way an address is bucketed and
// the memory a flood can make the limiter hold are decided in one place.
package limit

import (
	"net/netip"
	"sync"
	"time"
)

// AddrKey is the bucket a client address counts against: an IPv4 address
// itself, an IPv6 address its /64 (one subscriber usually holds a whole
// /64, so per-address limits keyed on the full IPv6 address limit nothing).
// Text that is not an address is returned unchanged.
func AddrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(addr); perr == nil {
			a = ap.Addr()
		} else {
			return addr
		}
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// DefaultMaxKeys bounds the keys one limiter remembers.
const DefaultMaxKeys = 100_000

// Keyed is a token bucket per key: n events per window, refilled evenly,
// with a burst of n. Keys whose bucket has been full for a window are
// forgotten; when more than MaxKeys are remembered anyway (a flood of
// distinct keys), the oldest half is forgotten, so memory stays bounded at
// the cost of letting some of the flood's keys start afresh.
type Keyed struct {
	mu      sync.Mutex
	rate    float64 // events per second
	burst   int
	window  time.Duration
	maxKeys int
	m       map[string]*entry
	swept   time.Time
	// Now is the clock (tests set it).
	Now func() time.Time
}

type entry struct {
	b    Bucket
	last time.Time
}

// NewKeyed returns a limiter of n events per window for each key. n <= 0
// means no limit.
func NewKeyed(n int, window time.Duration) *Keyed {
	k := &Keyed{burst: n, window: window, maxKeys: DefaultMaxKeys, m: map[string]*entry{}, Now: time.Now}
	if n > 0 {
		k.rate = float64(n) / window.Seconds()
	}
	return k
}

// SetMaxKeys changes how many keys the limiter remembers at most.
func (k *Keyed) SetMaxKeys(n int) {
	k.mu.Lock()
	k.maxKeys = max(n, 2)
	k.mu.Unlock()
}

// Allow takes one event for key. When the bucket is empty it reports how
// long until the next event is allowed.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	if k.burst <= 0 {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.Now()
	k.sweep(now)
	e := k.m[key]
	if e == nil {
		e = &entry{}
		k.m[key] = e
	}
	e.last = now
	return e.b.Take(now, k.burst, k.rate)
}

// Len is the number of keys remembered.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// sweep forgets buckets that are full again, once per window, and the
// oldest half when too many keys are remembered. k.mu is held.
func (k *Keyed) sweep(now time.Time) {
	if now.Sub(k.swept) >= k.window {
		for key, e := range k.m {
			if now.Sub(e.last) >= k.window {
				delete(k.m, key)
			}
		}
		k.swept = now
	}
	if len(k.m) < k.maxKeys {
		return
	}
	cut := oldestHalf(k.m)
	for key, e := range k.m {
		if !e.last.After(cut) {
			delete(k.m, key)
		}
	}
}

// oldestHalf returns an instant at or after the last use of about half of
// the entries: the median of a sample of them.
func oldestHalf(m map[string]*entry) time.Time {
	sample := make([]time.Time, 0, 64)
	for _, e := range m {
		sample = append(sample, e.last)
		if len(sample) == cap(sample) {
			break
		}
	}
	// A small selection sort finds the median of the sample.
	for i := 0; i <= len(sample)/2; i++ {
		lo := i
		for j := i + 1; j < len(sample); j++ {
			if sample[j].Before(sample[lo]) {
				lo = j
			}
		}
		sample[i], sample[lo] = sample[lo], sample[i]
	}
	return sample[len(sample)/2]
}
