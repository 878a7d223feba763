//go:build browser

package web_test

import (
	"net"
	"net/http"
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

// youTubeStandIn plays the part of https://www.youtube.com/iframe_api: a
// YT.Player that puts a marked element where the iframe would be.
const youTubeStandIn = `
window.YT = {
  PlayerState: { UNSTARTED: -1, ENDED: 0, PLAYING: 1, PAUSED: 2, BUFFERING: 3, CUED: 5 },
  Player: function (el, opts) {
    const holder = typeof el === 'string' ? document.getElementById(el) : el;
    const d = document.createElement('div');
    d.className = 'yt-standin';
    d.dataset.videoId = opts.videoId;
    d.dataset.start = String((opts.playerVars || {}).start || 0);
    holder.replaceWith(d);
    let t = Number(d.dataset.start), state = -1, rate = 1;
    this.getIframe = () => d;
    this.playVideo = () => { state = 1; };
    this.pauseVideo = () => { state = 2; };
    this.seekTo = (s) => { t = s; };
    this.getCurrentTime = () => t;
    this.getDuration = () => 60;
    this.getPlayerState = () => state;
    this.setPlaybackRate = (r) => { rate = r; };
    this.getPlaybackRate = () => rate;
    this.getAvailablePlaybackRates = () => [0.5, 1, 1.5, 2];
    this.mute = () => {}; this.unMute = () => {}; this.isMuted = () => false;
    this.destroy = () => d.remove();
    setTimeout(() => opts.events && opts.events.onReady && opts.events.onReady({ target: this }), 0);
  },
};
if (typeof window.onYouTubeIframeAPIReady === 'function') window.onYouTubeIframeAPIReady();
`

// mediaServer serves the YouTube stand-in and a tiny WebM made with ffmpeg,
// on loopback.
func mediaServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.webm")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=15",
		"-t", "3", "-c:v", "libvpx", "-b:v", "100k", "-y", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/iframe_api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(youTubeStandIn))
	})
	mux.HandleFunc("/clip.webm", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(clip)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "video/webm")
		http.ServeContent(w, r, "clip.webm", time.Now(), f)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// TestBrowserRoomChatAndSharedPlayer: two people in real Chromium windows
// chat both ways, then one shares a direct video and a YouTube link and the
// other's player follows.
func TestBrowserRoomChatAndSharedPlayer(t *testing.T) {
	media := mediaServer(t)
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.YouTube.IFrameAPIURL = media + "/iframe_api"
		c.Links.AllowPrivateHosts = true // the test's clip is on loopback
	})
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := createRoom(t, ann.Client, "Friday film")
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", map[string][]string{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob joins: %s", resp.Status)
	}

	wa := browsertest.New(t, browsertest.WithName("ann"))
	wb := browsertest.New(t, browsertest.WithName("bob"))
	for _, x := range []struct {
		w *browsertest.Window
		u *apptest.User
	}{{wa, ann}, {wb, bob}} {
		x.w.SetCookie(srv.URL+"/", "wp_session", x.u.Client.Cookie("wp_session"))
		x.w.Navigate(srv.URL + "/r/" + code)
		x.w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	}
	wa.WaitText("#room-name", "Friday film")
	wb.WaitJS(`document.querySelector('#members li[data-presence="online"]') !== null && document.querySelectorAll('#members li[data-presence="online"]').length === 2`)

	// Chat both ways, by keyboard; markup in a message stays text.
	wa.Fill("#chat-input", "hello <b>Bob</b>")
	wa.Press("\r")
	wb.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "hello <b>Bob</b>")`)
	if n := browsertest.Eval[int](wb, `document.querySelectorAll("#chat-log b").length`); n != 0 {
		t.Fatalf("a chat message was rendered as HTML (%d <b> elements)", n)
	}
	wb.Fill("#chat-input", "hi Ann")
	wb.Click("#chat-send")
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "hi Ann")`)

	// Typing shows on the other side.
	wb.Fill("#chat-input", "typing…")
	wa.WaitText("#typing", "Bob is typing")

	// A reaction from Ann shows on Bob's screen.
	wa.Click(`#chat-log .line:last-child .reacts button[aria-label="Add a reaction"]`)
	wa.Click(`#chat-log .line:last-child .picker button[data-emoji="👍"]`)
	wb.WaitJS(`[...document.querySelectorAll("#chat-log .line:last-child .reacts > button")].some(b => b.textContent === "👍 1")`)

	// A bad link gets a clear error.
	wa.Fill("#link", "ftp://example.org/x.avi")
	wa.Click("#watch")
	wa.WaitText("#link-error", "YouTube")

	// A direct video: Bob's player switches to it and loads it.
	clip := media + "/clip.webm"
	wa.Fill("#link", clip)
	wa.Click("#watch")
	wb.WaitJS(`(() => { const v = document.querySelector("#player video"); return v !== null && v.src === ` + jsString(clip) + ` && v.readyState >= 1; })()`)
	wb.WaitJS(`document.querySelector("#player").dataset.kind === "file"`)
	wb.WaitJS(`[...document.querySelectorAll("#chat-log .system")].some(e => e.textContent.includes("Ann shared a video"))`)

	// YouTube through the configured IFrame API script, from the Queue tab
	// (the player's own link box is for an empty room).
	wa.Click("#tab-queue")
	wa.Fill("#queue-link", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1m5s&list=PL123")
	wa.Press("\r")
	wb.WaitJS(`(() => { const d = document.querySelector("#player .yt-standin"); return d !== null && d.dataset.videoId === "dQw4w9WgXcQ" && d.dataset.start === "65"; })()`)
	wb.WaitJS(`document.querySelector("#player").dataset.ready === "1" && document.querySelector("#player video") === null`)

	// After a reload Bob's chat shows every line once.
	wb.Navigate(srv.URL + "/r/" + code)
	wb.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	wb.WaitJS(`document.querySelectorAll("#chat-log li").length > 0`)
	n := browsertest.Eval[int](wb, `[...document.querySelectorAll("#chat-log .line .text")].filter(e => e.textContent === "hi Ann").length`)
	if n != 1 {
		t.Fatalf("after a reload %q shows %d times", "hi Ann", n)
	}
	for _, w := range []*browsertest.Window{wa, wb} {
		for _, e := range w.Errors() {
			if !strings.Contains(e, "favicon") {
				t.Errorf("%s: browser error: %s", w.Name(), e)
			}
		}
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
