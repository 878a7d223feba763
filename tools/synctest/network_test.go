//go:build browser

package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"watchparty/engine/browsertest"
)

// setMinimized minimises window w's browser window (its page becomes hidden,
// as behind another tab or on a locked phone) or brings it back (visible).
func setMinimized(t *testing.T, w *browsertest.Window, min bool) {
	t.Helper()
	state := browser.WindowStateNormal
	if min {
		state = browser.WindowStateMinimized
	}
	w.Do("set the window "+string(state), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		win, err := cdp.Call(ctx, tg, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tg, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: win.WindowID, Bounds: &browser.Bounds{WindowState: state}})
		return err
	}))
	if min {
		w.WaitJS(`document.visibilityState === "hidden"`)
	} else {
		w.WaitJS(`document.visibilityState === "visible"`)
	}
}

// commandsSent is how many commands window w's sync engine sent for its
// member (the control bar's, and what it took for the member's own input).
func commandsSent(w *browsertest.Window) int {
	return browsertest.Eval[int](w, `window.watchpartySync.log.filter((x) => x.what === "command").length`)
}

// playingPair opens a room of two members on a 60 s clip the first shares
// (the second's player muted, if mute), plays it, and returns the two
// windows once they play together, with their readings.
func playingPair(t *testing.T, mute bool) (a, b *browsertest.Window, ps []Probe) {
	t.Helper()
	dir := t.TempDir()
	clip := MakeClip(t, dir, 60)
	s := NewSession(t, dir, clip, 2, nil)
	a = s.Join(t, 0)
	b = s.Join(t, 1)
	s.Share(t, a)
	if mute {
		browsertest.Eval[bool](b, `(document.querySelector('#player video').muted = true, true)`)
	}
	command(t, a, "play")
	ps = waitTogether(t, "play", []*browsertest.Window{a, b}, func(p Probe) bool { return playing(p) && p.Pos > 0.5 })
	return a, b, ps
}

// TestBrowserHiddenTabIsNotACommand: a muted player in a hidden tab is paused
// by Chromium itself; that pause is not its member's command, so the room
// plays on, and when the tab shows again its player re-syncs without
// sending play.
func TestBrowserHiddenTabIsNotACommand(t *testing.T) {
	a, b, ps := playingPair(t, true)
	two := []*browsertest.Window{a, b}
	version := ps[0].Version
	sent := commandsSent(b)

	setMinimized(t, b, true)
	// Chromium pauses muted media in a hidden page after a second or so.
	b.WaitJS(`document.querySelector('#player video').paused`)
	for range 10 {
		p := ProbeAll(t, []*browsertest.Window{a})[0]
		if !playing(p) || p.Version != version {
			t.Fatalf("the room changed while a hidden tab's player was paused by the browser: %+v", p)
		}
	}
	setMinimized(t, b, false)
	ps = waitTogether(t, "shown again", two, func(p Probe) bool { return playing(p) })
	for _, p := range ps {
		if p.Version != version {
			t.Errorf("the room's state changed (version %v, was %v): showing the tab was taken as a command", p.Version, version)
		}
	}
	if n := commandsSent(b); n != sent {
		t.Errorf("the hidden member's page sent %d commands; the browser's pause and play are not the member's", n-sent)
	}
}

// setFrozen freezes window w's page (its tasks and timers stop, as on a
// phone whose screen locked) or lets it run again.
func setFrozen(w *browsertest.Window, frozen bool) {
	state := page.SetWebLifecycleStateStateActive
	if frozen {
		state = page.SetWebLifecycleStateStateFrozen
	}
	w.Do("set the page "+string(state), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.SetWebLifecycleState, page.SetWebLifecycleStateParams{State: state})
		return err
	}))
}

