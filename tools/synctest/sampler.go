package main

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"watchparty/engine/browsertest"
)

// samplerJS runs in every page before its own scripts. It keeps the
// machine's clock (performance.timeOrigin + performance.now(), as they are
// before a test sets the page's clock wrong): the server and every page
// share that clock, so positions compared on it show the players' real skew,
// whatever each page believes the server's time is. Every 100 ms, in a task
// of its own (Chromium keeps currentTime constant within a task), it records
// the player's position with the instant it was read, and the instants of
// the player's pause/play events.
const samplerJS = `(() => {
  const origin = performance.timeOrigin;
  const perfNow = performance.now.bind(performance);
  const now = () => origin + perfNow();
  window.__wpNow = now;
  const S = window.__wpSamples = { samples: [], events: [] };
  // Every video's events, from the first (a late joiner's page starts its
  // video while it parses): media events do not bubble, but a listener on
  // the document in the capture phase sees them.
  for (const type of ['pause', 'play', 'seeking', 'waiting', 'seeked', 'loadedmetadata', 'loadeddata', 'canplay',
    'canplaythrough', 'playing', 'stalled']) {
    // The event's timeStamp is when the player queued it (when pause()
    // ran), not when this handler got to run.
    document.addEventListener(type, (ev) => {
      if (ev.target instanceof HTMLVideoElement) S.events.push({ type, t: origin + ev.timeStamp });
    }, true);
  }
  function tick() {
    const e = window.watchpartySync;
    const v = document.querySelector('#player video');
    if (e && v) {
      const t = now();
      const pos = v.currentTime;
      S.samples.push([t, pos, v.paused ? 1 : v.readyState < 3 ? 2 : 0, v.playbackRate,
        e.state ? (pos - e.expected(t)) * 1000 : 0, e.held ? 1 : 0]);
    }
    setTimeout(tick, 100);
  }
  setTimeout(tick, 100);
})();`

// probeJS reads one sample now, in a fresh task, on the machine's clock. It
// reads the <video>, or else a YouTube player straight through the IFrame
// API.
const probeJS = `new Promise((resolve) => setTimeout(() => {
  const e = window.watchpartySync;
  const v = document.querySelector('#player video');
  const yt = !v && e && e.adapter && e.adapter.kind === 'youtube' ? e.adapter.p : null;
  const t = window.__wpNow ? window.__wpNow() : performance.timeOrigin + performance.now();
  const pos = v ? v.currentTime : yt ? yt.getCurrentTime() : -1;
  const paused = v ? v.paused : yt ? yt.getPlayerState() !== 1 : true;
  const rate = v ? v.playbackRate : yt ? yt.getPlaybackRate() : 1;
  resolve({ t, pos, paused, rate,
    playing: !!(e && e.state && e.state.playing), held: !!(e && e.held), version: e && e.state ? e.state.version : 0,
    expected: e && e.state ? e.expected(t) : 0 });
}, 0))`

func addScript(src string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return err
	})
}

// Probe is one reading of a player.
type Probe struct {
	T        float64 `json:"t"`   // machine (and server) ms
	Pos      float64 `json:"pos"` // seconds
	Paused   bool    `json:"paused"`
	Rate     float64 `json:"rate"`
	Playing  bool    `json:"playing"` // the room's state, as this page knows it
	Held     bool    `json:"held"`
	Version  float64 `json:"version"`
	Expected float64 `json:"expected"` // the room's position at T
}

// At is the player's position extrapolated to server instant t (ms).
func (p Probe) At(t float64) float64 {
	if p.Paused {
		return p.Pos
	}
	return p.Pos + (t-p.T)/1000*p.Rate
}

// ProbeAll reads every window and returns each one's reading.
func ProbeAll(t testing.TB, ws []*browsertest.Window) []Probe {
	t.Helper()
	out := make([]Probe, len(ws))
	for i, w := range ws {
		out[i] = browsertest.EvalAsync[Probe](w, probeJS)
	}
	return out
}

// Spread is the largest distance in ms between two players' positions,
// compared at one server instant (the last reading's).
func Spread(ps []Probe) float64 {
	var at float64
	for _, p := range ps {
		at = math.Max(at, p.T)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		x := p.At(at)
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return (hi - lo) * 1000
}

// Sample is one row of a page's sampler: machine ms, position, paused (1)
// or playing without data (2: stalled) or playing (0), rate, the distance
// from the room's position on the machine's clock (ms), and whether the
// room was held.
type Sample [6]float64

// Event is a player event with its server instant.
type Event struct {
	Type string  `json:"type"`
	T    float64 `json:"t"`
}

// Recording is what one page's sampler collected.
type Recording struct {
	Samples []Sample         `json:"samples"`
	Events  []Event          `json:"events"`
	Log     []map[string]any `json:"log"` // the sync engine's own notes
	Clock   ClockInfo        `json:"clock"`
	Page    float64          `json:"page"` // machine ms the room page's HTML had arrived at
	// Nav is the page's navigation timing in machine ms: the request's
	// start, its first and last byte, and the document parsed
	// (domInteractive).
	Nav [4]float64 `json:"nav"`
	// Fetches are the page's requests: URL, start and end in machine ms.
	Fetches [][3]any `json:"fetches"`
	// Wire is what the player's shaper saw (shaped players only).
	Wire []WireEvent `json:"wire,omitempty"`
	// Media is Chromium's media log (the late joiner only).
	Media []MediaNote `json:"media,omitempty"`
}

// ClockInfo is a page's clock estimate at the end.
type ClockInfo struct {
	Offset float64 `json:"offset"` // the page's server time minus its local time, ms
	RTT    float64 `json:"rtt"`
	Source string  `json:"source"`
}

// Collect returns what the window's sampler recorded.
func Collect(t testing.TB, w *browsertest.Window) Recording {
	t.Helper()
	return browsertest.Eval[Recording](w, `(() => { const e = window.watchpartySync; const c = e && e.clock;
		const nav = performance.getEntriesByType("navigation")[0];
		return {...window.__wpSamples, log: e ? e.log : [],
			page: nav ? window.__wpNow() - performance.now() + nav.responseEnd : 0,
			nav: nav ? [nav.requestStart, nav.responseStart, nav.responseEnd, nav.domInteractive].map((x) => window.__wpNow() - performance.now() + x) : [0, 0, 0, 0],
			fetches: performance.getEntriesByType("resource").map((r) => [r.name,
				window.__wpNow() - performance.now() + r.startTime, window.__wpNow() - performance.now() + r.responseEnd]),
			clock: c ? { offset: c.offset, rtt: Number.isFinite(c.rtt()) ? c.rtt() : -1, source: c.source || "" } : {} }; })()`)
}

// machineNow returns the machine's clock, which the server and every page
// share (ms), read in window w.
func machineNow(t testing.TB, w *browsertest.Window) float64 {
	t.Helper()
	return browsertest.Eval[float64](w, `window.__wpNow()`)
}

// command sends a control command from window w, as its controls would, and
// returns the machine instant it was sent at.
func command(t testing.TB, w *browsertest.Window, kind string, arg ...float64) float64 {
	t.Helper()
	a := "undefined"
	if len(arg) > 0 {
		a = fmt.Sprint(arg[0])
	}
	return browsertest.Eval[float64](w, fmt.Sprintf(`(() => { const e = window.watchpartySync; const at = window.__wpNow(); e.command(%q, %s); return at; })()`, kind, a))
}
