package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"watchparty/engine/apptest"
)

// TestFrameRelayChecks: the relay websocket is refused before the upgrade
// like the room websocket, and tokens go to members only.
func TestFrameRelayChecks(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	code := createRoom(t, ann.Client, "Relay")

	dial := func(c *apptest.Client, origin string) int {
		_, resp, err := dialWS(t, srv, c, "/r/"+code+"/frames", origin)
		if err == nil {
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("relay dial: %v", err)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name   string
		c      *apptest.Client
		origin string
		want   int
	}{
		{name: "no session", origin: srv.URL, want: http.StatusUnauthorized},
		{name: "foreign origin", c: ann.Client, origin: "http://evil.example", want: http.StatusForbidden},
		{name: "no origin", c: ann.Client, want: http.StatusForbidden},
		{name: "not a member", c: bob.Client, origin: srv.URL, want: http.StatusForbidden},
		{name: "member", c: ann.Client, origin: srv.URL, want: http.StatusSwitchingProtocols},
	} {
		if got := dial(tc.c, tc.origin); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}

	token := func(c *apptest.Client, role string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/r/"+code+"/stream/token", strings.NewReader(url.Values{"role": {role}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-CSRF-Token", c.CSRF(t))
		resp, _ := c.Do(t, req)
		return resp.StatusCode
	}
	if got := token(bob.Client, "viewer"); got != http.StatusForbidden {
		t.Errorf("viewer token for a non-member: %d", got)
	}
	if got := token(ann.Client, "viewer"); got != http.StatusOK {
		t.Errorf("viewer token for the owner: %d", got)
	}
	if got := token(ann.Client, "admin"); got != http.StatusBadRequest {
		t.Errorf("token for an unknown role: %d", got)
	}
}
