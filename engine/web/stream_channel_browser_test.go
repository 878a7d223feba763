//go:build browser

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// canvasPixels samples the stream canvas.
const canvasPixels = `(() => {
	const c = document.getElementById("stream-canvas");
	const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
	const colors = new Set();
	for (let i = 0; i < d.length; i += 4 * 97) colors.add((d[i] >> 4) << 8 | (d[i + 1] >> 4) << 4 | (d[i + 2] >> 4));
	return { width: c.width, height: c.height, colors: colors.size };
})()`

type canvasSample struct{ Width, Height, Colors int }

// openStreamWindow opens a member's room page with its websockets recorded
// (window.__sockets) and waits until the page is on the SFU.
func openStreamWindow(t *testing.T, srv *apptest.Server, u *apptest.User, code string, script string) *browsertest.Window {
	t.Helper()
	w := browsertest.New(t, browsertest.WithName(u.Name), browsertest.WithRoomHooks())
	w.SetCookie(srv.URL+"/", "wp_session", u.Client.Cookie("wp_session"))
	for _, src := range []string{recordSockets, script} {
		if src == "" {
			continue
		}
		w.Do("add a start-up script", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
			return err
		}))
	}
	w.Navigate(srv.URL + "/r/" + code)
	w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	w.WaitJS(`document.querySelector("#room").dataset.rtc === "connected"`)
	return w
}

func streamRoom(t *testing.T) (*apptest.Server, *apptest.User, *apptest.User, string) {
	t.Helper()
	srv := startRTCServer(t)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := createRoom(t, ann.Client, "Canvas over WebRTC")
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob joins: %s", resp.Status)
	}
	return srv, ann, bob, code
}

func startPatternStream(w *browsertest.Window) {
	w.Click("#tab-stream")
	w.Fill("#stream-source", "pattern:320x240")
	w.Click("#stream-start")
}

func checkNoBrowserErrors(t *testing.T, ws ...*browsertest.Window) {
	t.Helper()
	for _, w := range ws {
		for _, e := range w.Errors() {
			if !strings.Contains(e, "favicon") {
				t.Errorf("%s: browser error: %s", w.Name(), e)
			}
		}
	}
}

// TestBrowserStreamOverDataChannel: with WebRTC on, the room pages draw the
// frame stream from the "frames" data channel of their one
// RTCPeerConnection, say so in the stats line, and never open the relay
// websocket.
func TestBrowserStreamOverDataChannel(t *testing.T) {
	srv, ann, bob, code := streamRoom(t)
	wa := openStreamWindow(t, srv, ann, code, "")
	wb := openStreamWindow(t, srv, bob, code, "")
	startPatternStream(wa)

	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`window.watchpartyStream.frames > 10`)
		w.WaitJS(`document.getElementById("stream-stats").textContent.includes("via data channel")`)
		if p := browsertest.Eval[canvasSample](w, canvasPixels); p.Width != 320 || p.Height != 240 || p.Colors < 8 {
			t.Errorf("%s: the canvas does not show the pattern: %+v", w.Name(), p)
		}
		if line := browsertest.Eval[string](w, `document.getElementById("stream-stats").textContent`); !strings.Contains(line, "320×240") || !strings.Contains(line, "fps") {
			t.Errorf("%s: stats line %q", w.Name(), line)
		}
		if n := browsertest.Eval[int](w, `window.watchpartyStream.relayOpens + window.__sockets.filter(s => s.url.endsWith("/frames")).length`); n != 0 {
			t.Errorf("%s: the page opened the relay websocket (%d)", w.Name(), n)
		}
	}
	if st := srv.App.SFU.Stats(); st.FramesSent < 20 {
		t.Errorf("the SFU sent %d frames over data channels, want at least 20", st.FramesSent)
	}
	t.Logf("figure: SFU frames sent %d, dropped %d", srv.App.SFU.Stats().FramesSent, srv.App.SFU.Stats().FramesDropped)

	wa.Click("#stream-stop")
	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`document.getElementById("stream-view").hidden && !document.getElementById("player").hidden`)
	}
	// The next stream comes over the same channel (the panel is still open).
	wa.WaitVisible("#stream-start")
	wa.Click("#stream-start")
	wb.WaitJS(`window.watchpartyStream.active && window.watchpartyStream.frames > 10 && window.watchpartyStream.transport === "data channel"`)
	if n := browsertest.Eval[int](wb, `window.watchpartyStream.relayOpens`); n != 0 {
		t.Errorf("Bob's page opened the relay websocket %d times", n)
	}
	checkNoBrowserErrors(t, wa, wb)
}

// reliableFrames makes the page open its frames channel with the default
// (ordered, reliable) options, which the server refuses and closes.
const reliableFrames = `(() => {
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (label) { return create.call(this, label); };
})();`

// TestBrowserStreamChannelFallback: when the frames channel does not open
// (here the server refuses its options), the page falls back to the relay
// websocket and says so.
func TestBrowserStreamChannelFallback(t *testing.T) {
	srv, ann, bob, code := streamRoom(t)
	wa := openStreamWindow(t, srv, ann, code, "")
	wb := openStreamWindow(t, srv, bob, code, reliableFrames)
	startPatternStream(wa)

	wa.WaitJS(`window.watchpartyStream.frames > 10 && window.watchpartyStream.transport === "data channel"`)
	wb.WaitJS(`window.watchpartyStream.frames > 10 && window.watchpartyStream.transport === "websocket"`)
	wb.WaitJS(`document.getElementById("stream-stats").textContent.includes("via websocket")`)
	if n := browsertest.Eval[int](wb, `window.__sockets.filter(s => s.url.endsWith("/frames")).length`); n != 1 {
		t.Errorf("Bob's page opened %d relay websockets, want 1", n)
	}
	if p := browsertest.Eval[canvasSample](wb, canvasPixels); p.Width != 320 || p.Height != 240 || p.Colors < 8 {
		t.Errorf("Bob's canvas does not show the pattern: %+v", p)
	}
	checkNoBrowserErrors(t, wa, wb)
}
