package main

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// Mark is a moment of the scenario, in machine (and server) ms.
type Mark struct {
	Kind   string  // play, seek, pause, join, net (a path changed), capped, recover
	At     float64 // when the command was sent (or the late joiner's page opened)
	Target float64 // seek target, seconds
	Player int     // who sent the command, joined, or whose path changed
	RTT    float64 // the sender's round trip to the server, ms
}

// Figures are the measured results.
type Figures struct {
	Scenario             string
	Paths                []Profile // per player; the late joiner's last
	SteadyCount          int
	SteadyP50, SteadyP95 float64
	SteadyMax            float64
	AllP95, AllMax       float64 // every instant at which all players play
	Stalls               []Stall // players that ran out of data while playing
	Converge             []Converged
	LateJoin             []Converged
	JoinSteps            []JoinSteps
	Recover              []Recovered
	Control              []Latency
	Players              []PlayerFigures
	Capped               *CappedFigures
}

// PlayerFigures are one player's own figures.
type PlayerFigures struct {
	DriftP95    float64 // |position - room's position| on the machine clock, steady state, ms
	DriftMean   float64 // signed mean of the same
	ClockOffset float64 // the page's estimate of the server's clock minus the machine's, at the end, ms
	ClockSource string  // what the page's clock follows (device or rtt)
	RTT         float64 // the page's round trip estimate, ms
}

// Stall is a player that ran out of data while it played (a loss on its
// path, a link slower than the media) and how it came back: the largest
// skew in the settling time after it played again, and how long until every
// player was within togetherMS for a second.
type Stall struct {
	Player    int
	At, MS    float64 // when it stalled (machine ms) and for how long
	MaxAfter  float64 // the largest skew within settleMS after it played again
	Converged float64 // ms from playing again to every player within togetherMS for 1 s
}

// stalls finds the periods in which a player played without data outside
// the settling time of a mark (a command's or a join's own stalls are part of
// its convergence).
func stalls(recs []Recording, marks []Mark) []Stall {
	var out []Stall
	for i, r := range recs {
		from := -1.0
		for _, x := range r.Samples {
			switch {
			case x[2] == 2 && from < 0:
				from = x[0]
			case x[2] != 2 && from >= 0:
				if x[2] == 0 && !nearMark(marks, from) {
					out = append(out, Stall{Player: i, At: from, MS: x[0] - from})
				}
				from = -1
			}
		}
	}
	return out
}

// stallFigures fills in how the room came back from each stall: the
// largest skew in the settling time after it, and the time until every
// player was together again.
func stallFigures(recs []Recording, stalled []Stall, present func(float64) []int) []Stall {
	for k, st := range stalled {
		end := st.At + st.MS
		for t := end; t < end+settleMS; t += gridMS {
			if x, playing, n := skewAt(recs, t, present(t)); playing && n >= 2 {
				stalled[k].MaxAfter = math.Max(stalled[k].MaxAfter, x)
			}
		}
		stalled[k].Converged = convergence(recs, present, Mark{Kind: "stall", At: end}, end+10*settleMS)
	}
	return stalled
}

// nearMark reports whether t lies within settleMS after a command or a join.
func nearMark(marks []Mark, t float64) bool {
	for _, m := range marks {
		if m.Kind != "net" && m.Kind != "capped" && t >= m.At && t < m.At+settleMS {
			return true
		}
	}
	return false
}

// Recovered is how a capped player came back once its link recovered.
type Recovered struct {
	Mark    Mark
	MS      float64 // until every player was within 100 ms for 1 s
	SkewAt2 float64 // the skew between players 2 s after the recovery, ms
	Max2to4 float64 // the largest skew from 2 s to 4 s after it, ms
}

// CappedFigures describe the room while one player's link was capped.
type CappedFigures struct {
	Player   int
	Seconds  float64 // how long the cap lasted
	Holds    int     // times the room was held (waiting for everyone)
	HeldMS   float64 // total time held
	MaxLagMS float64 // the capped player's largest distance behind the room
	PlayedS  float64 // seconds of media the capped player played during the cap
}

