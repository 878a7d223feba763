//go:build browser

package web_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"watchparty/engine/browsertest"
)

// drawerShown is true once the drawer has opened and finished sliding in.
const drawerShown = `document.querySelector("#room").dataset.drawer === "open" &&
  document.querySelector("#panel").getBoundingClientRect().right <= window.innerWidth + 0.5`

// TestBrowserRoomJourney walks the room as its people do, in one Chromium:
// a friend without an account comes in from the invite link on a phone and
// chats within three clicks; the room fits every screen without scrolling
// and the tabs never move the player; fullscreen brings the chat along as a
// drawer; the owner's settings save without a reload (so nobody sees the
// owner leave and join); a member without playback rights keeps volume,
// subtitles, fullscreen and picture-in-picture while the shared controls say
// why they are off; the room works from the keyboard alone; and a removed
// guest sees why, with the player stopped. axe-core checks each state.
func TestBrowserRoomJourney(t *testing.T) {
	rig := newUIRig(t, nil)
	axe := axeSource(t)
	ann, bob, code := rig.ownerAndMember(t, "Journey")

	wa := rig.person(t, "ann", ann, 1366, 800)
	enterRoom(wa, rig.srv.URL, code)
	playLibraryClip(wa)

	// The page's plurals and clock times, worked out without Intl for the
	// catalogues' languages, are Intl's.
	if bad := browsertest.EvalAsync[[]string](wa, `import(new URL("../i18n.js", document.querySelector('script[src$="/js/room/app.js"]').src).href).then((m) => {
	  const bad = [];
	  for (const l of ["en", "de", "fr"]) {
	    const pr = new Intl.PluralRules(l), dt = new Intl.DateTimeFormat(l, { hour: "2-digit", minute: "2-digit" });
	    for (let n = 0; n <= 120; n++) if (m.pluralForm(n, l) !== (pr.select(n) === "one" ? "one" : "other")) bad.push(l + " plural " + n);
	    for (let min = 0; min < 24 * 60; min += 7) {
	      const d = new Date(2026, 0, 1, Math.floor(min / 60), min % 60);
	      if (m.timeOfDay(d, l) !== dt.format(d)) bad.push(l + " " + JSON.stringify(m.timeOfDay(d, l)) + " is not " + JSON.stringify(dt.format(d)));
	    }
	  }
	  return bad.slice(0, 10);
	})`); len(bad) > 0 {
		t.Errorf("i18n differs from Intl: %v", bad)
	}

	// ---- the invite journey, no account, on a phone ----
	wa.Click("#invite-open")
	wa.WaitVisible("#invite-qr svg")
	axeCheck(t, wa, axe, "invite dialog")
	invite := browsertest.Eval[string](wa, `document.querySelector("#invite-url").value`)
	if !regexp.MustCompile(`/i/[A-Za-z0-9_-]+$`).MatchString(invite) {
		t.Fatalf("invite link %q", invite)
	}
	wa.Press("\x1b") // Escape closes the dialog
	wa.WaitJS(`!document.querySelector("#invite-dialog").open`)

	gus := rig.person(t, "gus", nil, 390, 844)
	gus.Navigate(invite)
	clicks := 0
	gus.Fill("#guest-name", "Gus")
	gus.ClickNavigate(`main form button[type=submit]`)
	clicks++
	gus.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	gus.Fill("#chat-input", "hi from my phone")
	gus.Click("#chat-send")
	clicks++
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "hi from my phone")`)
	if clicks > 3 {
		t.Errorf("invite to chatting took %d clicks", clicks)
	}

	// ---- layout: everything fits; the tabs never move the player ----
	wb := rig.person(t, "bob", bob, 1366, 800)
	enterRoom(wb, rig.srv.URL, code)
	side := rig.person(t, "side", bob, 844, 390)
	enterRoom(side, rig.srv.URL, code)
	for _, w := range []*browsertest.Window{wb, gus} {
		if bad := fitsViewport(w); bad != "" {
			t.Errorf("%s: %s", w.Name(), bad)
		}
		at := rectOf(w, "#screen")
		for _, tab := range []string{"people", "queue", "library", "stream", "chat"} {
			w.Click("#tab-" + tab)
			w.WaitJS(`!document.querySelector("#pane-` + tab + `").hidden`)
			if got := rectOf(w, "#screen"); got != at {
				t.Errorf("%s: the %s tab moved the player from %v to %v", w.Name(), tab, at, got)
			}
			if tab == "people" {
				axeCheck(t, w, axe, w.Name()+" people tab")
			}
		}
		if bad := fitsViewport(w); bad != "" {
			t.Errorf("%s after the tabs: %s", w.Name(), bad)
		}
	}
	// Sideways, the player fills the screen and the chat is a drawer.
	if !browsertest.Eval[bool](side, `document.querySelector("#room").hasAttribute("data-immersive")`) {
		t.Error("a phone held sideways does not fill the screen with the player")
	}
	side.Click("#drawer-toggle")
	side.WaitJS(drawerShown)
	if bad := fitsViewport(side); bad != "" {
		t.Errorf("sideways with the drawer open: %s", bad)
	}

	// ---- fullscreen with the chat drawer ----
	wb.Click("#fullscreen")
	wb.WaitJS(`document.fullscreenElement === document.querySelector("#room") && document.querySelector("#room").hasAttribute("data-immersive")`)
	wb.Click("#drawer-toggle")
	wb.WaitJS(drawerShown)
	if bad := fitsViewport(wb); bad != "" {
		t.Errorf("fullscreen with the chat drawer: %s", bad)
	}
	wb.Fill("#chat-input", "from fullscreen")
	wb.Press("\r")
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "from fullscreen")`)
	axeCheck(t, wb, axe, "fullscreen with drawer")
	wb.Click("#drawer-close")
	wb.Click("#fullscreen")
	wb.WaitJS(`document.fullscreenElement === null && !document.querySelector("#room").hasAttribute("data-immersive")`)

	// ---- theatre: the player fills the window, the chat is a drawer ----
	wb.Do("leave the composer", chromedpEval(`document.activeElement.blur()`))
	wb.Press("t")
	wb.WaitJS(`document.querySelector("#room").hasAttribute("data-immersive") && document.querySelector("#theatre").getAttribute("aria-pressed") === "true"`)
	if r := rectOf(wb, "#screen"); r[2] < 1300 {
		t.Errorf("in theatre mode the player is %d px wide in a 1366 px window", r[2])
	}
	// The drawer slides in, unless the person asks for less motion.
	const slide = `getComputedStyle(document.querySelector("#panel")).transitionDuration`
	if d := browsertest.Eval[string](wb, slide); d == "0s" {
		t.Errorf("the drawer does not slide (transition %s)", d)
	}
	emulateMotion(wb, "reduce")
	if d := browsertest.Eval[string](wb, slide); d != "0s" {
		t.Errorf("with prefers-reduced-motion the drawer still slides (transition %s)", d)
	}
	emulateMotion(wb, "no-preference")
	wb.Press("t")
	wb.WaitJS(`!document.querySelector("#room").hasAttribute("data-immersive")`)

	// ---- settings over fetch: no reload, no leave/join lines ----
	lines := func(w *browsertest.Window) string {
		return browsertest.Eval[string](w, `[...document.querySelectorAll("#chat-log .system")].map(e => e.textContent).join("|")`)
	}
	before := lines(wb)
	wa.Click("#settings-open")
	wa.WaitVisible("#settings-dialog")
	axeCheck(t, wa, axe, "settings dialog")
	wa.Do("pick the owner only", chromedpSelect("#set-control", "owner"))
	wa.WaitText("#settings-status", "Saved")
	wb.WaitJS(`document.querySelector("#play").getAttribute("aria-disabled") === "true"`)
	wa.Click("#set-wait")
	wa.WaitText("#settings-status", "Saved")
	wa.Press("\x1b")
	if n := browsertest.Eval[int](wa, `performance.getEntriesByType("navigation").length`); n != 1 {
		t.Errorf("the owner's page navigated %d times", n)
	}
	after := lines(wb)
	for _, s := range []string{" left", " joined"} {
		if strings.Count(after, s) != strings.Count(before, s) {
			t.Errorf("settings changes posted %q lines: before %q, after %q", s, before, after)
		}
	}

	// ---- unread lines while another tab is open ----
	wb.Click("#tab-people")
	wa.Fill("#chat-input", "@Bob look at this")
	wa.Press("\r")
	wb.WaitJS(`document.querySelector("#tab-chat [data-unread]").textContent === "1" && document.title.startsWith("(1) ")`)
	wb.Click("#tab-chat")
	wb.WaitJS(`document.querySelector("#tab-chat [data-unread]").hidden && !document.title.startsWith("(")`)
	if !browsertest.Eval[bool](wb, `[...document.querySelectorAll("#chat-log .line.mention .text")].some(e => e.textContent === "@Bob look at this")`) {
		t.Error("a line mentioning Bob is not highlighted on his screen")
	}
	// The emoji picker and @name completion.
	wb.Click("#emoji-open")
	wb.Click(`#emoji-picker button[aria-label="🍿"]`)
	wb.Do("type a mention", chromedpKeys(" @An"))
	wb.WaitVisible(`#mentions li[aria-selected="true"]`)
	wb.Press("\t")
	wb.WaitJS(`document.querySelector("#chat-input").value === "🍿 @Ann "`)
	wb.Press("\r")
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line.mention .text")].some(e => e.textContent.trim() === "🍿 @Ann")`)

	// ---- a link that does not load: everyone is told, and it can be undone ----
	wa.Click("#tab-queue")
	wa.Fill("#queue-link", rig.srv.URL+"/no/such/video.mp4")
	wa.Press("\r")
	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`!document.querySelector("#player-notice").hidden && !document.querySelector("#revert").hidden`)
	}
	wb.Click("#revert")
	for _, w := range []*browsertest.Window{wa, wb} {
		w.WaitJS(`document.querySelector("#player-notice").hidden && document.querySelector("#player").dataset.kind === "library" && document.querySelector("#player").dataset.ready === "1"`)
	}
	wa.Click("#tab-chat")

	// ---- a member without playback rights ----
	reason := browsertest.Eval[string](wb, `document.querySelector("#play").title`)
	if !strings.Contains(reason, "Only the owner") {
		t.Errorf("the disabled play button's reason is %q", reason)
	}
	wb.Click("#play")
	wb.WaitText("#toasts", "Only the owner")
	if browsertest.Eval[bool](wb, `!document.querySelector("#seek").disabled || !document.querySelector("#playback-rate").disabled`) {
		t.Error("seek or speed enabled for a member who may not control playback")
	}
	// Volume, by keyboard on the slider.
	wb.Do("focus the volume", chromedpFocus("#volume"))
	wb.Press(kb.ArrowLeft)
	wb.Press(kb.ArrowLeft)
	wb.WaitJS(`Math.abs(document.querySelector("#player video").volume - 0.9) < 0.001`)
	wb.Click("#mute")
	wb.WaitJS(`document.querySelector("#player video").muted === true`)
	// Subtitles: on in the browser's language, another one by choice.
	wb.WaitJS(`document.querySelector("#captions").options.length === 3`)
	wb.WaitJS(`(() => { const t = [...document.querySelector("#player video").textTracks]; const en = t.find(x => x.language === "en");
	  return en && en.mode === "showing" && en.cues && en.cues.length === 1; })()`)
	wb.Do("pick French subtitles", chromedpSelect("#captions", strconv.Itoa(browsertest.Eval[int](wb, `[...document.querySelector("#player video").textTracks].findIndex(x => x.language === "fr")`))))
	wb.WaitJS(`(() => { const t = [...document.querySelector("#player video").textTracks]; return t.find(x => x.language === "fr").mode === "showing" && t.find(x => x.language === "en").mode === "disabled"; })()`)
	// Picture-in-picture and fullscreen stay this member's own.
	wb.Click("#pip")
	wb.WaitJS(`document.pictureInPictureElement === document.querySelector("#player video")`)
	wb.Click("#pip")
	wb.WaitJS(`document.pictureInPictureElement === null`)
	// (Wait for the fullscreen layout before the second click, as above: a
	// click aimed at the control bar before it moved misses it.)
	wb.Click("#fullscreen")
	wb.WaitJS(`document.fullscreenElement !== null && document.querySelector("#room").hasAttribute("data-immersive")`)
	wb.Click("#fullscreen")
	wb.WaitJS(`document.fullscreenElement === null`)

	// ---- the keyboard alone ----
	focusWalk(t, wb)
	wb.Do("leave the composer", chromedpEval(`document.activeElement.blur()`))
	wb.Press("/")
	wb.WaitJS(`document.activeElement === document.querySelector("#chat-input")`)
	wb.Do("type a line", chromedpKeys("by keyboard\r"))
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "by keyboard")`)
	// The owner plays with k; everyone's players run.
	wa.Do("blur", chromedpEval(`document.activeElement.blur()`))
	wa.Press("k")
	wb.WaitJS(`!document.querySelector("#player video").paused`)
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .activity")].some(e => e.textContent.includes("Ann played"))`)

	// ---- a removed guest sees why, and the player stops ----
	gus.WaitJS(`document.querySelector("#player video") !== null && !document.querySelector("#player video").paused`)
	wa.Click("#tab-people")
	// People says in words how each member's playback is doing, the offset as a detail.
	wa.WaitJS(`[...document.querySelectorAll("#members li[data-presence] .sync-tag")].some((e) =>
	  ({ ok: "in sync", catching: "catching up", off: "out of sync", buffering: "buffering" })[e.dataset.sync] === e.textContent &&
	  / ms from the room's position$/.test(e.title))`)
	wa.Click(`#members li[data-presence] button[aria-label="Remove Gus from the room"]`)
	wa.WaitVisible("#confirm-dialog")
	wa.Click("#confirm-ok")
	gus.WaitJS(`!document.querySelector("#ended").hidden`)
	gus.WaitText("#ended-title", "You were removed")
	if browsertest.Eval[bool](gus, `(() => { const v = document.querySelector("#player video"); return v !== null && !v.paused; })()`) {
		t.Error("the removed guest's player still plays")
	}
	axeCheck(t, gus, axe, "removed overlay")

	// ---- the owner's Settings list Gus as removed (the page was loaded before), and let him back ----
	wa.Click("#settings-open")
	wa.WaitJS(`!document.querySelector("#banned-box").hidden && [...document.querySelectorAll("#banned li span")].some(e => e.textContent === "Gus")`)
	wa.Click(`#banned button[data-unban]`)
	wa.WaitJS(`document.querySelector("#banned-box").hidden && document.querySelectorAll("#banned li").length === 0`)
	wa.Press("\x1b")
	wa.WaitJS(`!document.querySelector("#settings-dialog").open`)

	// ---- the owner deletes the room: everyone is told ----
	wa.Click("#settings-open")
	wa.Click("#set-delete")
	wa.WaitVisible("#confirm-dialog")
	wa.ClickNavigate("#confirm-ok")
	wa.WaitURL(`/$`)
	wb.WaitText("#ended-title", "This room was deleted")
	if browsertest.Eval[bool](wb, `document.querySelector("#player video") !== null`) {
		t.Error("the player stays after the room was deleted")
	}

	for _, w := range []*browsertest.Window{wa, wb, gus, side} {
		for _, e := range w.Errors() {
			if !strings.Contains(e, "favicon") {
				t.Errorf("%s: browser error: %s", w.Name(), e)
			}
		}
	}
}

