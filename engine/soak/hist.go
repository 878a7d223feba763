package main

import (
	"math"
	"sync/atomic"
	"time"
)

// hist is a latency histogram safe for concurrent use: 10 µs buckets up to
// 100 ms, then 1 ms buckets up to 60 s.
type hist struct {
	fine   [10000]atomic.Int64
	coarse [60000]atomic.Int64
	n      atomic.Int64
}

func (h *hist) add(d time.Duration) {
	us := d.Microseconds()
	switch {
	case us < 0:
		h.fine[0].Add(1)
	case us < 100_000:
		h.fine[us/10].Add(1)
	default:
		h.coarse[min(us/1000, 59999)].Add(1)
	}
	h.n.Add(1)
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *hist) quantile(q float64) time.Duration {
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
