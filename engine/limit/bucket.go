package limit

import "time"

// Bucket is a token bucket small enough to keep one per connection and
// message class: it holds no lock (its owner serialises its use) and no
// configuration (the caller passes the burst and the rate each time, from
// one table).
type Bucket struct {
	tokens float64
	last   int64 // unix ns of the last refill; 0: never used (a full bucket)
}

// Take takes one token from a bucket of burst tokens refilled at perSecond.
// When none is left it reports how long until one is.
func (b *Bucket) Take(now time.Time, burst int, perSecond float64) (bool, time.Duration) {
	if burst <= 0 {
		return true, 0
	}
	t := now.UnixNano()
	if b.last == 0 {
		b.tokens = float64(burst)
	} else if t > b.last {
		b.tokens += float64(t-b.last) / 1e9 * perSecond
		if b.tokens > float64(burst) {
			b.tokens = float64(burst)
		}
	}
	b.last = t
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if perSecond <= 0 {
		return false, time.Hour
	}
	return false, time.Duration((1 - b.tokens) / perSecond * 1e9)
}
