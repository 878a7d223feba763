//go:build browser

package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// recordSockets keeps the page's websockets in window.__sockets, so that a
// test can drop one.
const recordSockets = `(() => {
  const W = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends W {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();`

// TestBrowserShareCamera: two people in real Chromium windows (fake camera
// and microphone) in one room of a server with WebRTC on. Ann shares her
// camera; Bob's page swaps the player for a video that plays it, frames
// advancing; when Ann stops, Bob's page returns to the player. Then Bob's
// page reconnects and joins the SFU again.
func TestBrowserShareCamera(t *testing.T) {
	srv := startRTCServer(t)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := createRoom(t, ann.Client, "Camera club")
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob joins: %s", resp.Status)
	}

	wa := browsertest.New(t, browsertest.WithName("ann"), browsertest.WithRoomHooks())
	wb := browsertest.New(t, browsertest.WithName("bob"), browsertest.WithRoomHooks())
	for _, x := range []struct {
		w *browsertest.Window
		u *apptest.User
	}{{wa, ann}, {wb, bob}} {
		x.w.SetCookie(srv.URL+"/", "wp_session", x.u.Client.Cookie("wp_session"))
		x.w.Do("record websockets", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordSockets})
			return err
		}))
		x.w.Navigate(srv.URL + "/r/" + code)
		x.w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
		// The page joins the SFU at once, to receive what others share.
		x.w.WaitJS(`document.querySelector("#room").dataset.rtc === "connected"`)
	}
	wa.Click("#tab-stream")
	wa.WaitVisible("#share-camera")
	if browsertest.Eval[bool](wb, `document.querySelector("#share-view").hidden !== true`) {
		t.Fatal("Bob's page shows a share before anyone shares")
	}

	wa.Click("#share-camera")
	wa.WaitText("#share-label", "You are sharing a camera")
	wa.WaitVisible("#share-stop")

	wb.WaitJS(`document.querySelector("#share-view").hidden === false`)
	wb.WaitText("#share-label", "Ann is sharing a camera")
	wb.WaitJS(`getComputedStyle(document.querySelector("#player")).display === "none"`)
	wb.WaitJS(`window.watchpartyShare.frames > 30`)
	t0 := browsertest.Eval[float64](wb, `document.querySelector("#share-video").currentTime`)
	wb.WaitJS(`document.querySelector("#share-video").currentTime > ` + jsNumber(t0+0.5))
	if w := browsertest.Eval[int](wb, `document.querySelector("#share-video").videoWidth`); w == 0 {
		t.Error("Bob's share video has no width")
	}
	wb.WaitJS(`[...document.querySelectorAll("#chat-log .system")].some(e => e.textContent.startsWith("Ann is sharing a camera."))`)
	// The camera came with its microphone: Bob's page plays it.
	wb.WaitJS(`document.querySelectorAll(".share-sounds audio").length === 1`)
	shared := browsertest.Eval[float64](wa, `window.watchpartyShare.sharedAt`)
	first := browsertest.Eval[float64](wb, `window.watchpartyShare.firstFrameAt`)
	t.Logf("figure: %.0f ms from clicking Share camera to the first frame on the other browser (loopback)", first-shared)

	wa.Click("#share-stop")
	wb.WaitJS(`document.querySelector("#share-view").hidden === true`)
	wb.WaitJS(`getComputedStyle(document.querySelector("#player")).display !== "none"`)
	wb.WaitJS(`[...document.querySelectorAll("#chat-log .system")].some(e => e.textContent.startsWith("Ann stopped sharing."))`)
	wb.WaitJS(`document.querySelectorAll(".share-sounds audio").length === 0`)
	wa.WaitVisible("#share-camera")
	if st := srv.App.SFU.Stats(); st.Tracks != 0 || st.Peers != 2 {
		t.Errorf("after the stop the SFU has %d tracks and %d peers, want 0 and 2", st.Tracks, st.Peers)
	}

	// Bob's page loses its websocket and reconnects: it joins the SFU again
	// and receives Ann's next share.
	joins := browsertest.Eval[int](wb, `window.watchpartyShare.joins`)
	browsertest.Eval[bool](wb, `(window.__sockets.at(-1).close(), true)`)
	wb.WaitJS(`window.__sockets.length === 2 && document.querySelector("#conn-state").dataset.state === "open"`)
	wb.WaitJS(`window.watchpartyShare.joins > ` + jsNumber(float64(joins)))
	wb.WaitJS(`document.querySelector("#room").dataset.rtc === "connected"`)
	wa.Click("#share-camera")
	wb.WaitJS(`document.querySelector("#share-view").hidden === false`)
	f0 := browsertest.Eval[int](wb, `window.watchpartyShare.frames`)
	wb.WaitJS(`window.watchpartyShare.frames > ` + jsNumber(float64(f0+30)))
	wa.Click("#share-stop")
	wb.WaitJS(`document.querySelector("#share-view").hidden === true`)

	for _, w := range []*browsertest.Window{wa, wb} {
		for _, e := range w.Errors() {
			if !strings.Contains(e, "favicon") {
				t.Errorf("%s: browser error: %s", w.Name(), e)
			}
		}
	}
}

func jsNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
