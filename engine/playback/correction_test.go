package playback

import (
	"math"
	"testing"
)

func TestCorrect(t *testing.T) {
	tests := []struct {
		name     string
		tuning   Tuning
		drift    float64
		base     float64
		want     Action
		wantRate float64
	}{
		{"in sync", DefaultTuning, 0, 1, ActionNone, 1},
		{"inside dead zone ahead", DefaultTuning, 39, 1, ActionNone, 1},
		{"inside dead zone behind", DefaultTuning, -40, 1, ActionNone, 1},
		{"dead zone restores base rate", DefaultTuning, 10, 1.5, ActionNone, 1.5},
		{"ahead slows down proportionally", DefaultTuning, 75, 1, ActionNudge, 0.95},
		{"behind speeds up proportionally", DefaultTuning, -75, 1, ActionNudge, 1.05},
		{"at cap exactly", DefaultTuning, 150, 1, ActionNudge, 0.9},
		{"ahead capped", DefaultTuning, 600, 1, ActionNudge, 0.9},
		{"behind capped", DefaultTuning, -999, 1, ActionNudge, 1.1},
		{"cap scales with base rate", DefaultTuning, -999, 2, ActionNudge, 2.2},
		{"proportional at base rate two", DefaultTuning, 90, 2, ActionNudge, 1.94},
		{"seek when far ahead", DefaultTuning, 1000, 1, ActionSeek, 1},
		{"seek when far behind", DefaultTuning, -5000, 1.25, ActionSeek, 1.25},
		{"unset base rate means one", DefaultTuning, 75, 0, ActionNudge, 0.95},
		{"NaN drift does nothing", DefaultTuning, math.NaN(), 1, ActionNone, 1},
		{"infinite drift does nothing", DefaultTuning, math.Inf(1), 1, ActionNone, 1},
		{"NaN base rate means one", DefaultTuning, 0, math.NaN(), ActionNone, 1},
		{"coarse ignores small drift", CoarseTuning, 149, 1, ActionNone, 1},
		{"coarse never nudges", CoarseTuning, 300, 1, ActionNone, 1},
		{"coarse seeks earlier", CoarseTuning, -400, 1, ActionSeek, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.tuning.Correct(tt.drift, tt.base)
			if got.Action != tt.want || !near(got.Rate, tt.wantRate) {
				t.Fatalf("Correct(%v, %v) = %v rate %v, want %v rate %v", tt.drift, tt.base, got.Action, got.Rate, tt.want, tt.wantRate)
			}
		})
	}
}

// TestNudgeConverges simulates a player steered every 100 ms and checks that
// a drift below MaxNudge*CatchUpMS is inside the dead zone within 2 s, and
// that the player returns to the base rate there.
func TestNudgeConverges(t *testing.T) {
	for _, drift := range []float64{-150, -100, -60, 60, 100, 150} {
		d := drift
		var elapsed float64
		var last Correction
		for elapsed = 0; elapsed <= 2000; elapsed += 100 {
			last = DefaultTuning.Correct(d, 1)
			if last.Action == ActionNone {
				break
			}
			if last.Action != ActionNudge {
				t.Fatalf("drift %v: unexpected %v", drift, last.Action)
			}
			// The player runs at last.Rate, the shared clock at 1.
			d += (last.Rate - 1) * 100
		}
		if last.Action != ActionNone || last.Rate != 1 {
			t.Fatalf("drift %v: still %v at rate %v after %v ms (drift %v)", drift, last.Action, last.Rate, elapsed, d)
		}
		if math.Abs(d) > DefaultTuning.DeadZoneMS {
			t.Fatalf("drift %v: ended at %v", drift, d)
		}
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{ActionNone: "none", ActionNudge: "nudge", ActionSeek: "seek", Action(9): "unknown"} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", a, got, want)
		}
	}
}
