//go:build browser

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"watchparty/engine/browsertest"
)

// traceEvent is one event of a Chromium trace (the Trace Event Format).
type traceEvent struct {
	Name string          `json:"name"`
	Ph   string          `json:"ph"`
	Ts   float64         `json:"ts"`   // µs
	Dur  float64         `json:"dur"`  // µs, wall
	Tdur float64         `json:"tdur"` // µs, the thread's CPU time
	Pid  int             `json:"pid"`
	Tid  int             `json:"tid"`
	Args json.RawMessage `json:"args"`
}

// loadCPU opens the room code in w under a Chromium trace and returns the
// CPU time of the page's main thread from navigation start to the
// "room:interactive" mark, in ms: all of it, and the part spent on style and
// layout. Unlike the wall-clock time to interactive, it hardly moves with
// the machine's load, so it shows what a change to the page costs or saves.
func loadCPU(tb testing.TB, w *browsertest.Window, base, code string) (total, styleLayout float64) {
	tb.Helper()
	events := traceDuring(tb, w, true, func() { enterRoom(w, base, code) })
	// The room's "room:interactive" mark, its renderer's main thread, and
	// the document's navigation start: the mark's startTime is from it (the
	// navigationStart event no longer names the URL).
	var start, end float64
	pid := 0
	for _, e := range events {
		var mark struct {
			Data struct {
				StartTime float64 `json:"startTime"`
			} `json:"data"`
		}
		if e.Name == "room:interactive" && end == 0 && json.Unmarshal(e.Args, &mark) == nil && mark.Data.StartTime > 0 {
			end, pid = e.Ts, e.Pid
			start = end - mark.Data.StartTime*1000
		}
	}
	main := map[int]bool{}
	for _, e := range events {
		if e.Pid == pid && e.Ph == "M" && e.Name == "thread_name" && strings.Contains(string(e.Args), `"CrRendererMain"`) {
			main[e.Tid] = true
		}
	}
	if pid == 0 || end == 0 {
		tb.Fatalf("trace: no room:interactive mark of room %s in %d events", code, len(events))
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Ts < events[j].Ts })
	top := 0.0 // end of the current top-level task
	for _, e := range events {
		if e.Pid != pid || !main[e.Tid] || e.Ph != "X" || e.Ts < start || e.Ts > end {
			continue
		}
		if e.Ts >= top {
			total += e.Tdur / 1000
			top = e.Ts + e.Dur
		} else if e.Name == "UpdateLayoutTree" || e.Name == "Layout" {
			styleLayout += e.Tdur / 1000
		}
	}
	return total, styleLayout
}

// traceDuring runs fn under a Chromium trace of w's browser and returns its
// events (saved to $ROOM_TRACE_DIR when set, with the scripts sampled when
// js is true).
func traceDuring(tb testing.TB, w *browsertest.Window, js bool, fn func()) []traceEvent {
	tb.Helper()
	var mu sync.Mutex
	var events []traceEvent
	var raw []json.RawMessage
	done := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(w.Context())
	defer cancel()
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			defer mu.Unlock()
			for _, v := range e.Value {
				var x traceEvent
				if b, err := json.Marshal(v); err == nil && json.Unmarshal(b, &x) == nil {
					events = append(events, x)
					raw = append(raw, b)
				}
			}
		case *tracing.EventTracingComplete:
			once.Do(func() { close(done) })
		}
	}); err != nil {
		tb.Fatalf("trace: %v", err)
	}
	categories := []string{"devtools.timeline", "loading", "blink.user_timing", "disabled-by-default-devtools.timeline"}
	if !js {
		// What the first frame waits for: the parser's last task, font
		// lookups, raster and draw (frameParts).
		categories = append(categories, "blink", "fonts", "navigation", "cc", "viz")
	}
	if js && os.Getenv("ROOM_TRACE_DIR") != "" {
		// Saved traces sample the scripts too (the CPU profile under
		// DevTools' Bottom-Up); it costs CPU, so not for the figures.
		categories = append(categories, "disabled-by-default-v8.cpu_profiler")
	}
	if more := os.Getenv("ROOM_TRACE_CATEGORIES"); more != "" {
		categories = append(categories, strings.Split(more, ",")...)
	}
	w.Do("start a trace", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, tracing.Start, tracing.StartParams{TraceConfig: &tracing.TraceConfig{
			IncludedCategories: categories,
		}})
		return err
	}))
	fn()
	time.Sleep(200 * time.Millisecond) // the renderer hands its trace events over in batches
	w.Do("end the trace", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, tracing.End, cdp.Empty{})
		return err
	}))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		tb.Fatal("trace: not complete after 30 s")
	}
	mu.Lock()
	defer mu.Unlock()
	saveTrace(tb, raw)
	return events
}

