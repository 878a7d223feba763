//go:build browser

package browsertest_test

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"watchparty/engine/browsertest"
)

const page = `<!doctype html>
<html><head><title>harness</title></head><body>
<form method="post" action="/submit">
  <label for="name">Name</label><input id="name" name="name">
  <button id="go" type="submit">Go</button>
</form>
<button id="later" type="button" onclick="setTimeout(() => { document.getElementById('out').textContent = 'clicked ' + document.getElementById('name').value }, 150)">Later</button>
<p id="out"></p>
<script>console.log("ready", 42); console.error("something failed");</script>
</body></html>`

func serve(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/done?name="+r.FormValue("name"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("flavour")
		flavour := ""
		if c != nil {
			flavour = c.Value
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><h1 id=done>Done, " + r.FormValue("name") + "</h1><p id=cookie>" + flavour + "</p>"))
	})
	mux.HandleFunc("GET /missing", http.NotFound)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestChromiumFound(t *testing.T) {
	p, err := browsertest.Chromium()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s is not an executable: %v", p, err)
	}
}

func TestWindow(t *testing.T) {
	base := serve(t)
	w := browsertest.New(t)

	w.Navigate(base + "/")
	if got := browsertest.Eval[string](w, `document.title`); got != "harness" {
		t.Errorf("title = %q", got)
	}
	if n := browsertest.Eval[int](w, `document.querySelectorAll("button").length`); n != 2 {
		t.Errorf("%d buttons, want 2", n)
	}
	type box struct {
		Width  int  `json:"w"`
		Inside bool `json:"inside"`
	}
	if b := browsertest.Eval[box](w, `({w: window.innerWidth, inside: window.self === window.top})`); b.Width != 1280 || !b.Inside {
		t.Errorf("viewport = %+v, want 1280 wide", b)
	}
	if v := browsertest.EvalAsync[int](w, `new Promise(r => setTimeout(() => r(7), 20))`); v != 7 {
		t.Errorf("promise = %d", v)
	}
	if !browsertest.Eval[bool](w, `document.visibilityState === "visible"`) {
		t.Error("the window's page is not visible")
	}

	// Typing replaces what was there.
	w.Fill("#name", "first")
	w.Fill("#name", "Zoë <b>")
	w.Click("#later")
	if got := w.WaitText("#out", "clicked"); got != "clicked Zoë <b>" {
		t.Errorf("text = %q", got)
	}

	// Console output is captured; errors are kept for assertions.
	w.WaitJS(`true`)
	errs := w.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "something failed") {
		t.Errorf("Errors = %q, want the one console.error", errs)
	}

	w.SetCookie(base, "flavour", "mint")
	if status := w.ClickNavigate("#go"); status != http.StatusOK {
		t.Errorf("status after submit = %d", status)
	}
	w.WaitText("#done", "Done, Zoë")
	w.WaitURL(`/done\?name=`)
	if got := w.Text("#cookie"); got != "mint" {
		t.Errorf("cookie reached the server as %q", got)
	}
	if w.Exists("#name") {
		t.Error("the old page's input is still there")
	}

	if status := w.NavigateStatus(base + "/missing"); status != http.StatusNotFound {
		t.Errorf("status of a missing page = %d", status)
	}

	p := w.Screenshot("end")
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		t.Errorf("screenshot %q: %v", p, err)
	} else {
		os.Remove(p)
	}
}

// TestWindowsAreSeparate: two windows are two people, each with its own cookies.
func TestWindowsAreSeparate(t *testing.T) {
	base := serve(t)
	a := browsertest.New(t, browsertest.WithName("alice"))
	b := browsertest.New(t, browsertest.WithName("bob"), browsertest.WithWindowSize(640, 700))
	a.SetCookie(base, "flavour", "lemon")
	a.Navigate(base + "/done?name=a")
	b.Navigate(base + "/done?name=b")
	if got := a.Text("#cookie"); got != "lemon" {
		t.Errorf("alice's cookie = %q", got)
	}
	if got := b.Text("#cookie"); got != "" {
		t.Errorf("bob sees alice's cookie %q", got)
	}
	if wdt := browsertest.Eval[int](b, `window.innerWidth`); wdt != 640 {
		t.Errorf("bob's window is %d wide, want 640", wdt)
	}
	if a.Name() != "alice" || b.Name() != "bob" {
		t.Errorf("names %q %q", a.Name(), b.Name())
	}
}
