package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"watchparty/engine/apptest"
)

// TestSecretRotate: after `watchparty secret rotate` a CSRF token issued
// before no longer works (a leaked key is worth nothing), while log-ins
// survive; with --logout-everyone the old session is gone too. The command
// refuses while the server holds the data directory.
func TestSecretRotate(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	cfg := srv.Config
	ann := srv.SignUp(t, "Ann")
	oldToken := ann.Client.CSRF(t)
	c := newCLI(t, cfg.DataDir)
	c.fails(1, "in use", "secret", "rotate")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("secret", "rotate"); !strings.Contains(out, "secret key was replaced") {
		t.Fatalf("secret rotate: %q", out)
	}
	c.fails(1, "usage: watchparty secret rotate", "secret")

	cfg2 := *cfg
	cfg2.Listen = "127.0.0.1:0"
	srv2 := apptest.Start(t, &cfg2)
	ann.Client.Base = srv2.URL
	resp, _ := ann.Client.PostForm(t, "/account/name", url.Values{"csrf": {oldToken}, "name": {"Ann 2"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a CSRF token from before the rotation: %s, want 403", resp.Status)
	}
	if resp, _ := ann.Client.PostForm(t, "/account/name", url.Values{"name": {"Ann 2"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a fresh token after the rotation (the session survives): %s", resp.Status)
	}
	if err := srv2.Stop(); err != nil {
		t.Fatal(err)
	}

	if out := c.ok("secret", "rotate", "--logout-everyone"); !strings.Contains(out, "sessions were ended") {
		t.Fatalf("secret rotate --logout-everyone: %q", out)
	}
	cfg3 := cfg2
	srv3 := apptest.Start(t, &cfg3)
	ann.Client.Base = srv3.URL
	if resp, _ := ann.Client.Get(t, "/account/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old session after --logout-everyone: %s, want a redirect to log in", resp.Status)
	}
}

// TestCLIUserRmSettlesRooms: `watchparty user rm` (no server running)
// passes the user's rooms to their moderators or deletes them, and says so.
func TestCLIUserRmSettlesRooms(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	srv.SignUp(t, "Admin")
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	resp, _ := ann.Client.PostForm(t, "/rooms", url.Values{"name": {"Film club"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s", resp.Status)
	}
	code := strings.TrimPrefix(resp.Header.Get("Location"), "/r/")
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %s", resp.Status)
	}
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/role", url.Values{"user": {bob.ID}, "role": {"moderator"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("promote: %s", resp.Status)
	}
	if resp, _ := ann.Client.PostForm(t, "/rooms", url.Values{"name": {"Scratch"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s", resp.Status)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	out := newCLI(t, srv.Config.DataDir).ok("user", "rm", ann.Email)
	if !strings.Contains(out, "room Film club") || !strings.Contains(out, "now belongs to Bob") || !strings.Contains(out, "room Scratch") || !strings.Contains(out, "was deleted") {
		t.Fatalf("user rm output:\n%s", out)
	}
}