// saveTrace writes the trace's events to $ROOM_TRACE_DIR (when set) as a
// file that chrome://tracing and the DevTools performance panel open.
func saveTrace(tb testing.TB, events []json.RawMessage) {
	dir := os.Getenv("ROOM_TRACE_DIR")
	if dir == "" {
		return
	}
	b, err := json.Marshal(map[string]any{"traceEvents": events})
	if err == nil {
		path := filepath.Join(dir, fmt.Sprintf("room-%d.json", time.Now().UnixMilli()))
		err = os.WriteFile(path, b, 0o644)
		tb.Logf("trace: %s", path)
	}
	if err != nil {
		tb.Errorf("trace: %v", err)
	}
}

// frameParts reads from a traced page load what its first frame and the
// first contentful paint (fcp, ms from navigation start) waited for, in ms
// (wall clock, and the thread's CPU where it says cpu): the parser's last
// task (Document::FinishedParsing: DOMContentLoaded, the forced style and
// layout, the browser's DOMContentLoaded observers, the load event), the
// layout before the first frame and the font lookups in it (synchronous
// calls to the browser), the first frame's main-thread work, and from the
// first frame to fcp the tiles rastered and the software draws. The page's
// timeline comes from paintedProbe's "probe:frame" mark.
func frameParts(tb testing.TB, events []traceEvent, fcp float64) map[string]float64 {
	tb.Helper()
	sort.Slice(events, func(i, j int) bool { return events[i].Ts < events[j].Ts })
	var nav, frame float64
	pid, tid := 0, 0
	for _, e := range events {
		var mark struct {
			Data struct {
				StartTime float64 `json:"startTime"`
			} `json:"data"`
		}
		if e.Name == "probe:frame" && pid == 0 && json.Unmarshal(e.Args, &mark) == nil {
			frame, pid, tid = mark.Data.StartTime, e.Pid, e.Tid
			nav = e.Ts/1000 - frame
		}
	}
	if pid == 0 {
		tb.Errorf("trace: no probe:frame mark in %d events", len(events))
		return nil
	}
	p := map[string]float64{}
	add := func(name string, e traceEvent) {
		p["trace_"+name+"_ms"] += e.Dur / 1000
		p["trace_"+name+"_cpu_ms"] += e.Tdur / 1000
	}
	fontEnd, first := 0.0, traceEvent{}
	for _, e := range events {
		t := e.Ts/1000 - nav
		if e.Ph != "X" || t < 0 {
			continue
		}
		main := e.Pid == pid && e.Tid == tid && t < frame
		switch {
		case main && e.Name == "Document::FinishedParsing" && e.Dur/1000 > p["trace_finished_parsing_ms"]:
			p["trace_finished_parsing_ms"], p["trace_finished_parsing_cpu_ms"] = e.Dur/1000, e.Tdur/1000
		case main && e.Name == "Layout":
			add("layout", e)
		case main && e.Name == "FontCache::GetFontPlatformData" && e.Ts >= fontEnd:
			fontEnd = e.Ts + e.Dur // the outermost call only
			p["trace_font_lookups"]++
			p["trace_font_lookups_ms"] += e.Dur / 1000
		case main && e.Name == "ProxyMain::BeginMainFrame":
			first = e // the last one before probe:frame is the first frame's
		case e.Pid == pid && e.Name == "RasterTask" && t >= frame-2 && t < fcp:
			p["trace_raster_tiles"]++
			add("raster", e)
		case e.Name == "Display::DrawAndSwap" && t >= frame-2 && t < fcp:
			add("draw", e)
		}
	}
	add("first_frame", first)
	return p
}
