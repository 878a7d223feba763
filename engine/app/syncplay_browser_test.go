//go:build browser

package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
	"watchparty/engine/syncplay/nativetest"
)

// TestBrowserNativePlayer puts a page in real Chromium and the real
// syncplay client with a headless mpv in one room: the member gets the
// command from the room page, joins, shows in People with the native badge;
// chat goes both ways; play, pause and seek go from the page to mpv and from
// mpv to the page; a native player that is not ready holds a room that waits
// for everyone; the owner's kick disconnects it; a wrong token is refused
// with the client saying why.
func TestBrowserNativePlayer(t *testing.T) {
	media := t.TempDir()
	clip := nativetest.MakeClip(t, media, "Film.webm", 40)
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.Media.Dir = media
		c.Syncplay.Listen = "127.0.0.1:0"
	})
	var addr string
	select {
	case a := <-srv.App.SyncplayAddr():
		addr = a.String()
	case <-time.After(30 * time.Second):
		t.Fatal("no Syncplay listener")
	}
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := newRoom(t, ann.Client, "Native")
	if resp, body := bob.Client.PostForm(t, "/r/"+code+"/join", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s\n%s", resp.Status, body)
	}
	if status, out := postJSON(t, ann.Client, "/r/"+code+"/settings", url.Values{"control": {"everyone"}, "change_video": {"everyone"},
		"manage_queue": {"everyone"}, "invite": {"everyone"}, "guests_allowed": {"1"}, "wait_for_all": {"1"}}); status != http.StatusOK {
		t.Fatalf("settings: %d %v", status, out)
	}

	wa := watchFilm(t, srv, ann, code)
	video := `document.querySelector("#player video")`

	// Bob's command, from the page's People tab as he would copy it.
	wb := browsertest.New(t, browsertest.WithName("bob"))
	wb.SetCookie(srv.URL+"/", apptest.SessionCookie, bob.Client.Cookie(apptest.SessionCookie))
	wb.Navigate(srv.URL + "/r/" + code)
	wb.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	wb.Click("#tab-people")
	wb.Click("#native-token")
	wb.WaitJS(`!!document.querySelector("#native-command")`)
	command := browsertest.Eval[string](wb, `document.querySelector("#native-command").textContent`)
	prefix := "syncplay --host " + addr + " --name 'Bob' --room " + code + " --password "
	if !strings.HasPrefix(command, prefix) {
		t.Fatalf("command %q, want it to start with %q", command, prefix)
	}
	token := strings.TrimPrefix(command, prefix)
	wb.Navigate("about:blank") // Bob watches in mpv only

	// A wrong token is refused, and the client says so.
	bad := nativetest.Start(t, addr, "Bob", code, token+"x", clip)
	bad.WaitOutput(0, "wrong password")

	p := nativetest.Start(t, addr, "Bob", code, token, filepath.Join(media, "Film.webm"))
	p.WaitOutput(0, "Successfully connected")
	wa.Click("#tab-people")
	wa.WaitJS(`[...document.querySelectorAll("#members li")].some(li => li.textContent.includes("Bob") && li.querySelector(".badge.native"))`)
	p.WaitPlayer("the file loaded, paused", func(pos float64, paused bool) bool { return paused && pos < 1 })

	// Chat both ways.
	wa.Click("#tab-chat")
	wa.Fill("#chat-input", "hello mpv")
	wa.Click("#chat-send")
	p.WaitOutput(0, "<Ann> hello mpv")
	p.Say("ch hello page")
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "hello page")`)

	// Bob is not ready yet (the client's default): Ann's play holds the
	// room; Bob toggling ready starts it for both.
	wa.Click("#play")
	wa.WaitJS(`!document.querySelector("#hold").hidden`)
	p.Say("t")
	wa.WaitJS(video + `.paused === false && ` + video + `.currentTime > 0.5`)
	p.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused && pos > 0.5 })

	// The page seeks and pauses: mpv follows.
	wa.Click("#fwd10")
	p.WaitPlayer("10 s further", func(pos float64, paused bool) bool { return pos > 10 })
	wa.Click("#play")
	wa.WaitJS(video + `.paused`)
	at := browsertest.Eval[float64](wa, video+`.currentTime`)
	p.WaitPlayer("paused with the page", func(pos float64, paused bool) bool { return paused && pos > at-1 && pos < at+1 })

	// mpv plays, seeks and pauses (as its keys do): the page follows.
	p.Must("set_property", "pause", false)
	wa.WaitJS(video + `.paused === false`)
	p.WaitPlayer("playing", func(pos float64, paused bool) bool { return !paused })
	p.Must("seek", 3, "absolute")
	wa.WaitJS(video + `.currentTime > 2.5 && ` + video + `.currentTime < 9`)
	p.WaitPlayer("playing after its seek", func(pos float64, paused bool) bool { return !paused && pos > 3.5 && pos < 12 })
	p.Must("set_property", "pause", true)
	wa.WaitJS(video + `.paused`)

	// The owner removes Bob: the client says why and leaves the room.
	if status, out := postJSON(t, ann.Client, "/r/"+code+"/kick", url.Values{"user": {bob.ID}}); status != http.StatusOK {
		t.Fatalf("kick: %d %v", status, out)
	}
	p.WaitOutput(0, "removed")
	wa.Click("#tab-people")
	wa.WaitJS(`![...document.querySelectorAll("#members li")].some(li => li.textContent.includes("Bob"))`)
	for _, e := range wa.Errors() {
		t.Error(fmt.Sprint("page: ", e))
	}
}

// watchFilm opens the room page in Chromium as u and plays Film.webm from
// the media folder, queued from the Queue tab; it returns u's window once
// the player is ready.
func watchFilm(tb testing.TB, srv *apptest.Server, u *apptest.User, code string) *browsertest.Window {
	tb.Helper()
	w := browsertest.New(tb, browsertest.WithName(strings.ToLower(u.Name)))
	w.SetCookie(srv.URL+"/", apptest.SessionCookie, u.Client.Cookie(apptest.SessionCookie))
	w.Navigate(srv.URL + "/r/" + code)
	w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	w.Click("#tab-queue")
	w.Fill("#queue-link", "media:Film.webm")
	w.Click("#queue-watch")
	w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	return w
}
