package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/apptest"
)

// closedWith waits for conn to be closed by the server and returns the
// closed message's code (or "" when none came before the close).
func closedWith(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	code := ""
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		_, data, err := conn.ReadMessage()
		if err != nil {
			return code
		}
		for _, part := range strings.Split(string(data), "\n") {
			if strings.Contains(part, `"type":"closed"`) {
				if i := strings.Index(part, `"code":"`); i >= 0 {
					rest := part[i+len(`"code":"`):]
					code = rest[:strings.IndexByte(rest, '"')]
				}
			}
		}
	}
	t.Fatal("the connection stayed open")
	return ""
}

// TestRevocationClosesLiveSockets: a password change, a log-out and a
// deleted account end the room websockets of the sessions they end (an
// attacker's open socket used to keep chatting and changing the video);
// the session that changed the password keeps its own.
func TestRevocationClosesLiveSockets(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	srv.SignUp(t, "Admin")
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "")
	origin := "http://" + srv.Addr

	// An attacker holds Ann's session in another browser (a copy of it).
	thief := srv.Client(t)
	u, _ := url.Parse(srv.URL + "/")
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: apptest.SessionCookie, Value: ann.Client.Cookie(apptest.SessionCookie)}})
	// Ann logs in a second time from her laptop: a separate session.
	laptop := srv.Client(t)
	if resp, _ := laptop.PostForm(t, "/login", url.Values{"email": {ann.Email}, "password": {ann.Password}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second log-in: %s", resp.Status)
	}
	stolen, _, err := dialRoom(t, srv, thief, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, stolen, "hello")
	own, _, err := dialRoom(t, srv, laptop, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, own, "hello")

	// From the laptop, Ann changes her password: every other session ends.
	if resp, _ := laptop.PostForm(t, "/account/password", url.Values{"current": {ann.Password}, "password": {"a-new-password-1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %s", resp.Status)
	}
	if got := closedWith(t, stolen); got != "logged_out" {
		t.Fatalf("the stolen session's socket closed with %q, want logged_out", got)
	}
	// The laptop's socket is still there.
	if err := own.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"still here"}`)); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, own, "chat"); m["text"] != "still here" && m["system"] != true {
		t.Fatalf("the laptop's socket: %v", m)
	}

	// Logging out in another tab of the same session ends this tab's socket.
	tab2, _, err := dialRoom(t, srv, laptop, code, origin)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, tab2, "hello")
	if resp, _ := laptop.PostForm(t, "/logout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-out: %s", resp.Status)
	}
	for _, c := range []*websocket.Conn{own, tab2} {
		if got := closedWith(t, c); got != "logged_out" {
			t.Fatalf("after log-out a socket closed with %q", got)
		}
	}

	// Deleting the account ends its sockets too.
	bob := srv.SignUp(t, "Bob")
	bcode := createRoom(t, bob.Client, "")
	bws, _, err := dialRoom(t, srv, bob.Client, bcode, origin)
	if err != nil {
		t.Fatal(err)
	}
	readMsg(t, bws, "hello")
	if resp, _ := bob.Client.PostForm(t, "/account/delete", url.Values{"delete_password": {bob.Password}}); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	if got := closedWith(t, bws); got != "logged_out" {
		t.Fatalf("after the account was deleted its socket closed with %q", got)
	}
}

// TestDeletedOwnerRooms: deleting an account that owns rooms passes each
// to its longest-standing moderator, or deletes it when it has none, and
// the account page says which before and after.
func TestDeletedOwnerRooms(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	srv.SignUp(t, "Admin") // the first account is the admin, who may not go
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	kept := createRoom(t, ann.Client, "Film club")
	gone := createRoom(t, ann.Client, "Scratch")
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {kept}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s", resp.Status)
	}
	if resp, _ := ann.Client.PostForm(t, "/r/"+kept+"/role", url.Values{"user": {bob.ID}, "role": {"moderator"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("promote: %s", resp.Status)
	}
	_, page := ann.Client.Get(t, "/account/")
	if !strings.Contains(page, "Film club passes to Bob") || !strings.Contains(page, "Scratch is deleted") {
		t.Fatalf("the account page does not say what becomes of the rooms:\n%s", page)
	}
	resp, body := ann.Client.PostForm(t, "/account/delete", url.Values{"delete_password": {ann.Password}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Film club now belongs to Bob.") || !strings.Contains(body, "Scratch was deleted.") {
		t.Fatalf("after the deletion: %s\n%s", resp.Status, body)
	}
	// The room service carries it out as the deletion is published.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, p := bob.Client.Get(t, "/r/"+kept)
		if strings.Contains(p, `id="settings-open"`) {
			break // Bob sees the owner's settings: he owns the room
		}
		if time.Now().After(deadline) {
			t.Fatal("Bob did not become the owner")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		r, _ := bob.Client.Get(t, "/r/"+gone)
		if r.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room without a moderator still answers %s", r.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
