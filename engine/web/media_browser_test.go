//go:build browser

package web_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
	"watchparty/engine/media/mediatest"
)

// ffmpegs counts the ffmpeg processes of the server whose data directory is
// dir (those reading a file handed to them as descriptor 3) whose command
// line holds every word of want.
func ffmpegs(dir string, want ...string) int { return len(ffmpegPIDs(dir, want...)) }

func ffmpegPIDs(dir string, want ...string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(raw) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(raw), "\x00", " ")
		// Only this server's: jobs write into its cache, under its data
		// directory (other packages' tests run ffmpeg at the same time).
		if !strings.Contains(cmd, dir+"/") {
			continue
		}
		if !strings.Contains(strings.Fields(cmd)[0], "ffmpeg") || !strings.Contains(cmd, "-segment_format") {
			continue
		}
		all := true
		for _, w := range want {
			all = all && strings.Contains(cmd, w)
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ffmpegRuns watches the server's ffmpeg processes like ffmpegs, from now
// until the returned function is called, which says how many ran in all
// and how many at most at once. (A short file's conversion may be over
// before a test looks: counting the running ones then would say none.)
func ffmpegRuns(dir string, want ...string) (stop func() (ran, most int)) {
	seen := map[int]bool{}
	done := make(chan struct{})
	var ran, most int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			pids := ffmpegPIDs(dir, want...)
			most = max(most, len(pids))
			for _, p := range pids {
				seen[p] = true
			}
			select {
			case <-done:
				ran = len(seen)
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return func() (int, int) {
		close(done)
		wg.Wait()
		return ran, most
	}
}

// mediaPlayer evaluates expr with p bound to the page's player.
func mediaPlayer[T any](w *browsertest.Window, expr string) T {
	return browsertest.EvalAsync[T](w, roomModule+`.then((m) => { const p = m.room.player; return `+expr+`; })`)
}

// positions samples every member's media position at one wall instant
// (tabs of one machine share the wall clock): each reads its position and
// the time it read it, and the positions are moved to the latest reading.
func positions(ws []*browsertest.Window) []float64 {
	type sample struct{ At, Pos float64 }
	var ss []sample
	for _, w := range ws {
		raw := browsertest.Eval[string](w, `(() => { const v = document.querySelector("#player video");
		  return JSON.stringify({at: performance.timeOrigin + performance.now(), pos: v ? v.currentTime : -1}); })()`)
		var s sample
		_ = json.Unmarshal([]byte(raw), &s)
		ss = append(ss, s)
	}
	last := 0.0
	for _, s := range ss {
		last = math.Max(last, s.At)
	}
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.Pos + (last-s.At)/1000
	}
	return out
}

func posSpread(ps []float64) float64 {
	lo, hi := ps[0], ps[0]
	for _, p := range ps {
		lo, hi = math.Min(lo, p), math.Max(hi, p)
	}
	return hi - lo
}

// skew samples the spread of positions n times, 200 ms apart, and returns
// the samples sorted.
func skew(ws []*browsertest.Window, n int) []float64 {
	var out []float64
	for i := 0; i < n; i++ {
		out = append(out, posSpread(positions(ws)))
		time.Sleep(200 * time.Millisecond)
	}
	sort.Float64s(out)
	return out
}

// settledSkew samples the members' spread as skew does, again and again
// until its median is within what the tests allow (250 ms) or 20 s have
// passed, and returns the last samples: a re-sync (a late join, a far
// seek, an audio switch) takes longer on a loaded machine, and the tests
// check that it ends in step, not how fast.
func settledSkew(ws []*browsertest.Window, n int) []float64 {
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := skew(ws, n)
		if s[len(s)/2] <= 0.25 || time.Now().After(deadline) {
			return s
		}
	}
}

func waitPlaying(t testing.TB, ws []*browsertest.Window, from float64) {
	t.Helper()
	for _, w := range ws {
		w.WaitJS(`(() => { const v = document.querySelector("#player video"); return v && !v.paused && v.readyState >= 3 && v.currentTime > ` +
			strconv.FormatFloat(from, 'f', 2, 64) + `; })()`)
	}
}

// waitDuration waits until every member's room knows the video's length
// (seconds, within 0.5 s): the players report it once they load it.
func waitDuration(t testing.TB, ws []*browsertest.Window, seconds int) {
	t.Helper()
	for _, w := range ws {
		w.WaitJS(`window.watchpartySync && Math.abs((window.watchpartySync.state?.duration ?? 0) - ` + strconv.Itoa(seconds) + `) < 0.5`)
	}
}

