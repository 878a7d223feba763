package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"watchparty/engine/apptest"
)

// TestRefusalPages: every way in that is refused says what happened and
// offers the way on, in the visitor's language, as a page or as JSON.
func TestRefusalPages(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	carl := srv.SignUp(t, "Carl")
	code := createRoom(t, ann.Client, "Refusals")
	_, page := ann.Client.Get(t, "/r/"+code)
	invite := regexp.MustCompile(`/i/[A-Za-z0-9_-]+`).FindString(page)
	visitor := srv.Client(t)

	type want struct {
		status   int
		contains []string
	}
	check := func(name string, resp *http.Response, body string, w want) {
		t.Helper()
		if resp.StatusCode != w.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, w.status)
		}
		for _, s := range w.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s: the page lacks %q", name, s)
			}
		}
	}

	resp, body := visitor.Get(t, "/join?code=not-a-code")
	check("bad code", resp, body, want{404, []string{"That is not a room code", `action="/join"`, `href="/"`}})
	resp, _ = visitor.Get(t, "/join?code="+strings.ToLower(code))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/r/"+code {
		t.Errorf("join by a good code in lower case: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = carl.Client.Get(t, "/r/ABCDEFGHJK")
	check("no such room", resp, body, want{404, []string{"No room has this code", `action="/join"`}})

	// Someone with only the code: what the room is, and how to get in.
	resp, body = visitor.Get(t, "/r/"+code)
	check("code without an account", resp, body, want{200, []string{"Refusals", "invite link", `href="/login?next=`}})

	// Locked.
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/lock", url.Values{"locked": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("lock: %s", resp.Status)
	}
	resp, body = carl.Client.Get(t, "/r/"+code)
	check("locked, page", resp, body, want{200, []string{"locked", `href="/"`}})
	resp, body = carl.Client.PostForm(t, "/r/"+code+"/join", nil)
	check("locked, join", resp, body, want{403, []string{"This room is locked", "Ask them to unlock it"}})
	resp, body = visitor.Get(t, invite)
	if resp.StatusCode != 200 || strings.Contains(body, `id="guest-name"`) {
		t.Errorf("the invite page of a locked room offers the guest form: %s", resp.Status)
	}
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/lock", url.Values{"locked": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %s", resp.Status)
	}

	// Guests off: the invite link says so and leads to log-in and sign-up.
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"guests_allowed": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s", resp.Status)
	}
	resp, body = visitor.PostForm(t, invite, url.Values{"name": {"Gus"}})
	check("guests off", resp, body, want{403, []string{"This room needs an account", `href="/signup"`, `href="/login?next=`}})
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"guests_allowed": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s", resp.Status)
	}

	// A guest trying to start a room is told why, with a way to an account.
	guest := srv.Client(t)
	if resp, _ := guest.PostForm(t, invite, url.Values{"name": {"Gus"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("guest joins: %s", resp.Status)
	}
	resp, body = guest.PostForm(t, "/rooms", url.Values{"name": {"Mine"}})
	check("guest creates a room", resp, body, want{403, []string{"Guests cannot start rooms", `href="/signup"`, `href="/r/` + code + `"`}})

	// Kicked: the room page says so.
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob joins: %s", resp.Status)
	}
	bobID := memberID(t, srv, ann.Client, code, "Bob")
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/kick", url.Values{"user": {bobID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("kick: %s", resp.Status)
	}
	resp, body = bob.Client.PostForm(t, "/r/"+code+"/join", nil)
	check("kicked, join", resp, body, want{403, []string{"You were removed from this room"}})

	// A replaced invite link.
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/invite", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", resp.Status)
	}
	resp, body = visitor.Get(t, invite)
	check("old invite", resp, body, want{404, []string{"This invite link does not work", `action="/join"`}})

	// fetch gets JSON with the same words.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/r/"+code+"/join", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", bob.Client.CSRF(t))
	resp, body = bob.Client.Do(t, req)
	var js struct{ Error, Reason string }
	if err := json.Unmarshal([]byte(body), &js); err != nil || resp.StatusCode != 403 || js.Reason != "banned" || !strings.Contains(js.Error, "removed you") {
		t.Errorf("JSON refusal: %d %q (%v)", resp.StatusCode, body, err)
	}

	// In German for a German browser; a chosen language sticks.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/join?code=x", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	resp, body = visitor.Do(t, req)
	check("German", resp, body, want{404, []string{`lang="de"`, "Das ist kein Raumcode"}})
	visitor.Get(t, "/?lang=fr")
	resp, body = visitor.Do(t, req)
	check("chosen French", resp, body, want{404, []string{`lang="fr"`, "Ce n&#39;est pas un code de salon"}})

	// Deleted: the room is gone for everyone.
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/delete", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	resp, body = carl.Client.Get(t, "/r/"+code)
	check("deleted", resp, body, want{404, []string{"No room has this code"}})
}

// memberID reads a member's id from the room's hello.
func memberID(t *testing.T, srv *apptest.Server, c *apptest.Client, code, name string) string {
	t.Helper()
	conn, _, err := dialRoom(t, srv, c, code, "http://"+srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, m := range readMsg(t, conn, "hello")["members"].([]any) {
		if mm := m.(map[string]any); mm["name"] == name {
			return mm["id"].(string)
		}
	}
	t.Fatalf("no member %s", name)
	return ""
}
