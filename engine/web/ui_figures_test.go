//go:build browser

package web_test

import (
	"regexp"
	"sort"
	"testing"
	"time"

	"watchparty/engine/browsertest"
)

// BenchmarkRoomFigures measures the room page in real Chromium on loopback
// (docs/room-ui.md). Run it once:
//
//	go test ./engine/web -run '^$' -bench RoomFigures -benchtime 1x
//
// It reports: the time from opening an invite link without an account to
// the room's video playing in sync on that screen (typing the name and one
// click included); the room page's weight (HTML, scripts and styles as
// transferred, compressed) and its time to interactive (navigation start to
// the first rendered hello); and input-to-paint on the sender's own screen
// for a chat line (Enter) and for play/pause (a click), p50 and max of 20;
// and the page's main-thread CPU time to interactive, all and style plus
// layout, from a Chromium trace (new tab, second visit): a figure the
// machine's load hardly moves.
func BenchmarkRoomFigures(b *testing.B) {
	for i := 0; i < b.N; i++ {
		roomFigures(b)
	}
}

func roomFigures(b *testing.B) {
	rig := newUIRig(b, nil)
	ann := rig.srv.SignUp(b, "Ann")
	code := createRoom(b, ann.Client, "Figures")
	_, page := ann.Client.Get(b, "/r/"+code)
	invite := rig.srv.URL + regexp.MustCompile(`/i/[A-Za-z0-9_-]+`).FindString(page)

	wa := rig.person(b, "ann", ann, 1366, 800)
	enterRoom(wa, rig.srv.URL, code)
	playLibraryClip(wa)

	// ---- page weight and time to interactive, cold cache ----
	type weight struct {
		HTML, Scripts, Styles, Raw int
		TTI                        float64
	}
	w := browsertest.EvalAsync[weight](wa, `(async () => {
	  await new Promise((r) => setTimeout(r, 500));
	  const nav = performance.getEntriesByType("navigation")[0];
	  const res = performance.getEntriesByType("resource");
	  const sum = (f) => res.filter(f).reduce((n, e) => n + e.transferSize, 0);
	  const raw = nav.decodedBodySize + res.filter((e) => /\.(js|mjs|css)(\?|$)/.test(e.name)).reduce((n, e) => n + e.decodedBodySize, 0);
	  return { html: nav.transferSize, scripts: sum((e) => /\.m?js(\?|$)/.test(e.name)), styles: sum((e) => /\.css(\?|$)/.test(e.name)), raw,
	    tti: performance.getEntriesByName("room:interactive")[0].startTime };
	})()`)
	b.ReportMetric(float64(w.HTML+w.Scripts+w.Styles)/1024, "page_KB_compressed")
	b.ReportMetric(float64(w.Raw)/1024, "page_KB_raw")
	b.ReportMetric(w.TTI, "tti_ms")
	// Again with the browser's cache (a second visit).
	enterRoom(wa, rig.srv.URL, code)
	b.ReportMetric(browsertest.Eval[float64](wa, `performance.getEntriesByName("room:interactive")[0].startTime`), "tti_warm_ms")
	wa.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)

	// Play, so that the guest joins a running video.
	wa.Press("k")
	wa.WaitJS(`!document.querySelector("#player video").paused`)

	// ---- invite link to the video playing in sync, no account ----
	gus := rig.person(b, "gus", nil, 1366, 800)
	start := time.Now()
	gus.Navigate(invite)
	gus.Fill("#guest-name", "Gus")
	gus.ClickNavigate(`main form button[type=submit]`)
	gus.Timeout = 30 * time.Second
	gus.WaitJS(`(document.querySelector("#conn-state") || {dataset: {}}).dataset.state === "open"`)
	browsertest.EvalAsync[bool](gus, roomModule+`.then((m) => { window.__sync = m.room.sync; return true; })`)
	gus.WaitJS(`(() => { const s = window.__sync, v = document.querySelector("#player video");
	  return !!(v && !v.paused && v.currentTime > 0 && s.state && s.state.playing && Number.isFinite(s.drift) && Math.abs(s.drift) < 100); })()`)
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "invite_to_sync_ms")

	// ---- input to paint: chat (Enter) and play/pause (click) ----
	const probe = `window.__paints = []; window.__t0 = 0;
	  const painted = () => new Promise((r) => requestAnimationFrame(() => { const ch = new MessageChannel(); ch.port1.onmessage = () => r(performance.now()); ch.port2.postMessage(0); }));
	  document.querySelector("#chat-input").addEventListener("keydown", (e) => { if (e.key === "Enter") window.__t0 = e.timeStamp; }, true);
	  document.querySelector("#play").addEventListener("pointerdown", (e) => { window.__t0 = e.timeStamp; }, true);
	  new MutationObserver(() => { if (window.__t0) { const t0 = window.__t0; window.__t0 = 0; painted().then((t) => window.__paints.push(t - t0)); } })
	    .observe(document.querySelector("#chat-log"), { childList: true });
	  new MutationObserver(() => { if (window.__t0) { const t0 = window.__t0; window.__t0 = 0; painted().then((t) => window.__paints.push(t - t0)); } })
	    .observe(document.querySelector("#play"), { attributes: true, attributeFilter: ["aria-label"] });`
	wa.Do("probe paints", chromedpEval(probe))
	for i := 0; i < 20; i++ {
		wa.Fill("#chat-input", "line "+string(rune('a'+i)))
		wa.Press("\r")
		wa.WaitJS(`window.__paints.length === ` + itoa(i+1))
	}
	chat := browsertest.Eval[[]float64](wa, `window.__paints.splice(0)`)
	for i := 0; i < 20; i++ {
		wa.Click("#play")
		wa.WaitJS(`window.__paints.length === ` + itoa(i+1))
		time.Sleep(300 * time.Millisecond) // let the room's answer arrive before the next click
	}
	play := browsertest.Eval[[]float64](wa, `window.__paints.splice(0)`)
	p50, max := spread(chat)
	b.ReportMetric(p50, "chat_paint_p50_ms")
	b.ReportMetric(max, "chat_paint_max_ms")
	p50, max = spread(play)
	b.ReportMetric(p50, "play_paint_p50_ms")
	b.ReportMetric(max, "play_paint_max_ms")

	// ---- the page's main-thread CPU time to interactive, in a new tab and on a second visit ----
	tr := rig.person(b, "trace", ann, 1366, 800)
	cpu, style := loadCPU(b, tr, rig.srv.URL, code)
	b.ReportMetric(cpu, "tti_cpu_ms")
	b.ReportMetric(style, "tti_style_layout_cpu_ms")
	cpu, style = loadCPU(b, tr, rig.srv.URL, code)
	b.ReportMetric(cpu, "tti_warm_cpu_ms")
	b.ReportMetric(style, "tti_warm_style_layout_cpu_ms")
}

func spread(xs []float64) (p50, max float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2], s[len(s)-1]
}

func itoa(n int) string { return jsNumber(float64(n)) }
