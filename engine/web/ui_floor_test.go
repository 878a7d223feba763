//go:build browser

package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"watchparty/engine/browsertest"
)

// BenchmarkPageFloor measures, with the room figures' code, what headless
// Chromium on this machine gives any page: a page of one <h1> (from a
// plain net/http server on loopback), the server's refusal page (the
// layout and its stylesheet) and the room, loaded in turn in ready tabs
// with a cold cache (ROOM_LOADS each, 5 by default). It reports the medians
// of the first contentful paint, the end of the first frame, and the
// document's DOMContentLoaded and load events; for the room also its time
// to interactive and the end of the first frame after it. With
// FLOOR_FROM=blank each load starts from about:blank instead (a new
// renderer for the site). ROOM_TRACE_DIR saves a trace of each counted load
// (with the categories frameParts reads), and ROOM_TRACE_CATEGORIES adds
// more (comma-separated):
//
//	go test -tags browser ./engine/web -run '^$' -bench PageFloor -benchtime 1x
func BenchmarkPageFloor(b *testing.B) {
	for i := 0; i < b.N; i++ {
		pageFloor(b)
	}
}

func pageFloor(b *testing.B) {
	h1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" { // the ready tab's page, plain text as the server's
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Floor</title><h1>A page of one heading</h1></html>"))
	}))
	defer h1.Close()
	rig := newUIRig(b, nil)
	ann := rig.srv.SignUp(b, "Ann")
	code := createRoom(b, ann.Client, "Figures")
	n := 5
	if v, err := strconv.Atoi(os.Getenv("ROOM_LOADS")); err == nil && v > 0 {
		n = v
	}
	pages := []struct{ name, base, path string }{
		{"h1", h1.URL, "/page"},
		{"refusal", rig.srv.URL, "/r/ZZZZZZZZZZ"}, // no such room
		{"room", rig.srv.URL, "/r/" + code},
	}
	got := map[string][]pageTiming{}
	for j := 0; j <= n; j++ {
		for _, p := range pages {
			w := rig.person(b, p.name+itoa(j), ann, 1366, 800)
			if os.Getenv("FLOOR_FROM") != "blank" {
				readyTab(w, p.base)
			}
			probeFrames(w)
			loadTraced(b, w, j > 0, func() {
				if p.name == "room" {
					enterRoom(w, p.base, code)
				} else {
					w.Navigate(p.base + p.path)
				}
			})
			t := browsertest.EvalAsync[pageTiming](w, pageTimes)
			w.Navigate("about:blank")
			if j > 0 { // the first round warms the server's compressed files
				got[p.name] = append(got[p.name], t)
			}
		}
	}
	for _, p := range pages {
		var fcp, frame, dcl, load, tti, painted []float64
		for _, t := range got[p.name] {
			fcp, frame, dcl, load = append(fcp, t.FCP), append(frame, t.Frame), append(dcl, t.DCL), append(load, t.Load)
			tti, painted = append(tti, t.TTI), append(painted, t.Painted)
		}
		b.ReportMetric(median(fcp), p.name+"_fcp_ms")
		b.ReportMetric(median(frame), p.name+"_first_frame_ms")
		b.ReportMetric(median(dcl), p.name+"_dcl_ms")
		b.ReportMetric(median(load), p.name+"_load_ms")
		if p.name == "room" {
			b.ReportMetric(median(tti), "room_tti_ms")
			b.ReportMetric(median(painted), "room_tti_painted_ms")
		}
	}
}

// pageTiming is what pageTimes reads.
type pageTiming struct {
	FCP, Frame, DCL, Load, TTI, Painted float64
}

// pageTimes reads a page's times from its navigation start, a moment after
// its load event.
const pageTimes = `(async () => {
  await new Promise((r) => (document.readyState === "complete" ? r() : addEventListener("load", r)));
  await new Promise((r) => setTimeout(r, 300));
  const nav = performance.getEntriesByType("navigation")[0];
  const at = (n) => (performance.getEntriesByName(n)[0] || { startTime: 0 }).startTime;
  return { fcp: at("first-contentful-paint"), frame: at("probe:frame"), dcl: nav.domContentLoadedEventStart,
    load: nav.loadEventStart, tti: at("room:interactive"), painted: at("probe:painted") };
})()`
