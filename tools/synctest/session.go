// Command synctest measures synchronized playback in real browsers: it starts
// a watchparty server on loopback with a generated test video in its media
// library, opens several Chromium windows in one room, plays, seeks, pauses
// and lets a member join late, samples every player's position in server
// time every 100 ms, and prints the skew between players, the time to
// converge after each command, the late joiner's convergence and the control
// latency.
//
//	go run ./tools/synctest              # 3 players + a late joiner, 60 s
//	go run ./tools/synctest -players 4 -v
//
// The same package holds the browser tests of synchronized playback
// (go test -tags browser ./tools/synctest).
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// Session is a server with a room, its members and their browser windows.
type Session struct {
	Srv     *apptest.Server
	Code    string
	Users   []*apptest.User // Users[0] owns the room
	Windows []*browsertest.Window
	Clip    string // the video's library link, media:<name>
	// Shapers holds the network shaper of each member whose path is
	// shaped (Shape); the others reach the server straight on loopback.
	Shapers map[int]*Shaper
	// Skews holds the ms each member's page clock is set wrong by (SkewClock).
	Skews map[int]float64
	// Seed picks the shapers' losses and jitter: 0 gives every test the
	// same ones; the figure command draws one per run (a fixed one would
	// put the same loss on the same request in every run).
	Seed uint64
}

// Shape puts member i's browser behind a shaping proxy with profile p.
// Call it before the member's window opens the room.
func (s *Session) Shape(t testing.TB, i int, p Profile) *Shaper {
	t.Helper()
	host := strings.TrimPrefix(s.Srv.URL, "http://")
	sh, err := NewShaper(host, p, s.Seed*64+uint64(i+1))
	if err != nil {
		t.Fatalf("synctest: shaper: %v", err)
	}
	t.Cleanup(func() { _ = sh.Close() })
	s.Shapers[i] = sh
	return sh
}

// SkewClock sets member i's page clock wrong by ms: the device clock of a
// phone that is not synchronised. Call it before the member's window opens.
func (s *Session) SkewClock(i int, ms float64) { s.Skews[i] = ms }

// URL is the address member i's browser reaches path at.
func (s *Session) URL(i int, path string) string {
	if sh := s.Shapers[i]; sh != nil {
		return sh.URL(s.Srv.URL) + path
	}
	return s.Srv.URL + path
}

// MakeClip writes a VP8/Opus WebM test clip of the given length (a test
// pattern with a sine tone: the audio track matters, it is what makes the
// media clock start late) into dir and returns its file name. Its
// keyframes are 2 s apart (60 frames at 30 fps), as streaming encoders
// place them; a seek decodes from the keyframe before its target, so the
// interval is part of what a seek costs (libvpx's own default, 128 frames,
// put them 4.3 s apart).
func MakeClip(t testing.TB, dir string, seconds int) string {
	t.Helper()
	return MakeClipIn(t, dir, seconds, "webm")
}