// JoinSteps are when a late joiner's page got through each step of its
// start, in ms after it started loading (NaN for a step not seen): the room
// page's HTML, the room's hello, the player's metadata (the adapter attached),
// the first seek to the room's position, the first play() and the moment it
// came together with the others; Seeks counts its seeks until then.
type JoinSteps struct {
	Page, Hello, Metadata, Seek, Play, Converged float64
	Seeks                                        int
	// Requests are its requests until the first play, from its shaper's
	// trace (none on loopback); Conns counts the connections it opened.
	Requests []WireRequest
	Conns    int
	// Media is Chromium's media log and the player's events from the page's
	// start until the first play, and From that start (machine ms).
	Media  []MediaNote
	Events []Event
	From   float64
	// Nav is the page's request, first and last byte, and parsed
	// document, in ms after it started loading.
	Nav [4]float64
}

// joinSteps reads the late joiner's steps from its recording (the sync
// engine's notes carry the page's local instant, the machine's clock).
func joinSteps(rec Recording, m Mark, converged float64) JoinSteps {
	nan := math.NaN()
	js := JoinSteps{Page: nan, Hello: nan, Metadata: nan, Seek: nan, Play: nan, Converged: converged}
	if rec.Page > 0 {
		js.Page = rec.Page - m.At
	}
	for i, x := range rec.Nav {
		js.Nav[i] = x - m.At
	}
	first := map[string]*float64{"hello": &js.Hello, "attach": &js.Metadata, "jump": &js.Seek, "aimed": &js.Seek, "play": &js.Play}
	for _, e := range rec.Log {
		what, _ := e["what"].(string)
		lt, ok := e["lt"].(float64)
		if !ok || lt < m.At {
			continue
		}
		if !math.IsNaN(converged) && lt > m.At+converged {
			break
		}
		if what == "jump" || what == "reaim-loaded" {
			js.Seeks++
		}
		if p := first[what]; p != nil && math.IsNaN(*p) {
			*p = lt - m.At
		}
	}
	if !math.IsNaN(js.Play) {
		js.Requests, js.Conns = wireRequests(rec.Wire, m.At, m.At+js.Play)
		js.Media, js.Events, js.From = rec.Media, rec.Events, m.At
	}
	return js
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
	stalled := stalls(recs, marks)
	quiet := func(t float64) bool {
		// A player back from a stall is settling, as after a command.
		for _, st := range stalled {
			if end := st.At + st.MS; t >= st.At && t < end+settleMS {
				return false
			}
		}
		capped := false
		for _, m := range marks {
			switch m.Kind {
			case "capped":
				capped = t >= m.At
			case "recover":
				capped = capped && t < m.At
			}
			if m.Kind != "net" && m.Kind != "capped" && t >= m.At && t < m.At+settleMS {
				return false
			}
		}
		return !capped
	}
	// A late joiner comes together with the others as it starts playing (its
	// join's convergence, reported on its own); it is in steady state from
	// settleMS after that, as the others are from settleMS after a command
	// they start on. Until then only the others' skew counts as steady.
	settled := make([]float64, len(recs))
	for k, m := range marks {
		if m.Kind == "join" {
			end := to
			if k+1 < len(marks) {
				end = marks[k+1].At
			}
			settled[m.Player] = m.At + convergence(recs, present, m, end) + settleMS
			if math.IsNaN(settled[m.Player]) {
				settled[m.Player] = math.Inf(1)
			}
		}
	}
	drifts := make([][]float64, len(recs))
	for t := from; t <= to; t += gridMS {
		ids := present(t)
		skew, playing, n := skewAt(recs, t, ids)
		if !playing || n < 2 {
			continue
		}
		all = append(all, skew)
		if quiet(t) {
			var in []int
			for _, i := range ids {
				if t >= settled[i] {
					in = append(in, i)
				}
			}
			if len(in) < len(ids) {
				if skew, playing, n = skewAt(recs, t, in); !playing || n < 2 {
					continue
				}
			}
			steady = append(steady, skew)
			for _, i := range in {
				if d, ok := driftAt(recs[i], t); ok {
					drifts[i] = append(drifts[i], d)
				}
			}
		}
	}
	f.Stalls = stallFigures(recs, stalled, present)
	f.Players = playerFigures(recs, drifts)
	f.SteadyCount = len(steady)
	f.SteadyP50, f.SteadyP95, f.SteadyMax = pct(steady, 50), pct(steady, 95), pct(steady, 100)
	f.AllP95, f.AllMax = pct(all, 95), pct(all, 100)

	markFigures(&f, recs, marks, present, to)
	return f
}

