package room

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"watchparty/engine/room/proto"
)

func TestHelloAndFanOutInOrder(t *testing.T) {
	svc, _ := newService(t, Options{ChatPer10s: 1000})
	in := mustCreate(t, svc, ann, "Film club")
	mustJoin(t, svc, in.Code, bob)
	mustJoin(t, svc, in.Code, cat)
	base := serveRooms(t, svc)

	a := dial(t, base, in.Code, ann)
	h := a.expect("hello")
	if h["v"] != float64(proto.Version) {
		t.Fatalf("hello version %v", h["v"])
	}
	you := h["you"].(map[string]any)
	if you["id"] != ann.ID || you["role"] != "owner" {
		t.Fatalf("hello you = %v", you)
	}
	room := h["room"].(map[string]any)
	if room["code"] != in.Code || room["name"] != "Film club" || room["display"] != FormatCode(in.Code) {
		t.Fatalf("hello room = %v", room)
	}
	if _, ok := room["settings"].(map[string]any); !ok {
		t.Fatalf("hello has no settings: %v", room)
	}
	members := h["members"].([]any)
	if len(members) != 3 {
		t.Fatalf("hello members = %v", members)
	}
	presence := map[string]string{}
	for _, m := range members {
		mm := m.(map[string]any)
		presence[mm["id"].(string)] = mm["presence"].(string)
	}
	if presence[ann.ID] != proto.PresenceOnline || presence[bob.ID] != proto.PresenceOffline {
		t.Fatalf("presence in hello: %v", presence)
	}
	if st, ok := h["time"].(float64); !ok || st < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("hello time %v", h["time"])
	}
	if _, ok := h["video"]; !ok {
		t.Fatal("hello has no video field")
	}
	if _, ok := h["chat"].([]any); !ok {
		t.Fatalf("hello chat = %v", h["chat"])
	}

	b := dial(t, base, in.Code, bob)
	b.expect("hello")
	c := dial(t, base, in.Code, cat)
	c.expect("hello")
	// Ann sees the others come online.
	for seen := map[string]bool{}; !seen[cat.ID]; {
		m := a.expect("member")["member"].(map[string]any)
		if m["presence"] == proto.PresenceOnline {
			seen[m["id"].(string)] = true
		}
	}

	const n = 60
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprintf("line %d", i), "ref": fmt.Sprint("r", i)})
	}
	var firstSeq float64
	for _, cl := range []*testClient{a, b, c} {
		var last float64
		for i := range n {
			m := cl.expectChat()
			if i == 0 {
				firstSeq = m["seq"].(float64)
			}
			if m["text"] != fmt.Sprintf("line %d", i) || m["user"] != ann.ID || m["name"] != "Ann" {
				t.Fatalf("line %d: got %v", i, m)
			}
			seq := m["seq"].(float64)
			if seq <= last {
				t.Fatalf("seq %v after %v", seq, last)
			}
			last = seq
			if m["ref"] != fmt.Sprint("r", i) {
				t.Fatalf("line %d lost its ref: %v", i, m)
			}
			if _, ok := m["time"].(float64); !ok {
				t.Fatalf("line %d has no time", i)
			}
		}
	}

	// Typing goes to the others, not back to the typist.
	b.send(map[string]any{"type": "typing", "on": true})
	if m := a.expect("typing"); m["user"] != bob.ID || m["on"] != true {
		t.Fatalf("typing: %v", m)
	}
	// Reactions toggle per user.
	b.send(map[string]any{"type": "react", "seq": firstSeq, "emoji": "👍"})
	if m := c.expect("react"); m["user"] != bob.ID || m["on"] != true || m["seq"] != firstSeq {
		t.Fatalf("react: %v", m)
	}
	b.send(map[string]any{"type": "react", "seq": firstSeq, "emoji": "👍"})
	if m := c.expect("react"); m["on"] != false {
		t.Fatalf("second react should toggle off: %v", m)
	}
	b.send(map[string]any{"type": "react", "seq": firstSeq, "emoji": "🍕"})
	if m := b.expect("error"); m["code"] != proto.CodeBadMessage {
		t.Fatalf("unlisted emoji: %v", m)
	}
	// Presence.
	c.send(map[string]any{"type": "presence", "state": "away"})
	for {
		m := a.expect("member")["member"].(map[string]any)
		if m["id"] == cat.ID && m["presence"] == proto.PresenceAway {
			break
		}
	}
	// Video: a bad link is refused with a clear error; a good one reaches all.
	c.send(map[string]any{"type": "video", "url": "ftp://nope", "ref": "v1"})
	if m := c.expect("error"); m["code"] != proto.CodeBadLink || m["ref"] != "v1" || !strings.Contains(m["text"].(string), "YouTube") {
		t.Fatalf("bad link: %v", m)
	}
	c.send(map[string]any{"type": "video", "url": "https://example.org/clip.webm"})
	for _, cl := range []*testClient{a, b, c} {
		v := cl.expect("video")["video"].(map[string]any)
		if v["url"] != "https://example.org/clip.webm" || v["kind"] != "file" || v["by"] != cat.ID {
			t.Fatalf("video: %v", v)
		}
		m := cl.expect("chat")
		if m["system"] != true || !strings.Contains(m["text"].(string), "Cat shared a video") {
			t.Fatalf("video system line: %v", m)
		}
		// Pages translate system lines from their key and values.
		if args, _ := m["args"].(map[string]any); m["key"] != "video" || args["name"] != "Cat" || args["what"] == "" {
			t.Fatalf("video system line's key and args: %v", m)
		}
	}
	// Clock pings are answered with the server time.
	a.send(map[string]any{"type": "ping", "t": 12345.5})
	if m := a.expect("pong"); m["t"] != 12345.5 || m["s"].(float64) <= 0 {
		t.Fatalf("pong: %v", m)
	}
}

func TestHistoryOnRejoinAndRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	svc := New(Options{Repo: NewBadger(st), Log: quietLog(), ParseLink: testLink, ChatPer10s: 1000})
	base := serveRooms(t, svc)
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)

	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	const n = HistoryLines + 30
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprint("m", i)})
	}
	var lastSeq float64
	for range n {
		lastSeq = a.expectChat()["seq"].(float64)
	}
	a.send(map[string]any{"type": "video", "url": "https://youtu.be/dQw4w9WgXcQ"})
	a.expect("video")

	check := func(c *testClient) {
		t.Helper()
		h := c.expect("hello")
		chat := h["chat"].([]any)
		if len(chat) != HelloLines || h["history_more"] != true {
			t.Fatalf("hello has %d lines (more: %v), want the newest %d and more", len(chat), h["history_more"], HelloLines)
		}
		// Older pages, down to the oldest kept line.
		for more := true; more; {
			first := chat[0].(map[string]any)["seq"].(float64)
			c.send(map[string]any{"type": "history", "seq": first, "ref": "h"})
			p := c.expect("history")
			older := p["lines"].([]any)
			if len(older) == 0 || older[len(older)-1].(map[string]any)["seq"].(float64) != first-1 {
				t.Fatalf("history page before %v: %d lines", first, len(older))
			}
			chat = append(older, chat...)
			more = p["more"] == true
		}
		// The member's own "joined" line, after its hello, pushed the oldest
		// of the kept lines out.
		if len(chat) != HistoryLines-1 {
			t.Fatalf("history has %d lines, want %d", len(chat), HistoryLines-1)
		}
		var texts []string
		for _, l := range chat {
			lm := l.(map[string]any)
			if lm["system"] != true {
				texts = append(texts, lm["text"].(string))
			}
		}
		if texts[len(texts)-1] != fmt.Sprint("m", n-1) {
			t.Fatalf("history ends with %q", texts[len(texts)-1])
		}
		if chat[len(chat)-1].(map[string]any)["seq"].(float64) <= lastSeq {
			t.Fatal("history misses the video line")
		}
		if v, _ := h["video"].(map[string]any); v["id"] != "dQw4w9WgXcQ" {
			t.Fatalf("video in hello: %v", h["video"])
		}
	}
	b := dial(t, base, in.Code, bob)
	check(b)

	// Restart the service on the same directory.
	a.close()
	b.close()
	svc.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, dir)
	defer st2.Close()
	svc2 := New(Options{Repo: NewBadger(st2), Log: quietLog(), ParseLink: testLink})
	defer svc2.Close()
	base2 := serveRooms(t, svc2)
	b2 := dial(t, base2, in.Code, bob)
	check(b2)
	// Sequence numbers continue after the restart.
	b2.send(map[string]any{"type": "chat", "text": "after"})
	if seq := b2.expectChat()["seq"].(float64); seq <= lastSeq+1 {
		t.Fatalf("seq after restart %v, last before %v", seq, lastSeq)
	}
}

func TestChatRateLimit(t *testing.T) {
	svc, _ := newService(t, Options{ChatPer10s: 3})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	for i := range 5 {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprint("x", i), "ref": fmt.Sprint(i)})
	}
	got, limited := 0, 0
	for got+limited < 5 {
		m, err := a.next()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case m["type"] == "chat" && m["system"] != true:
			got++
		case m["type"] == "error":
			if m["code"] != proto.CodeRateLimited || m["retry_ms"].(float64) <= 0 || !strings.Contains(m["text"].(string), "3 messages per 10 seconds") {
				t.Fatalf("rate limit error: %v", m)
			}
			limited++
		}
	}
	if got != 3 || limited != 2 {
		t.Fatalf("%d sent, %d limited; want 3 and 2", got, limited)
	}
}

// TestArgsJSON: a system line's values read and write as the JSON object
// they always were (pages and stored lines use it), keys in order.
func TestArgsJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Args
	}{
		{name: "one", in: `{"name":"Ann"}`, want: Args{"name", "Ann"}},
		{name: "sorted", in: `{"what":"a clip","name":"Bob"}`, want: Args{"name", "Bob", "what", "a clip"}},
		{name: "escaped", in: `{"name":"\"<b>\"\n"}`, want: Args{"name", "\"<b>\"\n"}},
		{name: "empty", in: `{}`, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l Line
			if err := json.Unmarshal([]byte(`{"seq":1,"text":"x","time":0,"args":`+tc.in+`}`), &l); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Args, tc.want) {
				t.Fatalf("read %v, want %v", l.Args, tc.want)
			}
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Args map[string]string `json:"args"`
			}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			var want map[string]string
			_ = json.Unmarshal([]byte(tc.in), &want)
			if len(want) == 0 {
				want = nil
			}
			if !maps.Equal(back.Args, want) {
				t.Fatalf("wrote %s", b)
			}
		})
	}
	var l Line
	if err := json.Unmarshal([]byte(`{"args":{"name":1}}`), &l); err == nil {
		t.Fatal("a number among the values was taken")
	}
}