// TestBrowserLockedPhoneComesBack: a phone that locks hides its page,
// pauses its player and then freezes the page; the room plays on without
// it. When it unlocks, the page runs again and shows, and its player comes
// back onto the room's position without a command: the room's state is
// the one it had before the lock.
func TestBrowserLockedPhoneComesBack(t *testing.T) {
	a, b, ps := playingPair(t, true)
	two := []*browsertest.Window{a, b}
	version := ps[0].Version
	sent := commandsSent(b)

	setMinimized(t, b, true)
	b.WaitJS(`document.querySelector('#player video').paused`)
	before := ProbeAll(t, []*browsertest.Window{a})[0]
	setFrozen(b, true)
	// The room plays on while the phone is locked: wait until it has
	// played a few seconds more (bounded).
	probeUntil(t, a, 200, func(p Probe) bool { return p.Pos > before.Pos+3 })
	setFrozen(b, false)
	setMinimized(t, b, false)
	ps = waitTogether(t, "unlocked", two, func(p Probe) bool { return playing(p) && p.Pos > before.Pos+3 })
	for _, p := range ps {
		if p.Version != version {
			t.Errorf("the room's state changed (version %v, was %v): the lock or the unlock was taken as a command", p.Version, version)
		}
	}
	if n := commandsSent(b); n != sent {
		t.Errorf("the locked member's page sent %d commands; the browser's pause and the unlock are not the member's", n-sent)
	}
}

// clockError is how far window w's estimate of the server's clock is off,
// in ms, measured against the machine's clock (which the server keeps).
func clockError(w *browsertest.Window) (float64, string) {
	type reading struct {
		Err    float64 `json:"err"`
		Source string  `json:"source"`
	}
	r := browsertest.Eval[reading](w, `(() => { const c = window.watchpartySync.clock;
		return { err: c.serverNow() - window.__wpNow(), source: c.source || "" }; })()`)
	return r.Err, r.Source
}

// TestBrowserClockAsymmetricPath: round trips cannot see how a path splits
// between its directions, so on a path of 5 ms up and 95 ms down they put
// the server's clock 45 ms off. A page whose device clock is right (it
// agrees with every round trip within half its time) follows the device
// clock and is right too; a page whose device clock is 3 s wrong keeps the
// round-trip estimate, which is right on a symmetric path.
func TestBrowserClockAsymmetricPath(t *testing.T) {
	s := NewSession(t, t.TempDir(), "none.webm", 2, nil)
	s.Shape(t, 0, mustProfile("D=5/95,2"))
	s.Shape(t, 1, mustProfile("S=20/20,2"))
	s.SkewClock(1, 3000)
	right := s.Join(t, 0)
	wrong := s.Join(t, 1)
	for _, w := range []*browsertest.Window{right, wrong} {
		w.WaitJS(`window.watchpartySync.clock.samples.length >= 8`)
	}
	if e, src := clockError(right); src != "device" || math.Abs(e) > 10 {
		t.Errorf("right device clock over an asymmetric path: the estimate is %.1f ms off (following %q); want the device clock, within 10 ms", e, src)
	}
	if e, src := clockError(wrong); src != "rtt" || math.Abs(e) > 15 {
		t.Errorf("device clock 3 s wrong over a symmetric path: the estimate is %.1f ms off (following %q); want the round trips, within 15 ms", e, src)
	}
}