// MakeClipIn is MakeClip in container webm or mp4. The MP4 is H.264/AAC at
// about the WebM's bitrate, as ffmpeg writes it by default and as phones,
// cameras and screen recorders do: its index (moov) after the media data,
// which a player must read before it has any metadata.
func MakeClipIn(t testing.TB, dir string, seconds int, container string) string {
	t.Helper()
	codecs := map[string][]string{
		"webm": {"-c:v", "libvpx", "-b:v", "500k", "-g", "60", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"},
		"mp4": {"-c:v", "libx264", "-preset", "veryfast", "-b:v", "500k", "-g", "60", "-keyint_min", "60", "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-b:a", "96k"},
	}[container]
	if codecs == nil {
		t.Fatalf("synctest: no test clip in container %q (webm or mp4)", container)
	}
	name := fmt.Sprintf("clip-%ds.%s", seconds, container)
	out := filepath.Join(dir, name)
	if _, err := os.Stat(out); err == nil {
		return name
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("synctest: ffmpeg is needed to make the test video (apt-get install ffmpeg, or make deps): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := out + ".part." + container
	args := append([]string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(seconds)}, codecs...)
	cmd := exec.CommandContext(ctx, ffmpeg, append(args, tmp)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("synctest: ffmpeg: %v\n%s", err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return name
}

// NewSession starts a server whose media library is mediaDir, signs up
// members people (the first owns a new room, the others join it), and
// shares clip (a file in mediaDir) in the room. No window is open yet.
func NewSession(t testing.TB, mediaDir, clip string, members int, mutate func(*config.Config)) *Session {
	t.Helper()
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.Media.Dir = mediaDir
		c.Log.Level = "warn"
		if mutate != nil {
			mutate(c)
		}
	})
	s := &Session{Srv: srv, Clip: "media:" + clip, Shapers: map[int]*Shaper{}, Skews: map[int]float64{}}
	for i := range members {
		s.Users = append(s.Users, srv.SignUp(t, fmt.Sprintf("Viewer %d", i+1)))
	}
	resp, _ := s.Users[0].Client.PostForm(t, "/rooms", url.Values{"name": {"Sync"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/r/") {
		t.Fatalf("synctest: creating the room: %s (Location %q)", resp.Status, loc)
	}
	s.Code = loc[strings.LastIndex(loc, "/r/")+3:]
	for _, u := range s.Users[1:] {
		resp, body := u.Client.PostForm(t, "/r/"+s.Code+"/join", nil)
		if resp.StatusCode >= 400 {
			t.Fatalf("synctest: %s joining: %s %s", u.Name, resp.Status, body)
		}
	}
	return s
}

// Settings changes the room's settings as its owner.
func (s *Session) Settings(t testing.TB, waitForAll bool) {
	t.Helper()
	vals := url.Values{"control": {"everyone"}, "change_video": {"everyone"}, "manage_queue": {"everyone"}}
	if waitForAll {
		vals.Set("wait_for_all", "1")
	}
	resp, body := s.Users[0].Client.PostForm(t, "/r/"+s.Code+"/settings", vals)
	if resp.StatusCode >= 400 {
		t.Fatalf("synctest: settings: %s %s", resp.Status, body)
	}
}

// Join opens member i's window on the room page and waits until its sync
// engine is connected. It returns the window.
func (s *Session) Join(t testing.TB, i int) *browsertest.Window {
	t.Helper()
	w := s.Window(t, i)
	s.Enter(t, i, w)
	return w
}

// Window starts member i's browser window, logged in, on no page yet.
func (s *Session) Window(t testing.TB, i int) *browsertest.Window {
	t.Helper()
	w := browsertest.New(t, browsertest.WithName(fmt.Sprintf("viewer%d", i+1)), browsertest.WithWindowSize(800, 600), browsertest.WithRoomHooks())
	// Each page action waits for its condition this long at most: a page
	// and its player start several times slower on a loaded machine.
	w.Timeout = 60 * time.Second
	w.SetCookie(s.Srv.URL, apptest.SessionCookie, s.Users[i].Client.Cookie(apptest.SessionCookie))
	// The sampler first: it keeps the machine's clock before a skew
	// changes the page's.
	w.Do("install the sampler", addScript(samplerJS))
	if d := s.Skews[i]; d != 0 {
		w.Do("set the page clock wrong", addScript(skewJS(d)))
	}
	return w
}

// skewJS moves the page's clocks (Date and performance.timeOrigin, the
// clocks the sync engine reads) by ms.
func skewJS(ms float64) string {
	return fmt.Sprintf(`(() => {
  const d = %g;
  const origin = performance.timeOrigin + d;
  Object.defineProperty(Performance.prototype, "timeOrigin", { get: () => origin, configurable: true });
  const now = Date.now.bind(Date);
  Date.now = () => now() + d;
})();`, ms)
}

// Enter opens the room page in member i's window w and waits until its
// sync engine is connected.
func (s *Session) Enter(t testing.TB, i int, w *browsertest.Window) {
	t.Helper()
	w.Navigate(s.URL(i, "/r/"+s.Code))
	w.WaitJS(`window.watchpartySync && window.watchpartySync.clock.synced`)
	for len(s.Windows) <= i {
		s.Windows = append(s.Windows, nil)
	}
	s.Windows[i] = w
}

// Share makes window w share the session's clip and waits until every open
// window has it loaded.
func (s *Session) Share(t testing.TB, w *browsertest.Window) {
	t.Helper()
	w.Fill("#link", s.Clip)
	w.Click("#watch")
	for _, x := range s.Opened() {
		x.WaitJS(`(() => { const v = document.querySelector('#player video'); const e = window.watchpartySync;
			return v && v.readyState >= 3 && e.adapter && e.state && e.state.source === ` + jsString(s.Clip) + `; })()`)
	}
}

// Opened returns the windows opened so far.
func (s *Session) Opened() []*browsertest.Window {
	var out []*browsertest.Window
	for _, w := range s.Windows {
		if w != nil {
			out = append(out, w)
		}
	}
	return out
}

func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
