//go:build browser

package app_test

import (
	"net/http"
	"strings"
	"testing"

	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// TestBrowserStreamCanvas starts a stream from the room page's Stream panel
// in real Chromium: both members' pages switch to the canvas, which draws
// frames from the relay websocket, and back to the player when it stops.
func TestBrowserStreamCanvas(t *testing.T) {
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := newRoom(t, ann.Client, "Canvas")
	if resp, body := bob.Client.PostForm(t, "/r/"+code+"/join", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s\n%s", resp.Status, body)
	}
	open := func(u *apptest.User) *browsertest.Window {
		w := browsertest.New(t, browsertest.WithName(u.Name), browsertest.WithRoomHooks())
		w.SetCookie(srv.URL+"/", apptest.SessionCookie, u.Client.Cookie(apptest.SessionCookie))
		w.Navigate(srv.URL + "/r/" + code)
		w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
		return w
	}
	wa, wb := open(ann), open(bob)

	wa.Click("#tab-stream")
	wa.Fill("#stream-source", "pattern:320x240")
	wa.Click("#stream-start")

	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`window.watchpartyStream && window.watchpartyStream.frames > 10`)
		if !browsertest.Eval[bool](w, `document.getElementById("player").hidden && !document.getElementById("stream-view").hidden`) {
			t.Errorf("%s: the page did not switch from the player to the stream", w.Name())
		}
		type pixels struct {
			Width, Height, Colors, Opaque int
		}
		p := browsertest.Eval[pixels](w, `(() => {
			const c = document.getElementById("stream-canvas");
			const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
			const colors = new Set();
			let opaque = 0;
			for (let i = 0; i < d.length; i += 4 * 97) {
				colors.add((d[i] >> 4) << 8 | (d[i + 1] >> 4) << 4 | (d[i + 2] >> 4));
				if (d[i + 3] === 255) opaque++;
			}
			return { width: c.width, height: c.height, colors: colors.size, opaque };
		})()`)
		if p.Width != 320 || p.Height != 240 || p.Colors < 8 || p.Opaque == 0 {
			t.Errorf("%s: the canvas does not show the pattern: %+v", w.Name(), p)
		}
		w.WaitJS(`/fps/.test(document.getElementById("stream-stats").textContent) && document.getElementById("stream-stats").textContent.includes("320×240")`)
		// WebRTC is off here: the frames come over the relay websocket.
		w.WaitJS(`document.getElementById("stream-stats").textContent.includes("via websocket") && window.watchpartyStream.relayOpens > 0`)
	}
	// Bob did not start it and is no moderator: no stop button for him.
	if browsertest.Eval[bool](wb, `!document.getElementById("stream-stop").hidden`) {
		t.Error("a member who may not stop the stream sees the stop button")
	}

	// Ann's panel gives the command line for publishing from a computer.
	wa.Click("#stream-token")
	wa.WaitJS(`(document.getElementById("stream-command") || {}).textContent?.startsWith("watchparty publish --server ` + addr + ` --room ` + code + ` --token ")`)

	wa.Click("#stream-stop")
	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`document.getElementById("stream-view").hidden && !document.getElementById("player").hidden`)
		w.WaitJS(`[...document.querySelectorAll("#chat-log .system")].some(e => e.textContent.includes("The stream was stopped."))`)
	}
	for _, w := range []*browsertest.Window{wa, wb} {
		for _, e := range w.Errors() {
			if strings.Contains(e, "stream.js") {
				t.Errorf("%s: %s", w.Name(), e)
			}
		}
	}
}
