//go:build browser

package web_test

import (
	"strings"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
	"watchparty/engine/media/mediatest"
)

// libRow is the selector of the Library pane's row of a file.
func libRow(path, rest string) string {
	return `#library-results [data-path="` + path + `"] ` + rest
}

// TestBrowserLibraryPane: the Library pane shows folders, posters, each
// file's length, picture size and how it plays as a badge with the reason
// (a corrupt file says why it cannot), searches every folder, says
// "Converting…" while the server starts on a film and "Playing now" once it
// plays, offers picture subtitles to burn in (the burnt-in version plays
// as its own conversion), and offers to continue where the room left a
// film. axe finds nothing serious in it, light or dark, wide or narrow.
func TestBrowserLibraryPane(t *testing.T) {
	dir := t.TempDir()
	mediatest.MakeSpec(t, dir, mediatest.HEVC, "Films/Night Train.mkv", mediatest.Spec{Seconds: 300, Width: 320, Height: 180, FPS: 5})
	mediatest.MakeSpec(t, dir, mediatest.PGS, "Films/Subtitled.mkv", mediatest.Spec{Seconds: 8})
	mediatest.Make(t, dir, mediatest.MP4, "Home video.mp4")
	mediatest.Make(t, dir, mediatest.H264AC3, "Shows/Pilot.mkv")
	mediatest.Make(t, dir, mediatest.Corrupt, "Shows/Broken.mkv")
	srv := apptest.StartServer(t, func(c *config.Config) { c.Media.Dir = dir })
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "Films")
	host := browsertest.New(t, browsertest.WithName("host"), browsertest.WithFlag("lang", "en-US"))
	w := host.NewTab(t, browsertest.WithName("ann"))
	w.EmulateViewport(1366, 800, false)
	w.SetCookie(srv.URL+"/", apptest.SessionCookie, ann.Client.Cookie(apptest.SessionCookie))
	enterRoom(w, srv.URL, code)
	w.Click("#tab-library")
	w.WaitJS(`[...document.querySelectorAll("#library-results .folder span")].map(e => e.textContent).join(",") === "Films,Shows"`)
	w.WaitJS(`(document.querySelector('` + libRow("Home video.mp4", ".lib-badge") + `') || {}).textContent === "Direct"`)
	if got := w.Text(libRow("Home video.mp4", ".lib-meta")); got != "0:04 · 320×180" {
		t.Errorf("meta of the mp4: %q", got)
	}
	w.Click(`#library-results .folder button`)
	w.WaitJS(`document.querySelector("#library-path [aria-current]").textContent === "Films"`)
	w.WaitJS(`(document.querySelector('` + libRow("Films/Night Train.mkv", ".lib-badge") + `') || {}).textContent === "Convert: HEVC video"`)
	if got := w.Text(libRow("Films/Night Train.mkv", ".lib-meta")); got != "5:00 · 320×180" {
		t.Errorf("meta of the HEVC film: %q", got)
	}
	w.WaitJS(`document.querySelector('` + libRow("Films/Night Train.mkv", ".lib-poster") + `').naturalWidth > 0`)
	w.WaitJS(`[...document.querySelectorAll('` + libRow("Films/Subtitled.mkv", ".lib-burn option") + `')].map(o => o.textContent).join(",") === "No burnt-in subtitles,Burn in English (PGS)"`)

	// A search looks through every folder; a remuxed file says why; a
	// corrupt file says why it cannot play and offers nothing.
	w.Fill("#library-q", "shows")
	w.Press("\r")
	w.WaitJS(`document.querySelector("#library-path").textContent === "Search results"`)
	w.WaitJS(`(document.querySelector('` + libRow("Shows/Pilot.mkv", ".lib-badge") + `') || {}).textContent === "Remux: AC-3 audio"`)
	w.WaitJS(`/^Cannot play: .+/.test((document.querySelector('` + libRow("Shows/Broken.mkv", ".lib-badge") + `') || {}).textContent || "")`)
	if n := browsertest.Eval[int](w, `document.querySelectorAll('`+libRow("Shows/Broken.mkv", "button")+`').length`); n != 0 {
		t.Fatalf("a corrupt file offers %d buttons", n)
	}

	// Watch the film: its row says it is being converted, then that it
	// plays.
	w.Fill("#library-q", "")
	w.Press("\r") // back to the folder the search started from
	watch := libRow("Films/Night Train.mkv", `button[aria-label="Watch Night Train.mkv"]`)
	w.WaitVisible(watch)
	browsertest.Eval[bool](w, `(() => { window.libStates = [];
	  const s = document.querySelector('`+libRow("Films/Night Train.mkv", ".lib-status")+`');
	  new MutationObserver(() => window.libStates.push(s.textContent)).observe(s, {childList: true, characterData: true, subtree: true});
	  return true; })()`)
	w.Click(watch)
	w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	w.WaitJS(`document.querySelector('` + libRow("Films/Night Train.mkv", ".lib-status") + `').textContent === "Playing now"`)
	if got := browsertest.Eval[string](w, `window.libStates.join("|")`); !strings.HasPrefix(got, "Converting…|Playing now") {
		t.Errorf("the film's row went through %q, want Converting… then Playing now", got)
	}
	if !mediaPlayer[bool](w, `p.info.hls && p.info.mode === "transcode"`) {
		t.Fatal("the HEVC film does not play as converted HLS")
	}

	// Go to 1:10, then watch the subtitled film with its PGS track burnt
	// in: a conversion of its own (the source's H.264 would be copied
	// without it).
	browsertest.EvalAsync[any](w, roomModule+`.then((m) => { m.room.sync.command("seek", 70); return null; })`)
	w.WaitJS(`Math.abs(document.querySelector("#player video").currentTime - 70) < 1`)
	pgs := browsertest.Eval[string](w, `document.querySelector('`+libRow("Films/Subtitled.mkv", ".lib-burn option:last-child")+`').value`)
	w.Do("burn in the PGS track", chromedpSelect(libRow("Films/Subtitled.mkv", ".lib-burn"), pgs))
	// The listing is fetched again (as it is while files are probed): the
	// choice stays.
	burnSel := libRow("Films/Subtitled.mkv", ".lib-burn")
	browsertest.Eval[bool](w, `(window.oldBurn = document.querySelector('`+burnSel+`')) !== null`)
	w.Fill("#library-q", "")
	w.Press("\r")
	w.WaitJS(`(document.querySelector('` + burnSel + `') || window.oldBurn) !== window.oldBurn`)
	if got := browsertest.Eval[string](w, `document.querySelector('`+burnSel+`').value`); got != pgs {
		t.Fatalf("the burn-in choice after the listing came again: %q, want %q", got, pgs)
	}
	burning := ffmpegRuns(srv.DataDir, "overlay")
	w.Click(libRow("Films/Subtitled.mkv", `button[aria-label="Watch Subtitled.mkv"]`))
	w.WaitJS(`/^media:Films\/Subtitled\.mkv#burn=\d+$/.test(document.querySelector("#player").dataset.src)`)
	w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	if !mediaPlayer[bool](w, `p.info.hls && p.info.mode === "transcode" && p.info.renditions.every(r => !r.startsWith("source"))`) {
		t.Errorf("the burnt-in film does not play as a conversion: %s", mediaPlayer[string](w, `JSON.stringify(p.info)`))
	}
	if ran, most := burning(); ran == 0 || most != 1 {
		t.Errorf("%d ffmpeg processes, %d at once, drew the subtitles in", ran, most)
	}

	// Back in the Films folder, the room can continue the first film.
	w.Click(`#library-path button.link`)
	w.Click(`#library-results .folder button`)
	w.WaitJS(`(document.querySelector('` + libRow("Films/Night Train.mkv", "button") + `') || {}).textContent === "Continue at 1:10"`)

	axe := axeSource(t)
	for _, mode := range []struct {
		name   string
		dark   bool
		width  int
		height int
	}{{"desktop-light", false, 1366, 800}, {"desktop-dark", true, 1366, 800}, {"phone-light", false, 390, 844}, {"phone-dark", true, 390, 844}} {
		w.EmulateViewport(mode.width, mode.height, mode.width < 900)
		w.EmulateColorScheme(mode.dark)
		if mode.width < 900 {
			w.Click("#tab-library")
		}
		time.Sleep(300 * time.Millisecond)
		axeCheck(t, w, axe, "library "+mode.name)
		t.Logf("library %s: %s", mode.name, w.Screenshot("library-"+mode.name))
	}
	for _, e := range w.Errors() {
		t.Errorf("console: %s", e)
	}
}