// TestBrowserDownDelayIgnoresHeldPongs: the way down a page reports for
// the room's lead is its path's, not that of a few pongs that came late.
// On a 40/40 ms path, three of a burst of eight pongs are read 300 ms late
// (as a loss on the way holds them, or a page busy at the hello while the
// room loads): the reported way down stays within the path's (40 ms and
// its jitter), where the second slowest of the eight would be 340.
func TestBrowserDownDelayIgnoresHeldPongs(t *testing.T) {
	s := NewSession(t, t.TempDir(), "none.webm", 1, nil)
	s.Shape(t, 0, mustProfile("B=40/40,5"))
	w := s.Join(t, 0)
	w.WaitJS(`window.watchpartySync.clock.samples.length >= 8`)
	browsertest.Eval[bool](w, `(() => { const c = window.watchpartySync.clock, pong = c.onPong.bind(c);
		let n = 0;
		c.onPong = (m) => {
			if (n++ % 3 === 0 && n < 9) {
				setTimeout(() => pong(m), 300);
				return true;
			}
			return pong(m);
		};
		window.__samplesBefore = c.samples.length;
		c.burst();
		return true; })()`)
	w.WaitJS(`window.watchpartySync.clock.samples.length >= window.__samplesBefore + 8`)
	type reading struct{ Down, Slow float64 }
	r := browsertest.Eval[reading](w, `(() => { const c = window.watchpartySync.clock;
		const xs = c.samples.slice(-8).map((x) => x.delay / 2 + c.offset - x.offset).sort((a, b) => b - a);
		return { Down: c.downDelay(), Slow: xs[1] }; })()`)
	if r.Slow < 200 {
		t.Fatalf("the second slowest pong of the burst came down in %.0f ms: the test did not hold three of them", r.Slow)
	}
	if r.Down < 25 || r.Down > 70 {
		t.Errorf("with three of eight pongs read 300 ms late on a 40/40 ms path the page reports a way down of %.0f ms; want the path's, 25-70", r.Down)
	}
}

// TestBrowserClockFollowsAChangedPath: a path that changes with no event
// to say so (a link freed or congested) is re-measured at the first regular
// ping that sees it, by a burst, after which the way down the page reports
// is the new path's. On a 40/40 ms path that becomes 150/150 and then 40/40
// again, the first nine pings sent after each change come back within 1.5
// s of each other (a ping every 3 s would spread them over 24 s), and the
// way down then is the new path's.
func TestBrowserClockFollowsAChangedPath(t *testing.T) {
	s := NewSession(t, t.TempDir(), "none.webm", 1, nil)
	sh := s.Shape(t, 0, mustProfile("B=40/40,2"))
	w := s.Join(t, 0)
	w.Timeout = waitBound
	w.WaitJS(`window.watchpartySync.clock.samples.length >= 8`)
	for _, step := range []struct {
		path   string
		lo, hi float64
	}{{"B=150/150,2", 135, 175}, {"B=40/40,2", 25, 60}} {
		// Pings sent before the change may come back after it.
		since := browsertest.Eval[float64](w, `performance.timeOrigin + performance.now()`)
		sh.Set(mustProfile(step.path))
		after := fmt.Sprintf(`window.watchpartySync.clock.samples.filter((x) => x.at - x.delay > %f)`, since)
		w.WaitJS(after + `.length >= 9`)
		type reading struct {
			Down   float64
			Span   float64
			Delays []float64
			Sent   []float64
		}
		r := browsertest.Eval[reading](w, fmt.Sprintf(`(() => { const c = window.watchpartySync.clock, xs = %s.slice(0, 9);
			return { Down: c.downDelay(), Span: xs[8].at - xs[0].at, Delays: xs.map((x) => Math.round(x.delay)),
				Sent: xs.map((x) => Math.round(x.at - x.delay - %f)) }; })()`, after, since))
		t.Logf("%s: way down %.0f ms; the nine pings sent %v ms after the change, back over %.0f ms, round trips %v", step.path, r.Down, r.Sent, r.Span, r.Delays)
		if r.Span > 1500 {
			t.Errorf("%s: the first nine pings after the change (sent %v ms after it) came back over %.0f ms (round trips %v); want the first, then a burst, within 1.5 s", step.path, r.Sent, r.Span, r.Delays)
		}
		if r.Down < step.lo || r.Down > step.hi {
			t.Errorf("%s: after the burst the page reports a way down of %.0f ms (round trips %v); want the new path's, %.0f-%.0f", step.path, r.Down, r.Delays, step.lo, step.hi)
		}
	}
}