// playerState is a member's player and sync engine as JSON, for the log of
// a failed test.
const playerState = `JSON.stringify({src: p.el.dataset.src, ready: p.el.dataset.ready, paused: p.html?.paused, readyState: p.html?.readyState,
  at: p.html?.currentTime, buffered: p.html ? [...Array(p.html.buffered.length).keys()].map((i) => [p.html.buffered.start(i), p.html.buffered.end(i)]) : null,
  error: p.html?.error?.message, state: m.room.sync.state, pending: m.room.sync.pending, blocked: m.room.sync.blocked, held: m.room.sync.held})`

// TestBrowserTranscodedHLS: three members watch an HEVC Matroska file the
// server converts to HLS, in sync; a late joiner joins mid-film; a far seek
// restarts the conversion there; exactly one ffmpeg serves the room; on a
// file with two audio languages and two subtitle tracks a member switches
// both and stays in sync; the HEVC job ends when the room moves on.
func TestBrowserTranscodedHLS(t *testing.T) {
	dir := t.TempDir()
	mediatest.MakeSpec(t, dir, mediatest.HEVC, "films/hevc.mkv", mediatest.Spec{Seconds: 30})
	// Long enough that it is still playing when the last step measures,
	// however slow the machine is to start every member on it.
	mediatest.MakeSpec(t, dir, mediatest.Tracks, "films/tracks.mkv", mediatest.Spec{Seconds: 50})
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.Media.Dir = dir
		c.Media.Transcode.Renditions = []int{180, 90} // two conversions of the 180p file
	})
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "Films")
	users := []*apptest.User{ann}
	for _, name := range []string{"Bob", "Cat", "Dan"} {
		u := srv.SignUp(t, name)
		if resp, _ := u.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s joins: %s", name, resp.Status)
		}
		users = append(users, u)
	}
	host := browsertest.New(t, browsertest.WithName("host"), browsertest.WithFlag("lang", "en-US"))
	open := func(i int, name string) *browsertest.Window {
		tab := host.NewTab(t, browsertest.WithName(name), browsertest.WithRoomHooks())
		tab.SetCookie(srv.URL+"/", apptest.SessionCookie, users[i].Client.Cookie(apptest.SessionCookie))
		enterRoom(tab, srv.URL, code)
		return tab
	}
	wa, wb, wc := open(0, "ann"), open(1, "bob"), open(2, "cat")
	members := []*browsertest.Window{wa, wb, wc}

	// Watch: everyone's player loads the converted stream through hls.js.
	start := time.Now()
	converting := ffmpegRuns(srv.DataDir, "libx264")
	wa.Click("#tab-queue")
	wa.Fill("#queue-link", "media:films/hevc.mkv")
	wa.Click("#queue-watch")
	for _, w := range members {
		w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
		if !mediaPlayer[bool](w, `p.hls !== null && p.info.hls && p.info.mode === "transcode"`) {
			t.Fatalf("%s: the HEVC file does not play as converted HLS", w.Name())
		}
		// It plays the rendition the server suggests (hls.js orders its
		// levels by bitrate, the server tallest first).
		if got := mediaPlayer[string](w, `JSON.stringify([p.info.renditions, p.info.default, p.level(), p.hls.levels[p.hls.currentLevel]?.height])`); got != `[["180p","90p"],0,0,180]` {
			t.Fatalf("%s: renditions, suggested, chosen, playing height: %s", w.Name(), got)
		}
	}
	wa.Click("#play")
	waitPlaying(t, members, 0.5)
	t.Logf("figure: Watch to every member playing (HEVC 320x180, 3 members): %v", time.Since(start).Round(10*time.Millisecond))
	// One at a time (production may restart where the players ask).
	if ran, most := converting(); ran == 0 || most != 1 {
		t.Fatalf("%d ffmpeg processes, %d at once, for one room and rendition with 3 members", ran, most)
	}
	// The room learns the film's length from the players (it ends the
	// film and moves on by it).
	waitDuration(t, members, 30)
	s1 := settledSkew(members, 15)
	t.Logf("figure: skew of 3 members on converted HLS: p50 %.0f ms, max %.0f ms", s1[len(s1)/2]*1000, s1[len(s1)-1]*1000)

	// A late joiner joins mid-film and comes into step.
	wd := open(3, "dan")
	all := append(members, wd)
	wd.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	waitPlaying(t, []*browsertest.Window{wd}, 1)
	s2 := settledSkew(all, 10)
	t.Logf("figure: skew with a late joiner: p50 %.0f ms, max %.0f ms", s2[len(s2)/2]*1000, s2[len(s2)-1]*1000)
	if n := ffmpegs(srv.DataDir, "libx264"); n > 1 {
		t.Fatalf("%d ffmpeg processes after a fourth member joined", n)
	}

	// A far seek: production restarts there; everyone plays on from it.
	browsertest.EvalAsync[any](wa, roomModule+`.then((m) => { m.room.sync.command("seek", 24); return null; })`)
	waitPlaying(t, all, 24.2)
	s3 := settledSkew(all, 8)
	t.Logf("figure: skew after a far seek: p50 %.0f ms, max %.0f ms", s3[len(s3)/2]*1000, s3[len(s3)-1]*1000)
	if n := ffmpegs(srv.DataDir, "libx264"); n > 1 {
		t.Fatalf("%d ffmpeg processes after a far seek", n)
	}
	for _, s := range [][]float64{s1, s2, s3} {
		if med := s[len(s)/2]; med > 0.25 {
			t.Errorf("members drift apart on converted HLS: median skew %.0f ms", med*1000)
		}
	}

	// What each member's player and sync engine did from here on goes
	// to the log if the test fails.
	for _, w := range all {
		startTrace(w)
	}
	traceFrom := float64(time.Now().UnixNano()) / 1e6
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("members from the file switch on:\n%s", formatTrace(traceFrom, nil, all))
			for _, w := range all {
				t.Logf("%s: %s", w.Name(), mediaPlayer[string](w, playerState))
			}
		}
	})
	// The room moves on to a file with two audio languages and two
	// subtitle tracks (copied video, so no libx264): the HEVC job ends.
	wa.Fill("#queue-link", "media:films/tracks.mkv")
	wa.Click("#queue-watch")
	for _, w := range all {
		w.WaitJS(`document.querySelector("#player").dataset.src === "media:films/tracks.mkv" && document.querySelector("#player").dataset.ready === "1"`)
	}
	deadline := time.Now().Add(15 * time.Second)
	for ffmpegs(srv.DataDir, "libx264") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the HEVC conversion still runs after the room moved on")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The room was playing, so the next video plays at once.
	waitPlaying(t, all, 0.5)
	waitDuration(t, all, 50)

	// Bob picks German audio and the French subtitles: only his player
	// changes, and he stays with the others.
	wb.WaitJS(`!document.querySelector("#audio-wrap").hidden && document.querySelector("#audio-track").options.length === 2`)
	if got := browsertest.Eval[string](wb, `[...document.querySelector("#audio-track").options].map(o => o.textContent).join(",")`); got != "English,Deutsch" {
		t.Fatalf("audio choices %q", got)
	}
	wb.Do("pick German audio", chromedpSelect("#audio-track", "1"))
	wb.WaitJS(`document.querySelector("#audio-track").value === "1"`)
	if !mediaPlayer[bool](wb, `p.hls.audioTrack === 1 && p.hls.audioTracks[1].name === "Deutsch"`) {
		t.Fatal("Bob's player did not switch to the German audio")
	}
	fr := browsertest.Eval[string](wb, `String([...document.querySelector("#captions").options].find(o => o.textContent === "Français")?.value ?? "")`)
	if fr == "" {
		t.Fatalf("no French subtitles among %s", browsertest.Eval[string](wb, `[...document.querySelector("#captions").options].map(o => o.textContent).join(",")`))
	}
	wb.Do("pick French subtitles", chromedpSelect("#captions", fr))
	wb.WaitJS(`(() => { const tr = document.querySelector("#player video").textTracks[` + fr + `];
	  return tr.mode === "showing" && tr.activeCues && tr.activeCues.length > 0 && tr.activeCues[0].text.includes("Ligne française"); })()`)
	if mediaPlayer[int](wa, `p.hls.audioTrack`) != 0 {
		t.Error("Ann's audio changed with Bob's choice")
	}
	s4 := settledSkew(all, 8)
	// The skew was taken on running players, not on players stopped at
	// the end.
	waitPlaying(t, all, 1)
	t.Logf("figure: skew after one member switched audio and subtitles: p50 %.0f ms, max %.0f ms", s4[len(s4)/2]*1000, s4[len(s4)-1]*1000)
	if med := s4[len(s4)/2]; med > 0.25 {
		t.Errorf("the member who switched audio left sync: median skew %.0f ms", med*1000)
	}
	for _, w := range all {
		for _, e := range w.Errors() {
			t.Errorf("%s: %s", w.Name(), e)
		}
	}
}