// playerFigures are each player's clock and its drift from the room over
// the quiet periods (drifts[i]: player i's readings).
func playerFigures(recs []Recording, drifts [][]float64) []PlayerFigures {
	var out []PlayerFigures
	for i, r := range recs {
		pf := PlayerFigures{ClockOffset: r.Clock.Offset, ClockSource: r.Clock.Source, RTT: r.Clock.RTT, DriftP95: math.NaN(), DriftMean: math.NaN()}
		if len(drifts[i]) > 0 {
			abs := make([]float64, len(drifts[i]))
			sum := 0.0
			for k, d := range drifts[i] {
				abs[k] = math.Abs(d)
				sum += d
			}
			pf.DriftP95 = pct(abs, 95)
			pf.DriftMean = sum / float64(len(drifts[i]))
		}
		out = append(out, pf)
	}
	return out
}

// markFigures adds to f what each mark started: convergence after a play,
// seek or late join, the latency of a pause, recovery from a network
// change, the period of a capped player.
func markFigures(f *Figures, recs []Recording, marks []Mark, present func(float64) []int, to float64) {
	for k, m := range marks {
		end := to
		if k+1 < len(marks) {
			end = marks[k+1].At
		}
		switch m.Kind {
		case "play", "seek":
			f.Converge = append(f.Converge, Converged{m, convergence(recs, present, m, end)})
		case "join":
			c := Converged{m, convergence(recs, present, m, end)}
			f.LateJoin = append(f.LateJoin, c)
			f.JoinSteps = append(f.JoinSteps, joinSteps(recs[m.Player], m, c.MS))
		case "pause":
			f.Control = append(f.Control, pauseLatency(recs, present(m.At), m))
		case "recover":
			r := Recovered{Mark: m, MS: convergence(recs, present, m, end)}
			r.SkewAt2, _, _ = skewAt(recs, m.At+2000, present(m.At+2000))
			for t := m.At + 2000; t <= m.At+4000; t += gridMS {
				x, _, _ := skewAt(recs, t, present(t))
				r.Max2to4 = math.Max(r.Max2to4, x)
			}
			f.Recover = append(f.Recover, r)
		case "capped":
			f.Capped = cappedFigures(recs, marks, k)
		}
	}
}

// driftAt is player rec's distance from the room's position at t (ms),
// from its latest fresh reading of a playing player.
func driftAt(rec Recording, t float64) (float64, bool) {
	s := rec.Samples
	i := sort.Search(len(s), func(i int) bool { return s[i][0] > t }) - 1
	if i < 0 || t-s[i][0] > freshMS || s[i][2] != 0 {
		return 0, false
	}
	return s[i][4], true
}

