package main

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// Mark is a moment of the scenario, in server ms.
type Mark struct {
	Kind   string  // play, seek, pause, join
	At     float64 // when the command was sent (or the late joiner's page opened)
	Target float64 // seek target, seconds
	Player int     // the late joiner's index (join)
	RTT    float64 // the sender's round trip to the server, ms
}

// Figures are the measured results.
type Figures struct {
	SteadyCount          int
	SteadyP50, SteadyP95 float64
	SteadyMax            float64
	AllP95, AllMax       float64 // every instant at which all players play
	Converge             []Converged
	LateJoin             []Converged
	Control              []Latency
}

// Converged is how long after a mark the players came together (ms; NaN
// when they never did within the window looked at).
type Converged struct {
	Mark Mark
	MS   float64
}

// Latency is a pause's spread from the click to the last player's pause.
type Latency struct {
	Mark      Mark
	PerPlayer []float64
	Max       float64
}

const (
	gridMS      = 100.0
	freshMS     = 150.0  // a reading older than this does not count for an instant
	settleMS    = 2000.0 // after a command or a join, this long is not steady state
	togetherMS  = 100.0  // "converged": every player within this of the others
	stableGrids = 10     // ... for this many grid points (1 s)
)

// positionAt is player rec's position at server instant t, extrapolated from
// its latest fresh reading; ok is false without one. playing reports
// whether that reading was of a playing player.
func positionAt(rec Recording, t float64) (pos float64, playing, ok bool) {
	s := rec.Samples
	i := sort.Search(len(s), func(i int) bool { return s[i][0] > t }) - 1
	if i < 0 || t-s[i][0] > freshMS {
		return 0, false, false
	}
	r := s[i]
	if r[2] != 0 {
		return r[1], false, true
	}
	return r[1] + (t-r[0])/1000*r[3], true, true
}

// skewAt returns the largest distance (ms) between any two players at t,
// and whether every player present is playing (at least two present).
func skewAt(recs []Recording, t float64, only []int) (skew float64, allPlaying bool, n int) {
	lo, hi := math.Inf(1), math.Inf(-1)
	allPlaying = true
	for _, i := range only {
		p, pl, ok := positionAt(recs[i], t)
		if !ok {
			continue
		}
		n++
		allPlaying = allPlaying && pl
		lo, hi = math.Min(lo, p), math.Max(hi, p)
	}
	if n < 2 {
		return 0, false, n
	}
	return (hi - lo) * 1000, allPlaying, n
}

// Analyze computes the figures from the players' recordings and the marks,
// over [from, to] (server ms). joinAt[i] is when player i's page opened (0
// for players there from the start).
func Analyze(recs []Recording, marks []Mark, joinAt []float64, from, to float64) Figures {
	var f Figures
	var steady, all []float64
	present := func(t float64) []int {
		var out []int
		for i := range recs {
			if joinAt[i] == 0 || t >= joinAt[i] {
				out = append(out, i)
			}
		}
		return out
	}
	for t := from; t <= to; t += gridMS {
		skew, playing, n := skewAt(recs, t, present(t))
		if !playing || n < 2 {
			continue
		}
		all = append(all, skew)
		quiet := true
		for _, m := range marks {
			if t >= m.At && t < m.At+settleMS {
				quiet = false
			}
		}
		if quiet {
			steady = append(steady, skew)
		}
	}
	f.SteadyCount = len(steady)
	f.SteadyP50, f.SteadyP95, f.SteadyMax = pct(steady, 50), pct(steady, 95), pct(steady, 100)
	f.AllP95, f.AllMax = pct(all, 95), pct(all, 100)

	for k, m := range marks {
		end := to
		if k+1 < len(marks) {
			end = marks[k+1].At
		}
		switch m.Kind {
		case "play", "seek":
			f.Converge = append(f.Converge, Converged{m, convergence(recs, present, m, end)})
		case "join":
			f.LateJoin = append(f.LateJoin, Converged{m, convergence(recs, present, m, end)})
		case "pause":
			f.Control = append(f.Control, pauseLatency(recs, present(m.At), m))
		}
	}
	return f
}

// convergence is the time from m to the first instant after which every
// player plays within togetherMS of the others for stableGrids grid points;
// after a seek, every player must also be past the target.
func convergence(recs []Recording, present func(float64) []int, m Mark, end float64) float64 {
	run := 0
	first := 0.0
	for t := m.At; t <= end; t += gridMS {
		ids := present(t)
		skew, playing, n := skewAt(recs, t, ids)
		ok := playing && n == len(ids) && skew < togetherMS
		if ok && m.Kind == "seek" {
			for _, i := range ids {
				if p, _, _ := positionAt(recs[i], t); p < m.Target {
					ok = false
				}
			}
		}
		if !ok {
			run = 0
			continue
		}
		if run == 0 {
			first = t
		}
		run++
		if run >= stableGrids {
			return first - m.At
		}
	}
	return math.NaN()
}

// pauseLatency is, for each player, the time from the click to its player's
// pause event.
func pauseLatency(recs []Recording, ids []int, m Mark) Latency {
	l := Latency{Mark: m}
	for _, i := range ids {
		d := math.NaN()
		for _, e := range recs[i].Events {
			if e.Type == "pause" && e.T >= m.At-1 {
				d = e.T - m.At
				break
			}
		}
		l.PerPlayer = append(l.PerPlayer, d)
		if math.IsNaN(d) || d > l.Max || math.IsNaN(l.Max) {
			l.Max = d
		}
	}
	return l
}

// pct is the p-th percentile (nearest rank) of xs; NaN when empty.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// Print writes the figures as a report.
func (f Figures) Print(w io.Writer, players int) {
	fmt.Fprintf(w, "players: %d (+1 late joiner)\n", players)
	fmt.Fprintf(w, "steady-state skew between any two players (%d instants, 100 ms apart, >2 s after each command or join):\n", f.SteadyCount)
	fmt.Fprintf(w, "  p50 %.1f ms   p95 %.1f ms   max %.1f ms\n", f.SteadyP50, f.SteadyP95, f.SteadyMax)
	fmt.Fprintf(w, "skew at every instant all players play (transitions included): p95 %.1f ms   max %.1f ms\n", f.AllP95, f.AllMax)
	fmt.Fprintln(w, "time to converge (every player within 100 ms of the others, for 1 s) after the click:")
	for _, c := range f.Converge {
		what := c.Mark.Kind
		if what == "seek" {
			what = fmt.Sprintf("seek to %.0f s", c.Mark.Target)
		}
		fmt.Fprintf(w, "  %-14s %6.0f ms (includes the %s lead)\n", what, c.MS, "scheduled")
	}
	for _, c := range f.LateJoin {
		fmt.Fprintf(w, "late joiner: within 100 ms of the others %.0f ms after its page started loading\n", c.MS)
	}
	fmt.Fprintln(w, "control latency (click -> every player paused) vs the clicker's round trip:")
	for _, l := range f.Control {
		fmt.Fprintf(w, "  pause: max %.1f ms (players:", l.Max)
		for _, d := range l.PerPlayer {
			fmt.Fprintf(w, " %.1f", d)
		}
		fmt.Fprintf(w, ")   round trip %.2f ms   budget (round trip + 50 ms) %.1f ms\n", l.Mark.RTT, l.Mark.RTT+50)
	}
}
