//go:build browser

package web_test

import (
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/procstat"
)

// BenchmarkMediaFigures measures the media library's playback in real
// Chromium on loopback, three members in one room (docs/media.md). Run it
// once:
//
//	go test -tags browser ./engine/web -run '^$' -bench MediaFigures -benchtime 1x
//
// It reports, each with the one-minute load average: the sync skew of the
// three members on a 720p H.264 mp4 played as it is (p50 and max of 20
// samples, 200 ms apart); the time from the owner's click on Watch in the
// Library pane on a 720p HEVC Matroska file, while the room plays, to every
// member's video playing (the server converts it to HLS); the skew on that
// converted stream, same run, same members; and the server's CPU and
// resident memory per extra member on the converted stream (three members
// against one, 8 s each), with ffmpeg's CPU apart.
func BenchmarkMediaFigures(b *testing.B) {
	for i := 0; i < b.N; i++ {
		mediaFigures(b)
	}
}

// ffmpegCPU is the CPU time, in seconds, of the live ffmpeg processes of
// the server whose data directory is dir, plus that of the ones already
// waited for.
func ffmpegCPU(dir string) float64 {
	sum := procstat.ChildrenCPU()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmd), "ffmpeg") && strings.Contains(string(cmd), dir+"/") {
			sum += procstat.CPUTime(pid)
		}
	}
	return sum.Seconds()
}

// serverCPU is the CPU time of this process, where the server runs, in
// seconds.
func serverCPU() float64 { return procstat.CPUTime(os.Getpid()).Seconds() }

// rssKB is this process's resident memory in kB.
func rssKB() float64 { return float64(procstat.RSS(os.Getpid())) / 1024 }

// markPlaying makes the page note the wall instant its player first plays
// src with its position moving.
func markPlaying(w *browsertest.Window, src string) {
	browsertest.Eval[bool](w, `(() => { window.playingAt = 0; let last = -1;
	  const iv = setInterval(() => { const p = document.querySelector("#player"); const v = p.querySelector("video");
	    if (p.dataset.src !== `+strconv.Quote(src)+` || !v || v.paused || v.readyState < 3) { last = -1; return; }
	    if (last >= 0 && v.currentTime > last) { window.playingAt = performance.timeOrigin + performance.now(); clearInterval(iv); }
	    last = v.currentTime; }, 5);
	  return true; })()`)
}

