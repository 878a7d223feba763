//go:build browser

package app_test

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
	"watchparty/engine/procstat"
	"watchparty/engine/syncplay/nativetest"
)

// BenchmarkNativeFigures measures native players in sync (docs/syncplay.md):
//
//   - skew between mpv (its position read over its IPC socket) and a
//     Chromium page in the same room, in steady play: p95 and max;
//   - as an anchor in the same run, the skew between two mpv on Debian's
//     stock syncplay-server;
//   - the time from a pause clicked in the page to mpv paused.
//
// Run it alone, it takes about a minute:
//
//	go test -tags browser ./engine/app -run '^$' -bench NativeFigures -benchtime 1x
func BenchmarkNativeFigures(b *testing.B) {
	for range b.N {
		media := b.TempDir()
		clip := nativetest.MakeClip(b, media, "Film.webm", 120)
		ours, pause := ourSkew(b, media, clip)
		stock := stockSkew(b, clip)
		report(b, "ours_mpv_browser", ours)
		report(b, "stock_mpv_mpv", stock)
		report(b, "pause_browser_to_mpv", pause)
		b.Logf("load average: %.2f", procstat.LoadAvg())
	}
}

func report(b *testing.B, name string, ms []float64) {
	if len(ms) == 0 {
		b.Fatalf("%s: no samples", name)
	}
	abs := make([]float64, len(ms))
	sum := 0.0
	for i, v := range ms {
		abs[i] = math.Abs(v)
		sum += v
	}
	sort.Float64s(abs)
	p := func(q float64) float64 { return abs[min(len(abs)-1, int(q*float64(len(abs))))] }
	b.ReportMetric(p(0.5), name+"_p50_ms")
	b.ReportMetric(p(0.95), name+"_p95_ms")
	b.ReportMetric(abs[len(abs)-1], name+"_max_ms")
	b.Logf("%s: %d samples, mean %+.1f ms, |p50| %.1f, |p95| %.1f, |max| %.1f ms", name, len(ms), sum/float64(len(ms)), p(0.5), p(0.95), abs[len(abs)-1])
}

// offsetSampler reads a player's position against the wall clock: the
// offset (position − wall time) is constant while it plays at rate 1, so
// the difference of two players' offsets is their skew.
type offsetSampler func() (offset float64, ok bool)

// mpvOffset reads time-pos over a connection of its own and keeps only
// quick answers (the reading's time is the middle of the exchange).
func mpvOffset(b *testing.B, p *nativetest.Player) offsetSampler {
	return func() (float64, bool) {
		t0 := time.Now()
		d, err := p.MPV("get_property", "time-pos")
		t1 := time.Now()
		var pos float64
		if err != nil || json.Unmarshal(d, &pos) != nil || t1.Sub(t0) > 15*time.Millisecond {
			return 0, false
		}
		mid := float64(t0.UnixMicro()+t1.UnixMicro()) / 2e6
		return pos - mid, true
	}
}

// sampleSkew reads both players in turn, ~5 times a second for d, and
// returns the skews in ms (a − b).
func sampleSkew(a, c offsetSampler, d time.Duration) []float64 {
	var out []float64
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		oa, ok1 := a()
		oc, ok2 := c()
		oa2, ok3 := a()
		if ok1 && ok2 && ok3 {
			out = append(out, ((oa+oa2)/2-oc)*1000)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return out
}

func ourSkew(b *testing.B, media, clip string) (skew, pause []float64) {
	srv := apptest.StartServer(b, func(c *config.Config) {
		c.Media.Dir = media
		c.Syncplay.Listen = "127.0.0.1:0"
	})
	addr := (<-srv.App.SyncplayAddr()).String()
	ann := srv.SignUp(b, "Ann")
	bob := srv.SignUp(b, "Bob")
	code := newRoom(b, ann.Client, "Figures")
	if resp, _ := bob.Client.PostForm(b, "/r/"+code+"/join", nil); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("join: %s", resp.Status)
	}
	status, out := postJSON(b, bob.Client, "/r/"+code+"/syncplay/token", nil)
	if status != http.StatusOK {
		b.Fatalf("token: %d %v", status, out)
	}
	wa := watchFilm(b, srv, ann, code)
	wa.Click("#tab-chat")

	p := nativetest.Start(b, addr, "Bob", code, out["token"].(string), clip)
	p.WaitOutput(0, "Successfully connected")
	p.WaitPlayer("loaded", func(pos float64, paused bool) bool { return paused })
	p.Say("t") // ready
	time.Sleep(2 * time.Second)
	video := `document.querySelector("#player video")`
	page := func() (float64, bool) {
		v := browsertest.Eval[[]float64](wa, `(() => { const v = `+video+`; const t0 = performance.timeOrigin + performance.now();
		  const ct = v.currentTime; const t1 = performance.timeOrigin + performance.now(); return [ct, (t0 + t1) / 2000, v.paused ? 1 : 0]; })()`)
		if len(v) != 3 || v[2] == 1 {
			return 0, false
		}
		return v[0] - v[1], true
	}
	wa.Click("#play")
	p.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused })
	time.Sleep(5 * time.Second) // past the start and the first corrections
	skew = sampleSkew(mpvOffset(b, p), page, 25*time.Second)

	// Pause from the page: time until mpv reports paused, five times.
	for range 5 {
		t0 := time.Now()
		wa.Click("#play")
		for {
			if _, paused, err := p.State(); err == nil && paused {
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatal("mpv did not pause")
			}
			time.Sleep(5 * time.Millisecond)
		}
		pause = append(pause, float64(time.Since(t0).Microseconds())/1000)
		time.Sleep(time.Second)
		wa.Click("#play")
		p.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused })
		time.Sleep(2 * time.Second)
	}
	return skew, pause
}

// stockSkew runs two clients with mpv on Debian's syncplay-server in one
// room (it listens on every interface; the clients use loopback).
func stockSkew(b *testing.B, clip string) []float64 {
	_, port, _ := net.SplitHostPort(apptest.FreePort(b))
	cmd := exec.Command("syncplay-server", "--port", port)
	cmd.Dir = b.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatalf("syncplay-server: %v", err)
	}
	b.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			b.Fatal("syncplay-server did not listen")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each client plays its own copy, as two people do.
	other := filepath.Join(b.TempDir(), filepath.Base(clip))
	data, err := os.ReadFile(clip)
	if err != nil || os.WriteFile(other, data, 0o644) != nil {
		b.Fatal("copying the clip")
	}
	pa := nativetest.Start(b, addr, "A", "anchor", "", clip)
	pb := nativetest.Start(b, addr, "B", "anchor", "", other)
	for _, p := range []*nativetest.Player{pa, pb} {
		p.WaitOutput(0, "Successfully connected")
		p.WaitPlayer("loaded", func(pos float64, paused bool) bool { return paused })
		p.Say("t")
	}
	time.Sleep(2 * time.Second)
	pa.Must("set_property", "pause", false)
	pb.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused })
	time.Sleep(5 * time.Second)
	return sampleSkew(mpvOffset(b, pa), mpvOffset(b, pb), 25*time.Second)
}
