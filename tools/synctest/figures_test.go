package main

import (
	"math"
	"testing"
)

// TestAnalyzeStallIsNotSteadyState: a player that runs out of data while it
// plays comes back behind the others and is trimmed back; that recovery is
// reported as a stall, with its skew, and is not counted as steady state,
// like the settling after a command.
func TestAnalyzeStallIsNotSteadyState(t *testing.T) {
	const stallAt, stallEnd, behindMS = 10000.0, 10100.0, 100.0
	var steadyRec, stallRec Recording
	for ts := 0.0; ts <= 20000; ts += 50 {
		steadyRec.Samples = append(steadyRec.Samples, Sample{ts, ts / 1000, 0, 1})
		pos, flag := ts/1000, 0.0
		switch {
		case ts >= stallAt && ts < stallEnd:
			pos, flag = stallAt/1000, 2
		case ts >= stallEnd:
			// Back behind by the stall, trimmed away over a second.
			lag := behindMS * math.Max(0, 1-(ts-stallEnd)/1000)
			pos = (ts - lag) / 1000
		}
		stallRec.Samples = append(stallRec.Samples, Sample{ts, pos, flag, 1})
	}
	marks := []Mark{{Kind: "play", At: 0}}
	f := Analyze([]Recording{steadyRec, stallRec}, marks, []float64{0, 0}, 0, 20000)
	if len(f.Stalls) != 1 || f.Stalls[0].Player != 1 || f.Stalls[0].MS != stallEnd-stallAt {
		t.Fatalf("stalls: %+v, want player 2's one of %.0f ms", f.Stalls, stallEnd-stallAt)
	}
	if got := f.Stalls[0].MaxAfter; got < behindMS-10 || got > behindMS+1 {
		t.Errorf("skew after the stall: %.1f ms, want about %.0f", got, behindMS)
	}
	if f.SteadyMax > 1 {
		t.Errorf("steady max %.1f ms: the recovery from the stall was counted as steady state", f.SteadyMax)
	}
	if f.AllMax < behindMS-10 {
		t.Errorf("skew with transitions: max %.1f ms, want the stall's %.0f in it", f.AllMax, behindMS)
	}

	// The same stall within a command's settling time is the command's.
	f = Analyze([]Recording{steadyRec, stallRec}, []Mark{{Kind: "seek", At: stallAt - 500}}, []float64{0, 0}, 0, 20000)
	if len(f.Stalls) != 0 {
		t.Errorf("a stall while a seek settles was reported on its own: %+v", f.Stalls)
	}
}
