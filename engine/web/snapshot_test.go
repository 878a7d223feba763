package web_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/media/mediatest"
)

// snapshotOf returns the playback snapshot the room page carries, nil when
// it carries none.
func snapshotOf(t *testing.T, page string) map[string]any {
	t.Helper()
	const open = `<script type="application/json" id="playback-snapshot">`
	i := strings.Index(page, open)
	if i < 0 {
		return nil
	}
	raw, _, ok := strings.Cut(page[i+len(open):], "</script>")
	if !ok {
		t.Fatal("the snapshot's script element is not closed")
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("the snapshot is not JSON: %v\n%s", err, raw)
	}
	return out
}

// TestRoomPageCarriesPlaybackSnapshot: a room that plays a library file
// renders its playback (state, the play answer, the server's clock) into
// its page, which is never kept; a room with nothing on carries none, and
// neither does a page for someone who is not a member.
func TestRoomPageCarriesPlaybackSnapshot(t *testing.T) {
	dir := t.TempDir()
	mediatest.Make(t, dir, mediatest.MP4, "clip <b>.mp4")
	srv := apptest.StartServer(t, func(c *config.Config) { c.Media.Dir = dir })
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "Snap")

	resp, page := ann.Client.Get(t, "/r/"+code)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("room page: %s, Cache-Control %q; want 200, no-store", resp.Status, resp.Header.Get("Cache-Control"))
	}
	if s := snapshotOf(t, page); s != nil {
		t.Fatalf("a room with nothing on carries a snapshot: %v", s)
	}

	a, _, err := dialRoom(t, srv, ann.Client, code, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, a, "hello")
	// Sharing the file probes it (the snapshot takes only a stored probe).
	if r, body := ann.Client.Get(t, "/r/"+code+"/media/play?f=clip%20%3Cb%3E.mp4"); r.StatusCode != http.StatusOK {
		t.Fatalf("play answer: %s %s", r.Status, body)
	}
	for _, m := range []string{`{"type":"video","url":"media:clip <b>.mp4"}`, `{"type":"play"}`} {
		if err := a.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for {
		if st, _ := readMsg(t, a, "playback")["state"].(map[string]any); st != nil && st["playing"] == true {
			break
		}
	}

	resp, page = ann.Client.Get(t, "/r/"+code)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("room page with a snapshot: Cache-Control %q; want no-store", resp.Header.Get("Cache-Control"))
	}
	s := snapshotOf(t, page)
	if s == nil {
		t.Fatal("a room playing a library file carries no snapshot")
	}
	st, _ := s["state"].(map[string]any)
	play, _ := s["play"].(map[string]any)
	video, _ := s["video"].(map[string]any)
	if st == nil || st["source"] != "media:clip <b>.mp4" || st["playing"] != true || video["url"] != st["source"] {
		t.Errorf("snapshot state %v, video %v; want the room's, playing", st, video)
	}
	if u, _ := play["url"].(string); play["mode"] != "direct" || !strings.Contains(u, "/media/file/clip%20%3Cb%3E.mp4?v=") {
		t.Errorf("snapshot play answer %v; want the file's versioned URL, direct", play)
	}
	if aim, _ := s["aim"].(map[string]any); aim == nil || aim["ms"] != float64(330) || aim["trips"] != float64(4) || aim["min"] != float64(800) || aim["slack"] != float64(200) {
		t.Errorf("snapshot aim %v; want 330 ms, 4 round trips, at least 800 ms, 200 ms over a learned cost", s["aim"])
	}
	if now, _ := s["now"].(float64); now < st["updatedAt"].(float64)-2000 {
		t.Errorf("snapshot clock %v is before the state it holds (%v)", now, st["updatedAt"])
	}
	// The page asks for the file before its scripts: no Link header
	// preloads them and no script element names them; the head adds them
	// from the snapshot (the entry, then the room module), after the import
	// map. Each inline script is allowed by its hash.
	if link := resp.Header.Get("Link"); link != "" {
		t.Errorf("room page with a snapshot: Link %q; want none (its scripts come after the file's tail)", link)
	}
	if strings.Contains(page, `<script type="module"`) {
		t.Error("room page with a snapshot names its module scripts in its markup")
	}
	scripts, _ := s["scripts"].([]any)
	if len(scripts) != 2 || !regexp.MustCompile(`^/static/[0-9a-f]+/js/room\.js$`).MatchString(fmt.Sprint(scripts[0])) ||
		!regexp.MustCompile(`^/static/[0-9a-f]+/js/room/app\.js$`).MatchString(fmt.Sprint(scripts[1])) {
		t.Errorf("snapshot scripts %v; want the versioned entry and room module", s["scripts"])
	}
	head, _, _ := strings.Cut(page, "</head>")
	if i, j := strings.Index(head, `<script type="importmap">`), strings.Index(head, `id="playback-snapshot"`); i < 0 || j < i {
		t.Error("the snapshot is not in the page's head after the import map")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	inline := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(inline) != 3 || !strings.Contains(head, inline[1][0]) || !strings.Contains(inline[1][1], "fetch(") {
		t.Errorf("room page with a snapshot has %d inline scripts; want the socket's and the file's in its head, the player's in its body", len(inline))
	}
	for _, m := range inline {
		sum := sha256.Sum256([]byte(m[1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, h) {
			t.Errorf("the policy does not allow an inline script (%s): %.60s", h, m[1])
		}
	}

	// The file's name is text in the page: no markup of it reaches the HTML.
	if strings.Contains(page, "clip <b>") || !strings.Contains(html.UnescapeString(page), "clip") {
		t.Error("the file name is in the page unescaped")
	}

	// Someone who is not a member gets the join page, without a snapshot.
	bob := srv.SignUp(t, "Bob")
	if _, page := bob.Client.Get(t, "/r/"+code); snapshotOf(t, page) != nil {
		t.Error("a non-member's page carries the room's snapshot")
	}
}