func mediaFigures(b *testing.B) {
	dir := b.TempDir()
	spec := mediatest.Spec{Seconds: 45, Width: 1280, Height: 720, FPS: 25}
	mediatest.MakeSpec(b, dir, mediatest.HEVC, "hevc720.mkv", spec)
	mediatest.MakeSpec(b, dir, mediatest.MP4, "direct720.mp4", spec)
	srv := apptest.StartServer(b, func(c *config.Config) { c.Media.Dir = dir })
	ann := srv.SignUp(b, "Ann")
	code := createRoom(b, ann.Client, "Figures")
	users := []*apptest.User{ann}
	for _, name := range []string{"Bob", "Cat"} {
		u := srv.SignUp(b, name)
		if resp, _ := u.Client.PostForm(b, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("%s joins: %s", name, resp.Status)
		}
		users = append(users, u)
	}
	host := browsertest.New(b, browsertest.WithName("host"), browsertest.WithFlag("lang", "en-US"))
	var members []*browsertest.Window
	for i, name := range []string{"ann", "bob", "cat"} {
		tab := host.NewTab(b, browsertest.WithName(name))
		tab.SetCookie(srv.URL+"/", apptest.SessionCookie, users[i].Client.Cookie(apptest.SessionCookie))
		enterRoom(tab, srv.URL, code)
		members = append(members, tab)
	}
	wa := members[0]
	wa.Click("#tab-library")
	for _, f := range []string{"hevc720.mkv", "direct720.mp4"} {
		wa.WaitJS(`(document.querySelector('` + libRow(f, ".lib-badge") + `') || {}).textContent.length > 0 &&
		  !document.querySelector('` + libRow(f, ".lib-badge") + `').classList.contains("mode-probing")`)
	}

	// The direct file: everyone plays it; the skew on it.
	wa.Click(libRow("direct720.mp4", `button[aria-label="Watch direct720.mp4"]`))
	for _, w := range members {
		w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	}
	wa.Click("#play")
	waitPlaying(b, members, 1)
	time.Sleep(3 * time.Second)
	direct := skew(members, 20)

	// Watch on the HEVC file while the room plays: it plays on at once,
	// converted.
	for _, w := range members {
		markPlaying(w, "media:hevc720.mkv")
		startTrace(w)
	}
	load0 := procstat.LoadAvg()
	st := watchServer(srv.DataDir)
	t0 := browsertest.Eval[float64](wa, `(() => { const t = performance.timeOrigin + performance.now();
	  document.querySelector('`+libRow("hevc720.mkv", `button[aria-label="Watch hevc720.mkv"]`)+`').click(); return t; })()`)
	last := 0.0
	for _, w := range members {
		w.WaitJS(`window.playingAt > 0`)
		last = max(last, browsertest.Eval[float64](w, `window.playingAt`))
	}
	watchMS := last - t0
	b.Logf("start of the converted video, ms from the click:\n%s", formatTrace(t0, st.end(), members))
	if !mediaPlayer[bool](wa, `p.info.hls && p.info.mode === "transcode"`) {
		b.Fatal("the HEVC file does not play converted")
	}
	time.Sleep(3 * time.Second)
	hls := skew(members, 20)

	// CPU and memory: three members, then one.
	window := func() (server, ff, rss float64) {
		runtime.GC()
		s0, f0 := serverCPU(), ffmpegCPU(srv.DataDir)
		time.Sleep(8 * time.Second)
		runtime.GC()
		return (serverCPU() - s0) / 8, (ffmpegCPU(srv.DataDir) - f0) / 8, rssKB()
	}
	s3, f3, r3 := window()
	for _, w := range members[1:] {
		w.Navigate("about:blank") // leaves the room
	}
	time.Sleep(2 * time.Second)
	s1, f1, r1 := window()
	if n := ffmpegs(srv.DataDir, "libx264"); n > 1 {
		b.Errorf("%d ffmpeg processes for one room", n)
	}

	b.ReportMetric(direct[len(direct)/2]*1000, "skew_direct_p50_ms")
	b.ReportMetric(direct[len(direct)-1]*1000, "skew_direct_max_ms")
	b.ReportMetric(watchMS, "watch_to_all_playing_ms")
	b.ReportMetric(hls[len(hls)/2]*1000, "skew_hls_p50_ms")
	b.ReportMetric(hls[len(hls)-1]*1000, "skew_hls_max_ms")
	b.ReportMetric((s3-s1)/2*100, "server_cpu_pct_per_extra_member")
	b.ReportMetric((r3-r1)/2/1024, "rss_MB_per_extra_member")
	b.ReportMetric(procstat.LoadAvg(), "load1")
	b.Logf("direct 720p mp4, 3 members: skew p50 %.0f ms, max %.0f ms", direct[len(direct)/2]*1000, direct[len(direct)-1]*1000)
	b.Logf("Watch on 720p HEVC mkv -> 3 members playing: %.0f ms (load %.2f at the click)", watchMS, load0)
	b.Logf("converted HLS, same members: skew p50 %.0f ms, max %.0f ms; p50 ratio to direct %.2f",
		hls[len(hls)/2]*1000, hls[len(hls)-1]*1000, hls[len(hls)/2]/direct[len(direct)/2])
	b.Logf("server CPU %.1f%% with 3 members, %.1f%% with 1; ffmpeg %.1f%% / %.1f%%; RSS %.0f / %.0f MB (load %.2f)",
		s3*100, s1*100, f3*100, f1*100, r3/1024, r1/1024, procstat.LoadAvg())
}
