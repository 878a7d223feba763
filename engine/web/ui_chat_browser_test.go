//go:build browser

package web_test

import (
	"strings"
	"testing"

	"watchparty/config"
	"watchparty/engine/browsertest"
)

// TestBrowserRoomChatHistory: a member opening a room with a long chat sees
// every line of the hello in order (the page shows the newest first and the
// older ones when it is idle), grouped under one avatar, scrolled to the
// newest, and can react to an old line.
func TestBrowserRoomChatHistory(t *testing.T) {
	rig := newUIRig(t, func(c *config.Config) { c.Limits.ChatPer10s = 100 })
	ann, bob, code := rig.ownerAndMember(t, "History")
	conn, _, err := dialRoom(t, rig.srv, ann.Client, code, "http://"+rig.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, conn, "hello")
	const n = 35
	var want []string
	for i := 0; i < n; i++ {
		text := "line " + itoa(i)
		want = append(want, text)
		if err := conn.WriteJSON(map[string]any{"type": "chat", "text": text}); err != nil {
			t.Fatal(err)
		}
		for { // the echo, after the server's own lines (joins)
			got := readMsg(t, conn, "chat")
			if got["text"] == text {
				break
			}
			if got["system"] != true {
				t.Fatalf("echo %d: %v", i, got)
			}
		}
	}

	wb := rig.person(t, "bob", bob, 1366, 800)
	enterRoom(wb, rig.srv.URL, code)
	wb.WaitJS(`document.querySelectorAll("#chat-log .line .text").length === ` + itoa(n))
	got := browsertest.Eval[[]string](wb, `[...document.querySelectorAll("#chat-log .line .text")].map((e) => e.textContent)`)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines: %v", got)
	}
	// One member's lines in a row: grouped under one head (avatar, name).
	if a := browsertest.Eval[int](wb, `document.querySelectorAll("#chat-log .line:not(.cont)").length`); a != 1 {
		t.Errorf("%d avatars for one member's lines in a row", a)
	}
	// Scrolled to the newest line once the older ones are in.
	wb.WaitJS(`(() => { const s = document.querySelector("#chat-scroll");
	  return s.scrollHeight > s.clientHeight && s.scrollHeight - s.scrollTop - s.clientHeight < 2; })()`)

	// Reacting to the first line, which came in when the page was idle.
	first := `#chat-log .line[data-seq="` + browsertest.Eval[string](wb, `document.querySelector("#chat-log .line").dataset.seq`) + `"]`
	wb.Click(first + ` .react-more`)
	wb.Click(first + ` .picker button[data-emoji="👍"]`)
	wb.WaitJS(`[...document.querySelectorAll('` + first + ` .reacts > button')].some((b) => b.textContent === "👍 1")`)
}