// cappedFigures describe the period from marks[k] (the cap) to the next
// recover mark: how the room held and how far the capped player fell
// behind. Holds are read from the first player's recording.
func cappedFigures(recs []Recording, marks []Mark, k int) *CappedFigures {
	m := marks[k]
	end := math.Inf(1)
	for _, x := range marks[k+1:] {
		if x.Kind == "recover" {
			end = x.At
			break
		}
	}
	c := &CappedFigures{Player: m.Player, Seconds: (end - m.At) / 1000}
	held := false
	var heldFrom float64
	for _, r := range recs[0].Samples {
		if r[0] < m.At || r[0] > end {
			continue
		}
		if r[5] != 0 && !held {
			held, heldFrom = true, r[0]
			c.Holds++
		}
		if r[5] == 0 && held {
			held = false
			c.HeldMS += r[0] - heldFrom
		}
	}
	if held {
		c.HeldMS += end - heldFrom
	}
	first, last := math.NaN(), math.NaN()
	for _, r := range recs[m.Player].Samples {
		if r[0] < m.At || r[0] > end {
			continue
		}
		if math.IsNaN(first) {
			first = r[1]
		}
		last = r[1]
		if r[5] == 0 {
			c.MaxLagMS = math.Max(c.MaxLagMS, -r[4])
		}
	}
	c.PlayedS = last - first
	return c
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
func (f Figures) Print(w io.Writer) {
	fmt.Fprintln(w, f.Scenario)
	for i, p := range f.Paths {
		who := fmt.Sprintf("player %d", i+1)
		if i == len(f.Paths)-1 {
			who = "late joiner"
		}
		pf := f.Players[i]
		fmt.Fprintf(w, "  %-11s %-40s |drift| p95 %5.1f ms, mean %+5.1f ms; clock %s, offset %+.1f ms, rtt %.1f ms\n",
			who, p, pf.DriftP95, pf.DriftMean, orDash(pf.ClockSource), pf.ClockOffset, pf.RTT)
	}
	fmt.Fprintln(w, "  (drift and offset on the machine clock, which the server and every page share: an offset of 0 is right)")
	fmt.Fprintf(w, "steady-state skew between any two players (%d instants, 100 ms apart, >2 s after each command, join or stall; a late joiner from 2 s after it came together with the others):\n", f.SteadyCount)
	fmt.Fprintf(w, "  p50 %.1f ms   p95 %.1f ms   max %.1f ms\n", f.SteadyP50, f.SteadyP95, f.SteadyMax)
	fmt.Fprintf(w, "skew at every instant all players play (transitions included): p95 %.1f ms   max %.1f ms\n", f.AllP95, f.AllMax)
	for _, st := range f.Stalls {
		fmt.Fprintf(w, "  player %d ran out of data for %.0f ms while playing; then skew up to %.1f ms, every player within 100 ms for 1 s after %.0f ms (not steady state for 2 s)\n",
			st.Player+1, st.MS, st.MaxAfter, st.Converged)
	}
	fmt.Fprintln(w, "time to converge (every player within 100 ms of the others, for 1 s) after the click:")
	for _, c := range f.Converge {
		what := c.Mark.Kind
		if what == "seek" {
			what = fmt.Sprintf("seek to %.0f s", c.Mark.Target)
		}
		fmt.Fprintf(w, "  %-14s %6.0f ms (by player %d; includes the scheduled lead)\n", what, c.MS, c.Mark.Player+1)
	}
	for _, c := range f.LateJoin {
		fmt.Fprintf(w, "late joiner: within 100 ms of the others %.0f ms after its page started loading\n", c.MS)
	}
	for _, js := range f.JoinSteps {
		fmt.Fprintf(w, "  its steps (ms after the page started loading): page %.0f, hello %.0f, metadata %.0f, seek %.0f, play %.0f, together %.0f; %d seeks\n",
			js.Page, js.Hello, js.Metadata, js.Seek, js.Play, js.Converged, js.Seeks)
		fmt.Fprintf(w, "  its page: request %.0f, first byte %.0f, last byte %.0f, parsed %.0f\n", js.Nav[0], js.Nav[1], js.Nav[2], js.Nav[3])
		if len(js.Requests) > 0 {
			printWire(w, js.Requests, js.Conns)
		}
		if len(js.Media) > 0 {
			printMedia(w, js.Media, js.Events, js.From, js.From+js.Play+300)
		}
	}
	if c := f.Capped; c != nil {
		fmt.Fprintf(w, "capped link (player %d, %.0f s): the room was held %d times, %.1f s in all; the player played %.1f s of media and fell up to %.0f ms behind\n",
			c.Player+1, c.Seconds, c.Holds, c.HeldMS/1000, c.PlayedS, c.MaxLagMS)
	}
	for _, r := range f.Recover {
		fmt.Fprintf(w, "after the link recovered: every player within 100 ms for 1 s after %.0f ms; skew 2 s after %.1f ms, largest from 2 to 4 s %.1f ms\n",
			r.MS, r.SkewAt2, r.Max2to4)
	}
	fmt.Fprintln(w, "control latency (click -> every player paused) vs the clicker's round trip:")
	for _, l := range f.Control {
		fmt.Fprintf(w, "  pause: max %.1f ms (players:", l.Max)
		for _, d := range l.PerPlayer {
			fmt.Fprintf(w, " %.1f", d)
		}
		fmt.Fprintf(w, ")   round trip %.2f ms\n", l.Mark.RTT)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
