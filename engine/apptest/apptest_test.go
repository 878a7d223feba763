package apptest_test

import (
	"net/http"
	"strings"
	"testing"

	"watchparty/config"
	"watchparty/engine/apptest"
)

func TestStartServer(t *testing.T) {
	srv := apptest.StartServer(t, func(c *config.Config) { c.Registration = "open" })
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want loopback", srv.URL)
	}
	if err := apptest.WaitHealthy(srv.URL, 0); err == nil {
		t.Error("WaitHealthy with no time reported success")
	}
	ann := srv.SignUp(t, "Ann Lee")
	if !ann.Admin || ann.Name != "Ann Lee" || ann.Client.Cookie(apptest.SessionCookie) == "" {
		t.Fatalf("first sign-up = %+v, session %q", ann.User, ann.Client.Cookie(apptest.SessionCookie))
	}
	resp, body := ann.Client.Get(t, "/account")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, ann.Email) {
		t.Fatalf("/account as Ann: %s", resp.Status)
	}
	bob := srv.SignUp(t, "Bob")
	if bob.Admin || bob.Email == ann.Email {
		t.Errorf("second sign-up = %+v", bob.User)
	}
	srv.CreateUser(t, "cy@example.test", "Cy", "password-cy", false)
	c := srv.LogIn(t, "cy@example.test", "password-cy")
	if _, body := c.Get(t, "/"); !strings.Contains(body, "Hello, Cy") {
		t.Error("log-in client is not logged in")
	}

	// Stop, then start again on the same data directory.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	<-srv.Done()
	cfg := srv.Config
	cfg.Listen = "127.0.0.1:0"
	again := apptest.Start(t, cfg)
	again.LogIn(t, ann.Email, ann.Password)
}

func TestReadyAddr(t *testing.T) {
	cases := []struct{ msg, want string }{
		{"READY=1\nSTATUS=serving on 127.0.0.1:37895", "127.0.0.1:37895"},
		{"STATUS=serving on [::1]:80\nREADY=1", "[::1]:80"},
		{"RELOADING=1\nMONOTONIC_USEC=5", ""},
		{"STATUS=serving on 127.0.0.1:1", ""}, // not ready
		{"READY=1\nSTATUS=serving", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := apptest.ReadyAddr(c.msg); got != c.want {
			t.Errorf("ReadyAddr(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}
