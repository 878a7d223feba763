package transcode_test

import (
	"math"
	"slices"
	"testing"

	"watchparty/engine/transcode"
)

// TestEvenPlan: one-second segments up to StartSeconds, then
// SegmentSeconds; a last piece shorter than a quarter of a segment joins
// the one before; a length that is not a number is refused.
func TestEvenPlan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		duration float64
		starts   []float64
	}{
		{name: "short", duration: 2.5, starts: []float64{0, 1, 2}},
		{name: "short tail joins", duration: 3.2, starts: []float64{0, 1, 2}},
		{name: "start pieces then long", duration: 10, starts: []float64{0, 1, 2, 3, 4, 6, 8}},
		{name: "long tail joins", duration: 10.4, starts: []float64{0, 1, 2, 3, 4, 6, 8}},
		{name: "long tail stays", duration: 10.6, starts: []float64{0, 1, 2, 3, 4, 6, 8, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := transcode.EvenPlan(tc.duration)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Starts, tc.starts) || p.End(p.Len()-1) != tc.duration {
				t.Fatalf("starts %v ending at %v", p.Starts, p.End(p.Len()-1))
			}
			for i, s := range p.Starts {
				if p.Find(s+0.01) != i {
					t.Errorf("Find(%v) = %d", s+0.01, p.Find(s+0.01))
				}
			}
		})
	}
	for _, d := range []float64{0, -1, math.NaN(), math.Inf(1), 1e9} {
		if _, err := transcode.EvenPlan(d); err == nil {
			t.Errorf("EvenPlan(%v) made a plan", d)
		}
	}
}