// focusWalk tabs through the room and checks that the keyboard reaches
// every part of it, with a visible focus, without getting stuck.
func focusWalk(t *testing.T, w *browsertest.Window) {
	t.Helper()
	w.Do("start at the top", chromedpEval(`document.activeElement.blur(), window.focus()`))
	seen := map[string]bool{}
	var order []string
	for i := 0; i < 60; i++ {
		w.Press("\t")
		id := browsertest.Eval[string](w, `(() => { const e = document.activeElement; if (!e || e === document.body) return "body";
		  const r = e.getBoundingClientRect(); const tag = e.id ? "#" + e.id : e.tagName.toLowerCase() + "." + e.className;
		  return (r.width > 0 && r.height > 0 ? "" : "HIDDEN ") + tag; })()`)
		if strings.HasPrefix(id, "HIDDEN") {
			t.Errorf("focus went to an invisible element: %s", id)
		}
		order = append(order, id)
		seen[id] = true
	}
	for _, want := range []string{"#invite-open", "#play", "#mute", "#fullscreen", "#tab-chat", "#chat-input", "#chat-send", "#emoji-open"} {
		if !seen[want] {
			t.Errorf("the keyboard never reaches %s; order: %s", want, strings.Join(order, " "))
		}
	}
}

// emulateMotion makes w's page see prefers-reduced-motion: value.
func emulateMotion(w *browsertest.Window, value string) {
	w.Do("emulate prefers-reduced-motion: "+value, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: value}},
		})
		return err
	}))
}
