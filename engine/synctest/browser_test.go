package main

import (
	"math"
	"testing"

	"watchparty/engine/browsertest"
)

// tolerance is how far apart (ms) players may be for the tests to call them
// together. The correction loop leaves each player alone within the 40 ms
// dead zone of the room's position, so two players may sit up to 80 ms apart
// before either is corrected; 100 ms is also the bound the figures use for
// "converged". The positions are compared at one server instant, each
// extrapolated from its own reading, so the time between two readings does
// not count.
const tolerance = 100

// waitTogether probes the windows until every one satisfies ok and all are
// within tolerance of each other and of the room's position, three probes
// in a row. It gives up (failing the test) after a bounded number of
// probes.
func waitTogether(t *testing.T, what string, ws []*browsertest.Window, ok func(p Probe) bool) []Probe {
	t.Helper()
	good := 0
	var last []Probe
	for range 600 {
		last = ProbeAll(t, ws)
		pass := Spread(last) < tolerance
		for _, p := range last {
			if !ok(p) || math.Abs(p.Pos-p.Expected)*1000 > tolerance {
				pass = false
			}
		}
		if pass {
			good++
			if good == 3 {
				return last
			}
		} else {
			good = 0
		}
	}
	t.Fatalf("%s: the players never came together; last readings %+v (spread %.0f ms)", what, last, Spread(last))
	return nil
}

func playing(p Probe) bool { return p.Playing && !p.Paused }
func paused(p Probe) bool  { return !p.Playing && p.Paused }

// TestBrowserPlayersFollow: three real Chromium players in one room on a
// local video from the media library. One member plays, seeks and pauses,
// and every player follows; a member joining mid-video lands on the right
// position; with "wait for everyone" on, a member that buffers holds the
// room, and the room goes on once it is ready.
func TestBrowserPlayersFollow(t *testing.T) {
	dir := t.TempDir()
	clip := MakeClip(t, dir, 60)
	s := NewSession(t, dir, clip, 3, nil)
	a := s.Join(t, 0)
	b := s.Join(t, 1)
	s.Share(t, a)
	two := []*browsertest.Window{a, b}

	command(t, b, "play")
	ps := waitTogether(t, "play", two, func(p Probe) bool { return playing(p) && p.Pos > 0.5 })
	t.Logf("after play: %+v", ps)

	command(t, a, "seek", 30)
	ps = waitTogether(t, "seek", two, func(p Probe) bool { return playing(p) && p.Pos > 30.2 && p.Pos < 40 })
	t.Logf("after seek: %+v", ps)

	command(t, b, "pause")
	ps = waitTogether(t, "pause", two, paused)
	if d := math.Abs(ps[0].Pos - ps[1].Pos); d > 0.001 {
		t.Errorf("paused %.1f ms apart; a pause puts every player on the room's position", d*1000)
	}

	// A late joiner, mid-video, while the others play.
	command(t, a, "play")
	waitTogether(t, "play again", two, playing)
	c := s.Join(t, 2)
	all := []*browsertest.Window{a, b, c}
	ps = waitTogether(t, "late joiner", all, func(p Probe) bool { return playing(p) && p.Pos > 31 })
	t.Logf("with the late joiner: %+v", ps)

	// Wait for everyone: B buffers, the room holds everyone.
	s.Settings(t, true)
	for _, w := range all {
		w.WaitJS(`document.querySelector('#player') && window.watchpartySync && true`)
	}
	browsertest.Eval[bool](b, `(window.watchpartySync.simulateBuffering(true), true)`)
	held := waitTogether(t, "hold", []*browsertest.Window{a, c}, func(p Probe) bool { return paused(p) && p.Held })
	t.Logf("held: %+v", held)
	// The hold lasts while B buffers: the others stay paused where they are.
	for range 5 {
		for _, p := range ProbeAll(t, []*browsertest.Window{a, c}) {
			if !paused(p) || math.Abs(p.Pos-held[0].Pos) > 0.001 {
				t.Fatalf("a player moved while the room was held: %+v", p)
			}
		}
	}
	browsertest.Eval[bool](b, `(window.watchpartySync.simulateBuffering(false), true)`)
	waitTogether(t, "after buffering", all, func(p Probe) bool { return playing(p) && !p.Held && p.Pos > held[0].Pos+0.2 })

	for _, w := range all {
		if errs := w.Errors(); len(errs) > 0 {
			t.Errorf("%s logged errors: %q", w.Name(), errs)
		}
	}
}
