//go:build browser

package reliability

import (
	"path/filepath"
	"strings"
	"testing"

	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// TestBrowserChatPayloadsAreInert: chat lines and a room name full of
// markup reach a real Chromium as text: the text shows,
// no element is created, no script runs (no alert, no marker set, no
// console error).
func TestBrowserChatPayloadsAreInert(t *testing.T) {
	p := startProc(t, apptest.Binary(t), filepath.Join(t.TempDir(), "data"))
	ann := signUp(t, p.URL, "127.0.0.1", "Ann")
	code := createRoomAs(t, ann, `<img src=x onerror="window.__pwned='name'">`)
	payloads := []string{
		`<script>window.__pwned='script';alert(1)</script>`,
		`<img src=x onerror="window.__pwned='img';alert(2)">`,
		`<svg onload="window.__pwned='svg'"></svg>`,
		`"><iframe src="javascript:window.top.__pwned='iframe'"></iframe>`,
		`<a href="javascript:window.__pwned='link'">click</a>`,
		"</li><b class=\"injected\">bold</b>",
	}
	w := browsertest.New(t, browsertest.WithName("ann"))
	w.SetCookie(p.URL+"/", "wp_session", ann.session())
	w.Navigate(p.URL + "/r/" + code)
	w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	// Any dialog would block the page; count them instead.
	w.WaitJS(`(window.__alerts = 0, window.alert = () => { window.__alerts++; }, true)`)

	ws, _ := mustDial(t, p.URL, code, ann.session())
	for i, text := range payloads {
		ws.send(map[string]any{"type": "chat", "text": text, "ref": string(rune('a' + i))})
	}
	for _, text := range payloads {
		w.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === ` + jsString(text) + `)`)
	}
	for _, sel := range []string{"#chat-log script", "#chat-log img", "#chat-log .text svg", "#chat-log .who svg", "#chat-log iframe", "#chat-log a[href^=javascript]", "#chat-log b.injected", "img[src=x]"} {
		if browsertest.Eval[bool](w, `document.querySelector(`+jsString(sel)+`) !== null`) {
			t.Fatalf("a payload created an element: %s", sel)
		}
	}
	if got := browsertest.Eval[string](w, `String(window.__pwned)`); got != "undefined" {
		t.Fatalf("a payload ran script: window.__pwned = %q", got)
	}
	if n := browsertest.Eval[int](w, `window.__alerts`); n != 0 {
		t.Fatalf("a payload called alert %d times", n)
	}
	if !strings.Contains(browsertest.Eval[string](w, `document.querySelector("#room-name").textContent`), "onerror") {
		t.Fatal("the room name with markup does not show as text")
	}
	for _, e := range w.Errors() {
		if !strings.Contains(e, "favicon") {
			t.Errorf("browser error: %s", e)
		}
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
