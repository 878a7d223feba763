package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/room"
	"watchparty/engine/room/proto"
	"watchparty/engine/room/roomtest"
)

var codeInPath = regexp.MustCompile(`/r/([A-Z0-9]{10})$`)

// createRoom posts the home page's form and returns the new room's code.
func createRoom(t testing.TB, c *apptest.Client, name string) string {
	t.Helper()
	resp, _ := c.PostForm(t, "/rooms", url.Values{"name": {name}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create room: %s", resp.Status)
	}
	m := codeInPath.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("create room redirected to %q", resp.Header.Get("Location"))
	}
	return m[1]
}

// dialRoom opens the room websocket with c's cookies and the given Origin.
func dialRoom(t *testing.T, srv *apptest.Server, c *apptest.Client, code, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return dialWS(t, srv, c, "/r/"+code+"/ws", origin)
}

// dialWS opens the websocket at path with c's cookies and the given Origin.
func dialWS(t *testing.T, srv *apptest.Server, c *apptest.Client, path, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if c != nil {
		u, _ := url.Parse(srv.URL + "/")
		var parts []string
		for _, ck := range c.Jar.Cookies(u) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+srv.Addr+path, h)
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

// inboxes hands out each connection's messages one at a time: the server
// batches several messages into one frame.
var inboxes = struct {
	sync.Mutex
	m map[*websocket.Conn]*roomtest.Inbox
}{m: map[*websocket.Conn]*roomtest.Inbox{}}

// readMsg returns the next message of type typ on conn, skipping others.
func readMsg(t *testing.T, conn *websocket.Conn, typ string) map[string]any {
	t.Helper()
	inboxes.Lock()
	in := inboxes.m[conn]
	if in == nil {
		in = &roomtest.Inbox{Frame: func() ([]byte, error) {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := conn.ReadMessage()
			return data, err
		}}
		inboxes.m[conn] = in
	}
	inboxes.Unlock()
	return in.Expect(t, typ)
}

func TestRoomPagesAndWebsocketChecks(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	origin := "http://" + srv.Addr

	code := createRoom(t, ann.Client, "Film club")
	resp, body := ann.Client.Get(t, "/r/"+code)
	if resp.StatusCode != 200 || !strings.Contains(body, room.FormatCode(code)) || !strings.Contains(body, "Film club") {
		t.Fatalf("room page: %s", resp.Status)
	}
	// The code is accepted in any case and with the dash.
	resp, _ = ann.Client.Get(t, "/r/"+strings.ToLower(room.FormatCode(code)))
	if resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(resp.Header.Get("Location"), "/r/"+code) {
		t.Fatalf("lower-case code: %s %s", resp.Status, resp.Header.Get("Location"))
	}

	// Unauthenticated: refused before the upgrade.
	if _, resp, err := dialRoom(t, srv, nil, code, origin); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated websocket: %v %v", err, resp)
	}
	// Wrong or missing origin.
	if _, resp, err := dialRoom(t, srv, ann.Client, code, "http://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin websocket: %v %v", err, resp)
	}
	if _, resp, err := dialRoom(t, srv, ann.Client, code, ""); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket without origin: %v %v", err, resp)
	}
	// Not a member yet.
	if _, resp, err := dialRoom(t, srv, bob.Client, code, origin); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("non-member websocket: %v %v", err, resp)
	}
	if _, resp, err := dialRoom(t, srv, bob.Client, "ABCDEFGHJK", origin); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown room websocket: %v %v", err, resp)
	}
	resp, body = bob.Client.Get(t, "/r/"+code)
	if resp.StatusCode != 200 || !strings.Contains(body, "Join this room") {
		t.Fatalf("non-member room page: %s", resp.Status)
	}

	// Join by code from the home page form, then connect.
	resp, _ = bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {strings.ToLower(room.FormatCode(code))}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join by code: %s", resp.Status)
	}
	a, _, err := dialRoom(t, srv, ann.Client, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, a, "hello")
	b, _, err := dialRoom(t, srv, bob.Client, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	h := readMsg(t, b, "hello")
	if h["you"].(map[string]any)["name"] != "Bob" || h["room"].(map[string]any)["name"] != "Film club" {
		t.Fatalf("hello: %v", h)
	}
	if err := b.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"hi Ann"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		if m := readMsg(t, a, "chat"); m["text"] == "hi Ann" {
			break
		}
	}
	// Real link parsing: a YouTube short link with a start time.
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"video","url":"https://youtu.be/dQw4w9WgXcQ?t=42"}`)); err != nil {
		t.Fatal(err)
	}
	v := readMsg(t, b, "video")["video"].(map[string]any)
	if v["kind"] != "youtube" || v["id"] != "dQw4w9WgXcQ" || v["start"] != float64(42) {
		t.Fatalf("video: %v", v)
	}
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"video","url":"https://example.org/page.html","ref":"v1"}`)); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, a, "error"); m["code"] != proto.CodeBadLink || !strings.Contains(m["text"].(string), "YouTube") {
		t.Fatalf("bad link: %v", m)
	}
	// A direct link into the members' own network is refused by default
	// (links.allow_private_hosts), whatever form the address takes.
	for _, u := range []string{"http://192.168.1.1/admin.mp4", "http://2130706433/a.mp4", "http://nas.local/a.mp4"} {
		if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"video","url":"`+u+`","ref":"v2"}`)); err != nil {
			t.Fatal(err)
		}
		if m := readMsg(t, a, "error"); m["code"] != proto.CodeBadLink || !strings.Contains(m["text"].(string), "links.allow_private_hosts") {
			t.Fatalf("private link %s: %v", u, m)
		}
	}

	// Home pages list the rooms.
	if _, body := ann.Client.Get(t, "/"); !strings.Contains(body, "My rooms") || !strings.Contains(body, "Film club") {
		t.Fatal("ann's home page does not list her room")
	}
	if _, body := bob.Client.Get(t, "/"); !strings.Contains(body, "Recently visited") || !strings.Contains(body, "/r/"+code) {
		t.Fatal("bob's home page does not list the visited room")
	}

	// Owner actions over HTTP reach the connected members.
	resp, _ = bob.Client.PostForm(t, "/r/"+code+"/rename", url.Values{"name": {"Bob's now"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("member rename: %s", resp.Status)
	}
	resp, _ = ann.Client.PostForm(t, "/r/"+code+"/rename", url.Values{"name": {"Cinema"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner rename: %s", resp.Status)
	}
	if r := readMsg(t, b, "room")["room"].(map[string]any); r["name"] != "Cinema" {
		t.Fatalf("room update: %v", r)
	}
	var bobID string
	for _, m := range h["members"].([]any) {
		if mm := m.(map[string]any); mm["name"] == "Bob" {
			bobID = mm["id"].(string)
		}
	}
	resp, _ = ann.Client.PostForm(t, "/r/"+code+"/kick", url.Values{"user": {bobID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("kick: %s", resp.Status)
	}
	if m := readMsg(t, b, "closed"); m["code"] != proto.ReasonKicked {
		t.Fatalf("kicked: %v", m)
	}
	if _, resp, err := dialRoom(t, srv, bob.Client, code, origin); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("kicked member reconnecting: %v %v", err, resp)
	}
	resp, body = bob.Client.Get(t, "/r/"+code)
	if !strings.Contains(body, "removed you") && !strings.Contains(body, "were removed") {
		t.Fatalf("kicked member's room page: %s", resp.Status)
	}
	// The owner's Settings dialog asks for the removed members; nobody else may.
	resp, body = ann.Client.Get(t, "/r/"+code+"/banned")
	if want := `{"banned":[{"id":"` + bobID + `","name":"Bob"}]}`; resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("removed members: %s %s, want %s", resp.Status, body, want)
	}
	if resp, _ = bob.Client.Get(t, "/r/"+code+"/banned"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the removed member asks for the list: %s", resp.Status)
	}
}

func TestGuestJoinsByInvite(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) { c.Guests.Allowed = true })
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "")
	_, body := ann.Client.Get(t, "/r/"+code)
	m := regexp.MustCompile(`/i/([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no invite link on the owner's room page")
	}
	invite := "/i/" + m[1]

	// A new room lets guests in; the owner turns that off here.
	guest := srv.Client(t)
	if _, body := guest.Get(t, invite); !strings.Contains(body, `id="guest-name"`) {
		t.Fatal("a new room's invite page has no guest form")
	}
	resp, _ := ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"guests_allowed": {"0"}, "control": {"everyone"}, "change_video": {"everyone"}, "manage_queue": {"everyone"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s", resp.Status)
	}
	resp, body = guest.Get(t, invite)
	if resp.StatusCode != 200 || strings.Contains(body, `id="guest-name"`) {
		t.Fatalf("invite page with guests off: %s", resp.Status)
	}
	resp, _ = guest.PostForm(t, invite, url.Values{"name": {"Gus"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("guest join with guests off: %s", resp.Status)
	}
	resp, _ = ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"guests_allowed": {"1"}, "control": {"everyone"}, "change_video": {"everyone"}, "manage_queue": {"everyone"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s", resp.Status)
	}
	if _, body := guest.Get(t, invite); !strings.Contains(body, `id="guest-name"`) {
		t.Fatal("no guest form on the invite page")
	}
	resp, _ = guest.PostForm(t, invite, url.Values{"name": {"Gus"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/r/"+code) {
		t.Fatalf("guest join: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	g, _, err := dialRoom(t, srv, guest, code, "http://"+srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	h := readMsg(t, g, "hello")
	if you := h["you"].(map[string]any); you["name"] != "Gus" || you["guest"] != true {
		t.Fatalf("guest hello: %v", you)
	}
	// A guest cannot create rooms or wander into other rooms.
	if resp, _ := guest.PostForm(t, "/rooms", url.Values{"name": {"x"}}); resp.StatusCode == http.StatusSeeOther && codeInPath.MatchString(resp.Header.Get("Location")) {
		t.Fatal("a guest created a room")
	}
	other := createRoom(t, ann.Client, "other")
	if _, resp, err := dialRoom(t, srv, guest, other, "http://"+srv.Addr); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("guest in another room: %v", err)
	}

	// Revoking the invite makes the old link useless.
	resp, _ = ann.Client.PostForm(t, "/r/"+code+"/invite", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", resp.Status)
	}
	if resp, _ := srv.Client(t).Get(t, invite); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("old invite after revoke: %s", resp.Status)
	}
}

func TestRoomWebsocketsPerIPLimit(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) { c.Limits.ConnsPerIP = 2 })
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "")
	origin := "http://" + srv.Addr
	var open []*websocket.Conn
	for range 2 {
		c, _, err := dialRoom(t, srv, ann.Client, code, origin)
		if err != nil {
			t.Fatal(err)
		}
		readMsg(t, c, "hello")
		open = append(open, c)
	}
	third, _, err := dialRoom(t, srv, ann.Client, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, third, "error"); m["code"] != "too_many_connections" {
		t.Fatalf("third connection from one address: %v", m)
	}
	// Closing one makes room for another.
	open[0].Close()
	for range 200 {
		c, _, err := dialRoom(t, srv, ann.Client, code, origin)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"type":"hello"`) {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no connection accepted after one was closed")
}
