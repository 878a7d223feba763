// Package latency holds the latency histogram the load commands share.
package latency

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram counts durations, safe for concurrent use: 10 µs buckets up to
// 1 s, then 1 ms buckets up to 60 s (longer durations count as 60 s). The
// zero value is ready to use.
type Histogram struct {
	fine   [100_000]atomic.Int64
	coarse [60_000]atomic.Int64
	n      atomic.Int64
}

// Add counts one duration.
func (h *Histogram) Add(d time.Duration) {
	us := d.Microseconds()
	switch {
	case us < 0:
		h.fine[0].Add(1)
	case us < 1_000_000:
		h.fine[us/10].Add(1)
	default:
		h.coarse[min(us/1000, int64(len(h.coarse)-1))].Add(1)
	}
	h.n.Add(1)
}

// Count is how many durations were added.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Quantile returns the upper edge of the bucket holding quantile q (0 when
// the histogram is empty; q = 1 gives the maximum).
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.n.Load()
	if total == 0 {
		return 0
	}
	want := max(int64(math.Ceil(q*float64(total))), 1)
	var seen int64
	for i := range h.fine {
		if seen += h.fine[i].Load(); seen >= want {
			return time.Duration(i*10+10) * time.Microsecond
		}
	}
	for i := range h.coarse {
		if seen += h.coarse[i].Load(); seen >= want {
			return time.Duration(i+1) * time.Millisecond
		}
	}
	return time.Minute
}

// Reset empties the histogram.
func (h *Histogram) Reset() {
	for i := range h.fine {
		h.fine[i].Store(0)
	}
	for i := range h.coarse {
		h.coarse[i].Store(0)
	}
	h.n.Store(0)
}
