//go:build browser

package web_test

import (
	"regexp"
	"strings"
	"testing"

	"watchparty/engine/browsertest"
)

// TestBrowserRoomScreens looks at every page in both themes and compares it
// with its baseline in docs/screens (the README shows the room's): home,
// invite, refusal, and the room on a laptop (1366x800), a phone (390x844)
// and a phone held sideways (844x390). axe-core checks each of them.
func TestBrowserRoomScreens(t *testing.T) {
	rig := newUIRig(t, nil)
	axe := axeSource(t)
	ann, bob, code := rig.ownerAndMember(t, "Friday film")
	_, page := ann.Client.Get(t, "/r/"+code)
	invite := regexp.MustCompile(`/i/[A-Za-z0-9_-]+`).FindString(page)

	// The room: a library video with subtitles, a few chat lines.
	wa := rig.person(t, "ann", ann, 1366, 800)
	enterRoom(wa, rig.srv.URL, code)
	playLibraryClip(wa)
	for _, line := range []string{"Popcorn is ready 🍿", "Starting in a minute", "@Bob are you here?"} {
		wa.Fill("#chat-input", line)
		wa.Press("\r")
	}
	wb := rig.person(t, "bob", bob, 1366, 800)
	enterRoom(wb, rig.srv.URL, code)
	wb.Fill("#chat-input", "Here! Can't wait.")
	wb.Press("\r")
	wa.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent.includes("Can't wait"))`)

	visitor := rig.person(t, "visitor", nil, 1366, 800)
	owner := rig.person(t, "owner", ann, 390, 844)
	phone := rig.person(t, "phone", bob, 390, 844)
	enterRoom(phone, rig.srv.URL, code)
	side := rig.person(t, "side", bob, 844, 390)
	enterRoom(side, rig.srv.URL, code)

	for _, dark := range []bool{false, true} {
		theme := "light"
		if dark {
			theme = "dark"
		}
		for _, w := range []*browsertest.Window{wa, visitor, phone, side, owner} {
			w.EmulateColorScheme(dark)
		}
		check := func(w *browsertest.Window, name string) {
			t.Helper()
			w.WaitJS(`document.fonts.status === "loaded"`)
			compareScreen(t, name+"-"+theme, shot(t, w, name+"-"+theme), 0.02)
			axeCheck(t, w, axe, name+" ("+theme+")")
		}
		check(wa, "room-desktop")
		check(phone, "room-phone")
		check(side, "room-landscape")
		visitor.Navigate(rig.srv.URL + "/")
		check(visitor, "home")
		owner.Navigate(rig.srv.URL + "/")
		check(owner, "home-phone-owner")
		// The account pages: axe only.
		for _, p := range []struct {
			w    *browsertest.Window
			path string
		}{{visitor, "/login"}, {visitor, "/signup"}, {owner, "/account"}, {visitor, "/?lang=de"}, {visitor, "/?lang=en"}} {
			p.w.Navigate(rig.srv.URL + p.path)
			axeCheck(t, p.w, axe, p.path+" ("+theme+")")
		}
		visitor.Navigate(rig.srv.URL + invite)
		check(visitor, "invite")
		visitor.Navigate(rig.srv.URL + "/join?code=nope")
		check(visitor, "refusal")
	}
	for _, w := range []*browsertest.Window{wa, wb, phone, side, visitor, owner} {
		for _, e := range w.Errors() {
			if !strings.Contains(e, "favicon") {
				t.Errorf("%s: browser error: %s", w.Name(), e)
			}
		}
	}
}
