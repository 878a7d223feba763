package frames

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a hub's counters, ready to be exported as metrics.
type Stats struct {
	Streams    int // streams with a publisher or viewers
	Publishers int // streams with a publisher
	Viewers    int // connected viewers

	FramesPublished uint64 // frames accepted by Publish
	FramesEncoded   uint64 // wire encodings: one per published frame, whatever the number of viewers
	FramesSent      uint64 // frame writes reported by viewers (one per viewer per frame delivered)
	FramesDropped   uint64 // frames dropped from full viewer queues
	ViewersStalled  uint64 // viewers disconnected for not keeping up

	// Latency summarizes the time from Publish to a viewer's completed write.
	Latency LatencySummary
}

// LatencySummary is a coarse view of a latency histogram. Quantiles are
// upper bounds of histogram buckets that are about 6% wide.
type LatencySummary struct {
	Count uint64
	P50   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// latencyHist is a lock-free log-linear histogram of microseconds: values
// below 16 µs are exact, then every power of two is split in 16 buckets.
type latencyHist struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

const (
	histSub     = 16
	histBuckets = histSub + 28*histSub // up to 2^32 µs, over an hour
)

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - 5 // us>>e is in [16, 31]
	i := histSub + e*histSub + int(us>>e) - histSub
	return min(i, histBuckets-1)
}

// histUpper is the largest value that falls in bucket i.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	return (m+1)<<e - 1
}

func (h *latencyHist) observe(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.buckets[histIndex(uint64(us))].Add(1)
	h.count.Add(1)
	for {
		old := h.max.Load()
		if us <= old || h.max.CompareAndSwap(old, us) {
			return
		}
	}
}

func (h *latencyHist) quantile(q float64, total uint64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return time.Duration(histUpper(i)) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

func (h *latencyHist) summary() LatencySummary {
	n := h.count.Load()
	return LatencySummary{
		Count: n,
		P50:   h.quantile(0.50, n),
		P99:   h.quantile(0.99, n),
		Max:   time.Duration(h.max.Load()) * time.Microsecond,
	}
}
