package latency

import (
	"sync"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("an empty histogram has no quantile")
	}
	// 1..100 ms, one each.
	for i := 1; i <= 100; i++ {
		h.Add(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"median", 0.5, 50*time.Millisecond + 10*time.Microsecond},
		{"p99", 0.99, 99*time.Millisecond + 10*time.Microsecond},
		{"max", 1, 100*time.Millisecond + 10*time.Microsecond},
		{"min", 0, time.Millisecond + 10*time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if h.Count() != 100 {
		t.Errorf("Count = %d, want 100", h.Count())
	}
}

func TestHistogramRangesAndReset(t *testing.T) {
	var h Histogram
	h.Add(-time.Second)            // clock skew counts as the smallest bucket
	h.Add(2500 * time.Millisecond) // coarse bucket
	h.Add(10 * time.Minute)        // clamped to 60 s
	if got := h.Quantile(0.33); got != 10*time.Microsecond {
		t.Errorf("lowest = %v", got)
	}
	if got := h.Quantile(0.66); got != 2501*time.Millisecond {
		t.Errorf("middle = %v", got)
	}
	if got := h.Quantile(1); got != 60*time.Second {
		t.Errorf("highest = %v, want the 60 s clamp", got)
	}
	h.Reset()
	if h.Count() != 0 || h.Quantile(1) != 0 {
		t.Errorf("after Reset: count %d, max %v", h.Count(), h.Quantile(1))
	}
}

func TestHistogramConcurrentAdds(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Add(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Errorf("Count = %d, want 8000", h.Count())
	}
}
