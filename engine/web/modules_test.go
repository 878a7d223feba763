package web_test

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	assets "watchparty/embed"
)

// The room page preloads exactly the modules its start-up imports (the
// whole static graph of its entry and of the room), under the assets'
// version, and leaves what the room imports dynamically for later; every
// one of them is kept by the browser for good.
func TestRoomPageModules(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	code := createRoom(t, c, "Modules")
	_, page := c.Get(t, "/r/"+code)
	entry := regexp.MustCompile(`<script type="module" src="(/static/([0-9a-f]+)/js/room\.js)"`).FindStringSubmatch(page)
	if entry == nil {
		t.Fatalf("no versioned entry script in the room page:\n%s", page)
	}
	prefix := "/static/" + entry[2] + "/"
	var preloaded []string
	for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], prefix) {
			t.Errorf("preload %s is not under %s", m[1], prefix)
		}
		preloaded = append(preloaded, strings.TrimPrefix(m[1], prefix))
	}

	// What the entry and the room import statically, read here on its own.
	imports := regexp.MustCompile(`(?m)^import\s+(?:[^"';]*?\s+from\s+)?"([^"]+)"`)
	want := map[string]bool{"js/room/app.js": true}
	dynamic := map[string]bool{}
	for todo := []string{"js/room.js", "js/room/app.js"}; len(todo) > 0; todo = todo[1:] {
		src, err := fs.ReadFile(assets.Static, "static/"+todo[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			if dep := path.Join(path.Dir(todo[0]), m[1]); !want[dep] {
				want[dep] = true
				todo = append(todo, dep)
			}
		}
		for _, m := range regexp.MustCompile(`import\("([^"]+)"\)`).FindAllStringSubmatch(string(src), -1) {
			dynamic[path.Join(path.Dir(todo[0]), m[1])] = true
		}
	}
	for dep := range want {
		if !slices.Contains(preloaded, dep) {
			t.Errorf("%s is imported at start but not preloaded (preloads: %v)", dep, preloaded)
		}
	}
	for _, p := range preloaded {
		if !want[p] {
			t.Errorf("%s is preloaded but not imported at start", p)
		}
		if dynamic[p] && p != "js/room/app.js" {
			t.Errorf("%s is imported when first used, yet preloaded", p)
		}
	}
	if len(preloaded) < 2 || preloaded[0] != "js/room/net.js" {
		t.Errorf("the entry's own import (room/net.js) should come first: %v", preloaded)
	}

	// Versioned: kept for good. Unversioned: asked again each time, and an
	// ETag makes that cheap.
	for _, p := range append(preloaded, "js/room.js") {
		resp, body := c.Get(t, prefix+p)
		if resp.StatusCode != http.StatusOK || len(body) == 0 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %s, Cache-Control %q", p, resp.Status, resp.Header.Get("Cache-Control"))
		}
	}
	// One stylesheet, holding both app.css and room.css.
	sheets := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(sheets) != 1 {
		t.Fatalf("the room page links %d stylesheets, want 1", len(sheets))
	}
	resp, css := c.Get(t, sheets[0][1])
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("room stylesheet: %s, Cache-Control %q, Content-Type %q", resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	for _, f := range []string{"static/css/app.css", "static/css/room.css"} {
		b, err := fs.ReadFile(assets.Static, f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(css, string(b)) {
			t.Errorf("the room stylesheet lacks %s", f)
		}
	}

	resp, _ = c.Get(t, "/static/js/room.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
		t.Errorf("unversioned: %s, Cache-Control %q, ETag %q", resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
	}
	if resp, _ := c.Get(t, "/static/0123456789ab/js/room.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another version's path: %s, want 404", resp.Status)
	}
}