// probeUntil probes window w every 50 ms until ok, at most tries times, and
// reports whether it got there.
func probeUntil(t *testing.T, w *browsertest.Window, tries int, ok func(p Probe) bool) bool {
	t.Helper()
	for range tries {
		if ok(ProbeAll(t, []*browsertest.Window{w})[0]) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestBrowserSeekingPlayerHoldsTheRoom: with "wait for everyone" on, a
// member whose link becomes slow (1.5 s down) just as the room seeks is
// paused in the middle of its seek for a while; it reports buffering, so
// the room holds everyone until it can play, and then goes on together.
func TestBrowserSeekingPlayerHoldsTheRoom(t *testing.T) {
	dir := t.TempDir()
	clip := MakeClip(t, dir, 60)
	s := NewSession(t, dir, clip, 2, nil)
	s.Settings(t, true)
	// B's link carries more than the clip's bitrate, but not so much that
	// it has loaded the whole clip by the time of the seek.
	fast := mustProfile("B=2/2,0,0%,1000")
	sh := s.Shape(t, 1, fast)
	a := s.Join(t, 0)
	b := s.Join(t, 1)
	s.Share(t, a)
	two := []*browsertest.Window{a, b}
	command(t, a, "play")
	waitTogether(t, "play", two, func(p Probe) bool { return playing(p) && p.Pos > 0.5 })

	// The seek goes well past what B has loaded (its link is capped), and
	// leaves the players half the clip to come together in: on a busy
	// machine that takes seconds, and a clip that ends first pauses the
	// room at its end.
	loaded := browsertest.Eval[float64](b, `(() => { const r = document.querySelector('#player video').buffered;
		return r.length ? r.end(r.length - 1) : 0; })()`)
	target := math.Max(20, math.Ceil(loaded)+10)
	if target > 40 {
		t.Fatalf("B's capped link loaded %.1f s of the clip before the seek; the test needs a seek into media not loaded", loaded)
	}
	sh.Set(mustProfile("B=2/1500,0,0%,1000"))
	command(t, a, "seek", target)
	if !probeUntil(t, a, 200, func(p Probe) bool { return p.Held && p.Paused }) {
		t.Fatalf("the room did not wait for a member still seeking over a slow link; its notes: %s",
			browsertest.Eval[string](b, `JSON.stringify(window.watchpartySync.log.slice(-10))`))
	}
	sh.Set(fast)
	// Once B's link is fast again, B can play and the room ends its hold:
	// the players come together from there.
	if !probeUntil(t, a, 400, func(p Probe) bool { return playing(p) && !p.Held }) {
		t.Fatalf("the room still waits after B's link is fast again; B's notes: %s",
			browsertest.Eval[string](b, `JSON.stringify(window.watchpartySync.log.slice(-10))`))
	}
	waitTogether(t, "after the seek", two, func(p Probe) bool { return playing(p) && !p.Held && p.Pos > target })
}

// cappedPlay opens a room of two members on a 60 s clip (waiting for
// everyone, if wait), the second's link capped at 300 kbit/s, half the
// clip's bitrate, and plays it; it returns the two windows, the second's
// shaper and its free profile.
func cappedPlay(t *testing.T, wait bool) (a, b *browsertest.Window, sh *Shaper, free Profile) {
	t.Helper()
	dir := t.TempDir()
	clip := MakeClip(t, dir, 60)
	s := NewSession(t, dir, clip, 2, nil)
	if wait {
		s.Settings(t, true)
	}
	free = mustProfile("B=2/2,0")
	sh = s.Shape(t, 1, free)
	a = s.Join(t, 0)
	b = s.Join(t, 1)
	sh.Set(mustProfile("B=2/2,0,0%,300"))
	s.Share(t, a)
	command(t, a, "play")
	b.Timeout = waitBound
	return a, b, sh, free
}

// TestBrowserCappedPlayerComesBack: with the room playing on without it, a
// member whose link carries half the clip's bitrate falls behind and plays
// what it has. What its seeks took on that link is the link's, not the
// seek's: once behind, it aims by the first guesses (before, a capped
// player whose link came back aimed 2 s ahead by seeks it timed while
// starved), and when the link is free again it comes back with the others.
func TestBrowserCappedPlayerComesBack(t *testing.T) {
	a, b, sh, free := cappedPlay(t, false)
	b.WaitJS(`window.watchpartySync.log.some((x) => x.what === "behind")`)
	type seeks struct {
		In, Far, Jump     float64
		WantIn, WantFar   float64
		WantJump, Learned int
	}
	// The first guesses, from the page's own figures (its round trip
	// included), against what the engine uses.
	got := browsertest.Eval[seeks](b, `(() => { const e = window.watchpartySync, c = e.cfg, rtt = e.clock.rtt(), l = e.latency;
		return { In: l.in, Far: l.far, Jump: l.jump, WantIn: c.seekInLatencyMs,
			WantFar: Math.max(c.farLatencyMs + c.farRoundTrips * rtt, c.seekInLatencyMs),
			WantJump: Math.round(c.jumpLatencyMs + c.jumpRoundTrips * rtt),
			Learned: e.learned.in.xs.length + e.learned.far.xs.length + e.learned.jump.xs.length }; })()`)
	if got.In != got.WantIn || math.Abs(got.Far-got.WantFar) > 0.5 || math.Abs(got.Jump-float64(got.WantJump)) > 0.5 || got.Learned != 0 {
		t.Errorf("behind on a starved link, B aims its seeks by in %.0f, far %.0f, jump %.0f ms (%d samples kept); want the first guesses %.0f, %.0f, %d and none",
			got.In, got.Far, got.Jump, got.Learned, got.WantIn, got.WantFar, got.WantJump)
	}
	sh.Set(free)
	waitTogether(t, "after B's link recovered", []*browsertest.Window{a, b}, func(p Probe) bool { return playing(p) })
	// Every jump it made from when it fell behind until it was back (its
	// tries on the starved link, its jump once the link was free) aimed no
	// further ahead than those guesses allow, its start latency on top
	// (which it keeps: the player's, not the link's; 30 ms for it and the
	// round trip changing meanwhile).
	type jump struct {
		Margin float64
		Kind   string
	}
	jumps := browsertest.Eval[[]jump](b, `(() => { const l = window.watchpartySync.log;
		return l.slice(l.findIndex((x) => x.what === "behind")).filter((x) => x.what === "jump").map((x) => ({ Margin: x.margin, Kind: x.kind })); })()`)
	bound := browsertest.Eval[float64](b, `(() => { const e = window.watchpartySync, c = e.cfg, rtt = e.clock.rtt();
		return Math.max(c.farLatencyMs + c.farRoundTrips * rtt, c.seekInLatencyMs, c.jumpLatencyMs + c.jumpRoundTrips * rtt) + e.latency.start + 30; })()`)
	if len(jumps) == 0 {
		t.Errorf("B came back without a jump; its notes: %s", browsertest.Eval[string](b, `JSON.stringify(window.watchpartySync.log.slice(-15))`))
	}
	for _, j := range jumps {
		if j.Margin > bound {
			t.Errorf("B behind jumped (%s) %.0f ms ahead; want at most %.0f (the first guesses); its jumps: %+v", j.Kind, j.Margin, bound, jumps)
			break
		}
	}
}

// TestBrowserWaitedForPlayerLearnsNoStarvedSeek: with "wait for everyone"
// on, a member whose link carries half the clip's bitrate runs out of data,
// and the room waits for it: it is not behind, but the seeks it then makes
// (to where the room holds, to the room's start) wait for its starved link.
// They teach it nothing (their data came at about the media's rate), so its
// reports do not stretch the room's seek lead once its link is back; it
// notes each one it did not learn. (A member on a slow path that is not
// starved still learns its seeks: TestBrowserSeekLeadCoversUnloadedMedia.)
func TestBrowserWaitedForPlayerLearnsNoStarvedSeek(t *testing.T) {
	_, b, _, _ := cappedPlay(t, true)
	b.WaitJS(`window.watchpartySync.log.some((x) => x.what === "seek-starved" || (x.what === "seek-learned" && x.ms > 600))`)
	type learned struct {
		Starved int
		Samples []float64
	}
	got := browsertest.Eval[learned](b, `(() => { const e = window.watchpartySync, l = e.learned;
		return { Starved: e.log.filter((x) => x.what === "seek-starved").length, Samples: [...l.in.xs, ...l.far.xs, ...l.jump.xs] }; })()`)
	for _, ms := range got.Samples {
		if ms > 600 {
			t.Errorf("a member the room waited for learned a seek of %.0f ms on its starved link (samples %v); its notes: %s", ms, got.Samples,
				browsertest.Eval[string](b, `JSON.stringify(window.watchpartySync.log.filter((x) => /seek|buffering|state|jump|start|stall/.test(x.what)).slice(-16).map((x) => ({ w: x.what, t: Math.round(x.lt % 100000), ms: x.ms, on: x.on, p: x.playing, k: x.kind })))`))
			break
		}
	}
	if got.Starved == 0 {
		t.Errorf("the member's seeks on its starved link were not noted as such (samples %v)", got.Samples)
	}
}

// pathReport is a drift report as a page noted it (its "report" note).
type pathReport struct {
	At     float64      `json:"at"`
	Down   float64      `json:"down"`
	Start  float64      `json:"start"`
	Seek   float64      `json:"seek"`
	Far    float64      `json:"far"`
	Ranges [][2]float64 `json:"ranges"`
}

// loaded reports whether the room counts a seek to t as one into the media
// the report says is loaded (engine/room/sync.go, connSync.has).
func (r pathReport) loaded(t float64) bool {
	for _, x := range r.Ranges {
		if x[0] <= t+0.05 && x[1]-t > 0.5 {
			return true
		}
	}
	return false
}

// TestBrowserSeekLeadCoversUnloadedMedia: a late joiner on a 200 ms path
// has loaded the clip from where it joined; the room's seek back to media
// it has not loaded is scheduled far enough ahead for its seek to media not
// loaded (its report's far: a request on its open connection and the data,
// besides the seek itself), not only for a seek into loaded media, and the
// joiner learns that seek as one to media not loaded with other media
// loaded.
func TestBrowserSeekLeadCoversUnloadedMedia(t *testing.T) {
	dir := t.TempDir()
	clip := MakeClip(t, dir, 120)
	s := NewSession(t, dir, clip, 2, nil)
	s.Shape(t, 1, mustProfile("C=100/100,5"))
	a := s.Join(t, 0)
	s.Share(t, a)
	command(t, a, "seek", 90)
	command(t, a, "play")
	waitTogether(t, "play", []*browsertest.Window{a}, func(p Probe) bool { return playing(p) && p.Pos > 90.2 })
	b := s.Window(t, 1)
	s.Enter(t, 1, b)
	two := []*browsertest.Window{a, b}
	waitTogether(t, "late joiner", two, func(p Probe) bool { return playing(p) && p.Pos > 90.5 })

	// B's next report after it played, with what it has loaded; the seek
	// goes to media outside it, right after (B's first report, before its
	// clock knew the way down, said nothing about its path).
	const reports = `window.watchpartySync.log.filter((n) => n.what === "report" && n.ranges)`
	n := browsertest.Eval[int](b, reports+`.length`)
	b.WaitJS(fmt.Sprintf(`%s.length > %d`, reports, n))
	rep := browsertest.Eval[pathReport](b, reports+`.at(-1)`)
	// B loads the clip from its start too: the target is in the gap
	// between that and where it joined, well ahead of where that loading
	// has got to.
	from, to := 0.0, 90.0
	for _, r := range rep.Ranges {
		if r[0] <= from+0.05 && r[1] > from {
			from = r[1]
		} else if r[0] > from {
			to = min(to, r[0])
		}
	}
	if to-from < 8 || rep.loaded(math.Floor(from+(to-from)*0.6)) {
		t.Fatalf("B has loaded nearly all of the clip up to its join before the seek (%+v); the test needs a seek to media not loaded", rep)
	}
	target := math.Floor(from + (to-from)*0.6)
	if rep.Far <= rep.Seek {
		t.Errorf("B reports a seek to media not loaded (far %.0f ms) no longer than one into loaded media (seek %.0f ms)", rep.Far, rep.Seek)
	}
	// B seeks: its report reaches the room before its command.
	command(t, b, "seek", target)
	seekState := fmt.Sprintf(`window.watchpartySync.log.find((n) => n.what === "state" && n.position === %v)`, target)
	b.WaitJS(seekState + ` !== undefined`)
	version := browsertest.Eval[float64](b, seekState+`.version`)
	waitTogether(t, "seek", two, func(p Probe) bool { return playing(p) && p.Version >= version && p.Pos > target+0.2 })

	// The lead B was given: the state's start less the server's time when
	// it sent the state (read a little after the command's own, so up to
	// 100 ms shorter, never longer). B may have reported again before the
	// room got the seek: the lower of its reports counts.
	type stateNote struct {
		At        float64 `json:"at"`
		Position  float64 `json:"position"`
		UpdatedAt float64 `json:"updatedAt"`
		Time      float64 `json:"time"`
	}
	st := browsertest.Eval[stateNote](b, seekState)
	later := browsertest.Eval[[]pathReport](b, fmt.Sprintf(`%s.filter((n) => n.at > %v && n.at < %v)`, reports, rep.At, st.At))
	need := func(r pathReport) float64 { return min(1000, r.Down+r.Far+r.Start+25) }
	want := need(rep)
	for _, r := range later {
		want = min(want, need(r))
	}
	lead := st.UpdatedAt - st.Time
	t.Logf("B's report %+v; the seek to %v s scheduled %.0f ms ahead, B needs %.0f", rep, target, lead, want)
	if lead < want-100 {
		t.Errorf("the seek to %v s (not loaded by B) was scheduled %.0f ms ahead; B needs %.0f (down %.0f + far %.0f + start %.0f + 25, at most 1000); report %+v",
			target, lead, want, rep.Down, rep.Far, rep.Start, rep)
	}
	b.WaitJS(`window.watchpartySync.learned.far.xs.length > 0`)
}

// TestBrowserPauseOnSlowPathDoesNotSeek: a member on a 200 ms path pauses
// with the room's controls. Its player pauses at once, and the room's pause
// comes back a round trip later; meanwhile the player is left alone, not
// sought back to where the still-playing room is (a start it seemed to
// miss), so pausing shows no jump.
func TestBrowserPauseOnSlowPathDoesNotSeek(t *testing.T) {
	dir := t.TempDir()
	clip := MakeClip(t, dir, 60)
	s := NewSession(t, dir, clip, 1, nil)
	s.Shape(t, 0, mustProfile("slow=100/100"))
	a := soloPlaying(t, s)
	one := []*browsertest.Window{a}
	for round := range 3 {
		time.Sleep(1500 * time.Millisecond)
		since := browsertest.Eval[float64](a, `window.__wpNow()`)
		command(t, a, "pause")
		waitTogether(t, "pause", one, paused)
		time.Sleep(500 * time.Millisecond)
		seeks := browsertest.Eval[int](a, fmt.Sprintf(`window.__wpSamples.events.filter((e) => e.type === "seeking" && e.t >= %f).length`, since))
		if seeks > 1 {
			t.Errorf("pause %d: the player seeked %d times; want at most once (onto the room's paused position)", round+1, seeks)
		}
		notes := browsertest.Eval[string](a, `JSON.stringify(window.watchpartySync.log.slice(-8).map((x) => x.what + (x.kind ? ":" + x.kind : "")))`)
		if strings.Contains(notes, `"jump`) {
			t.Errorf("pause %d: the player was sought to the playing room's position while its pause was on its way: %s", round+1, notes)
		}
		command(t, a, "play")
		waitTogether(t, "play", one, func(p Probe) bool { return playing(p) })
	}
}
