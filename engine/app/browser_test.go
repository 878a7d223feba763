//go:build browser

package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// TestBrowserSignUpLogOutLogIn walks the account flow in real Chromium: a
// field error, sign-up, landing logged in, log-out, log-in again.
func TestBrowserSignUpLogOutLogIn(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	w := browsertest.New(t)

	w.Navigate(srv.URL + "/")
	w.WaitText("main h1", "Watch together.")
	if status := w.ClickNavigate(`main a[href="/signup"]`); status != http.StatusOK {
		t.Fatalf("sign-up page: status %d", status)
	}

	// A short password is refused, with the message next to the field and
	// what was typed kept.
	w.Fill("#email", "Zoe@Example.org")
	w.Fill("#name", "Zoë Ångström")
	w.Fill("#password", "short")
	if status := w.ClickNavigate("main form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Errorf("sign-up with a short password: status %d, want 422", status)
	}
	w.WaitText("#password-error", "at least 8 characters")
	type field struct {
		Invalid   string `json:"invalid"`
		Described string `json:"described"`
		Email     string `json:"email"`
		Name      string `json:"name"`
		Password  string `json:"password"`
	}
	f := browsertest.Eval[field](w, `({
		invalid: document.querySelector("#password").getAttribute("aria-invalid"),
		described: document.querySelector("#password").getAttribute("aria-describedby"),
		email: document.querySelector("#email").value,
		name: document.querySelector("#name").value,
		password: document.querySelector("#password").value})`)
	if f.Invalid != "true" || f.Described != "password-error" {
		t.Errorf("the password input is not tied to its error: %+v", f)
	}
	if f.Email != "Zoe@Example.org" || f.Name != "Zoë Ångström" || f.Password != "" {
		t.Errorf("after the error the form holds %+v; want email and name kept, password empty", f)
	}

	// Fix it and submit with the Enter key, as a keyboard user would.
	w.Fill("#password", "a long enough password")
	w.Press("\r")
	w.WaitText("main h1", "Hello, Zoë Ångström")
	w.WaitText("header .who", "Zoë Ångström")
	w.WaitText(".flash", "Welcome! Your account is ready.")
	if c := browsertest.Eval[string](w, `document.cookie`); strings.Contains(c, "wp_session") {
		t.Errorf("the session cookie is readable from JavaScript: %q", c)
	}

	// Log out from the header.
	if status := w.ClickNavigate("header form button[type=submit]"); status != http.StatusOK {
		t.Errorf("log-out: status %d", status)
	}
	w.WaitText(".flash", "You are logged out.")
	w.WaitText("header nav", "Log in")
	if w.Exists("header .who") {
		t.Error("the header still shows a user after log-out")
	}

	// A wrong password shows an alert on the log-in page.
	w.ClickNavigate(`header a[href="/login"]`)
	w.Fill("#email", "zoe@example.org")
	w.Fill("#password", "not the password")
	if status := w.ClickNavigate("main form button[type=submit]"); status != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", status)
	}
	w.WaitText(`[role="alert"]`, "wrong email or password")

	// Log in again, with the email typed differently.
	w.Fill("#email", "  ZOE@example.org ")
	w.Fill("#password", "a long enough password")
	w.ClickNavigate("main form button[type=submit]")
	w.WaitText("header .who", "Zoë Ångström")
	w.WaitText("main h1", "Hello, Zoë Ångström")

	// The account page is reachable from the header and shows the name.
	w.ClickNavigate("header a.who")
	w.WaitText("main h1", "Your account")
	if v := browsertest.Eval[string](w, `document.querySelector("#name").value`); v != "Zoë Ångström" {
		t.Errorf("account page name field = %q", v)
	}

	if errs := w.Errors(); len(errs) > 0 {
		t.Errorf("the pages logged errors: %q", errs)
	}
}

// TestBrowserPhoneWidth checks that the account pages fit a phone's width
// without sideways scrolling.
func TestBrowserPhoneWidth(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	u := srv.SignUp(t, "Pat")
	w := browsertest.New(t)
	w.Do("emulate a phone", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)))
	for _, path := range []string{"/", "/signup", "/login"} {
		w.Navigate(srv.URL + path)
		if !browsertest.Eval[bool](w, `document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Errorf("%s scrolls sideways at 360px", path)
		}
	}
	w.SetCookie(srv.URL, apptest.SessionCookie, u.Client.Cookie(apptest.SessionCookie))
	w.Navigate(srv.URL + "/account")
	w.WaitText("main h1", "Your account")
	if !browsertest.Eval[bool](w, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Error("/account scrolls sideways at 360px")
	}
}
