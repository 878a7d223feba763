//go:build browser

package web_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"watchparty/engine/browsertest"
)

// startTrace marks, in a member's page, when its <video> and hls.js reach
// each step of starting a new video, and when each media request was made
// and answered; readTrace returns those marks.
func startTrace(w *browsertest.Window) {
	browsertest.EvalAsync[bool](w, roomModule+`.then((m) => { window.trace = []; const T = () => performance.timeOrigin + performance.now();
	  const mark = (what, extra) => window.trace.push({what, at: T(), ...extra});
	  for (const ev of ["loadstart", "loadedmetadata", "loadeddata", "canplay", "play", "playing", "waiting", "seeking", "seeked"])
	    document.addEventListener(ev, (e) => { if (e.target.tagName === "VIDEO") mark("video " + ev, {t: e.target.currentTime}); }, true);
	  performance.setResourceTimingBufferSize(5000);
	  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.name.includes("/media/"))
	    window.trace.push({what: "get " + new URL(e.name).pathname.replace(/.*\/media\//, ""), at: performance.timeOrigin + e.startTime,
	      first: performance.timeOrigin + e.responseStart, end: performance.timeOrigin + e.responseEnd}); }).observe({type: "resource"});
	  let seen = null;
	  setInterval(() => { const h = m.room.player.hls; if (!h || h === seen) return; seen = h; const E = h.constructor.Events;
	    for (const ev of ["MANIFEST_PARSED", "LEVEL_LOADED", "AUDIO_TRACK_LOADED", "FRAG_LOADING", "FRAG_LOADED", "FRAG_BUFFERED", "ERROR"])
	      h.on(E[ev], (_, d) => mark("hls " + ev, {sn: d?.frag?.sn ?? null, type: String(d?.frag?.type ?? ""), details: String(d?.details ?? "")})); }, 2);
	  const s = m.room.sync; window.syncFrom = s.log.length; return true; })`)
}

type traceMark struct {
	What   string   `json:"what"`
	At     float64  `json:"at"`
	First  float64  `json:"first"`
	End    float64  `json:"end"`
	T      *float64 `json:"t"`
	SN     any      `json:"sn"`
	Type   string   `json:"type"`
	Detail string   `json:"details"`
}

func readTrace(w *browsertest.Window) []traceMark {
	raw := browsertest.EvalAsync[string](w, roomModule+`.then((m) => { const s = m.room.sync;
	  const log = s.log.slice(window.syncFrom).map((e) => ({at: e.at, what: "sync " + e.what + " " + JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k, v]) => k !== "what" && k !== "at" && (typeof v !== "object" || v === null)).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 1000) / 1000 : v])))}));
	  return JSON.stringify(window.trace.concat(log)); })`)
	var out []traceMark
	_ = json.Unmarshal([]byte(raw), &out)
	sort.Slice(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// serverTrace notes when the server's ffmpeg starts and when its first
// segments appear in its run folder and in the cache.
type serverTrace struct {
	mu    sync.Mutex
	first map[string]float64
	stop  chan struct{}
	done  chan struct{}
}

func watchServer(dataDir string) *serverTrace {
	st := &serverTrace{first: map[string]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	now := func() float64 { return float64(time.Now().UnixNano()) / 1e6 }
	note := func(k string) {
		st.mu.Lock()
		if _, ok := st.first[k]; !ok {
			st.first[k] = now()
		}
		st.mu.Unlock()
	}
	go func() {
		defer close(st.done)
		for {
			select {
			case <-st.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if ffmpegs(dataDir, "libx264") > 0 {
				note("ffmpeg running")
			}
			_ = filepath.WalkDir(filepath.Join(dataDir, "media-cache"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				b := filepath.Base(p)
				switch {
				case strings.Contains(p, "/run-") && (b == "v00000.ts" || b == "v00001.ts" || b == "v00002.ts" || b == "a0_00000.ts" || b == "a0_00001.ts"):
					note("run " + b + " appears")
				case strings.Contains(p, "/jobs/") && (b == "00000.ts" || b == "00001.ts"):
					note("cache " + filepath.Base(filepath.Dir(p)) + "/" + b)
				}
				return nil
			})
		}
	}()
	return st
}

func (st *serverTrace) end() map[string]float64 {
	close(st.stop)
	<-st.done
	return st.first
}

func formatTrace(t0 float64, server map[string]float64, members []*browsertest.Window) string {
	var b strings.Builder
	type kv struct {
		k string
		v float64
	}
	var ss []kv
	for k, v := range server {
		ss = append(ss, kv{k, v})
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].v < ss[j].v })
	b.WriteString("server:\n")
	for _, e := range ss {
		fmt.Fprintf(&b, "  %7.0f  %s\n", e.v-t0, e.k)
	}
	for _, w := range members {
		fmt.Fprintf(&b, "%s:\n", w.Name())
		for _, m := range readTrace(w) {
			if m.At < t0-50 {
				continue
			}
			extra := ""
			if m.End > 0 {
				extra = fmt.Sprintf(" first byte %.0f, done %.0f", m.First-t0, m.End-t0)
			}
			if m.T != nil {
				extra += fmt.Sprintf(" t=%.3f", *m.T)
			}
			if m.SN != nil {
				extra += fmt.Sprintf(" sn=%v %s", m.SN, m.Type)
			}
			if m.Detail != "" {
				extra += " " + m.Detail
			}
			fmt.Fprintf(&b, "  %7.0f  %s%s\n", m.At-t0, m.What, extra)
		}
	}
	return b.String()
}
