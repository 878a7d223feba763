package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	assets "watchparty/embed"
	"watchparty/engine/apptest"
)

// The room page loads its start-up scripts as two files, side by side: its
// entry, under the assets' version, holds every module the entry imports
// statically, and the room module's file every other module the room
// imports statically (whole graphs, read here on their own), each in an
// order where a module comes after what it imports; the page's import map
// sends each of those modules' URLs to the file that holds it and names
// nothing that loads later; the policy allows that one inline script by
// its hash, and the page's styles, which are in the page too.
func TestRoomPageModules(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.signUp(t, "ann@example.org", "Ann", "password-ann")
	code := createRoom(t, c, "Modules")
	pageResp, page := c.Get(t, "/r/"+code)
	entry := regexp.MustCompile(`<script type="module" src="(/static/([0-9a-f]+)/js/room\.js)"`).FindStringSubmatch(page)
	if entry == nil {
		t.Fatalf("no versioned entry script in the room page:\n%s", page)
	}
	prefix := "/static/" + entry[2] + "/"
	// The room module is the page's other script: deferred (it runs once
	// the page is parsed) and render-blocking, both before the styles, so
	// that both files are fetched from the start.
	scripts := regexp.MustCompile(`<script type="module" src="([^"]+)"([^>]*)>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 2 || scripts[1][1] != prefix+"js/room/app.js" || scripts[1][2] != ` blocking="render"` {
		t.Errorf("the room page's module scripts are %v, want the entry and the room module, deferred and render-blocking", scripts)
	}
	if strings.Contains(page, `rel="modulepreload"`) || strings.Index(page, "<style>") < strings.Index(page, "js/room/app.js") {
		t.Errorf("the room page's scripts do not come before its styles, or it preloads a module")
	}
	// Its headers preload both, so that they are fetched from the commit.
	if link, want := pageResp.Header.Get("Link"), "<"+prefix+"js/room.js>; rel=modulepreload, <"+prefix+"js/room/app.js>; rel=modulepreload"; link != want {
		t.Errorf("the room page's Link header is %q, want %q", link, want)
	}
	mapJSON := regexp.MustCompile(`<script type="importmap">([^<]*)</script>`).FindStringSubmatch(page)
	if mapJSON == nil || strings.Index(page, mapJSON[0]) > strings.Index(page, entry[0]) {
		t.Fatalf("no import map before the entry script in the room page:\n%s", page)
	}
	sum := sha256.Sum256([]byte(mapJSON[1]))
	csp := pageResp.Header.Get("Content-Security-Policy")
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "script-src 'self' ") || !strings.Contains(csp, hash) {
		t.Errorf("the policy does not allow the import map (%s): %s", hash, csp)
	}
	// The head's one other inline script opens the socket early, allowed by its hash.
	early := regexp.MustCompile(`<script>([^<]*)</script>`).FindAllStringSubmatch(page, -1)
	if len(early) != 1 || !strings.Contains(early[0][1], "new WebSocket(") || strings.Index(page, early[0][0]) > strings.Index(page, entry[0]) {
		t.Fatalf("want one inline script opening the socket before the entry, got %d", len(early))
	}
	sum = sha256.Sum256([]byte(early[0][1]))
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, hash) {
		t.Errorf("the policy does not allow the early socket (%s): %s", hash, csp)
	}
	var im struct{ Imports map[string]string }
	if err := json.Unmarshal([]byte(mapJSON[1]), &im); err != nil {
		t.Fatal(err)
	}

	// What the entry and the room import statically, and what they import
	// when first used.
	imports := regexp.MustCompile(`(?m)^import\s+(?:[^"';]*?\s+from\s+)?"([^"]+)"`)
	deps := map[string][]string{}
	dynamic := map[string]bool{}
	graph := func(root string) map[string]bool {
		want := map[string]bool{root: true}
		for todo := []string{root}; len(todo) > 0; todo = todo[1:] {
			src, err := fs.ReadFile(assets.Static, "static/"+todo[0])
			if err != nil {
				t.Fatal(err)
			}
			deps[todo[0]] = nil
			for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
				dep := path.Join(path.Dir(todo[0]), m[1])
				deps[todo[0]] = append(deps[todo[0]], dep)
				if !want[dep] {
					want[dep] = true
					todo = append(todo, dep)
				}
			}
			for _, m := range regexp.MustCompile(`import\("([^"]+)"\)`).FindAllStringSubmatch(string(src), -1) {
				dynamic[path.Join(path.Dir(todo[0]), m[1])] = true
			}
		}
		return want
	}
	inEntry := graph("js/room.js")
	inApp := graph("js/room/app.js")
	for p := range inEntry {
		delete(inApp, p)
	}
	files := map[string]map[string]bool{"js/room.js": inEntry, "js/room/app.js": inApp}
	for file, want := range files {
		for p := range want {
			if p != file && im.Imports[prefix+p] != prefix+file {
				t.Errorf("the import map sends %s to %q, want %s", p, im.Imports[prefix+p], prefix+file)
			}
		}
	}
	for from := range im.Imports {
		if p := strings.TrimPrefix(from, prefix); (!inEntry[p] && !inApp[p]) || dynamic[p] || files[p] != nil {
			t.Errorf("the import map names %s, which is not a module joined into a file", from)
		}
	}

	// The joined files: each module once, after what it imports; kept for good.
	for file, want := range files {
		resp, bundle := c.Get(t, prefix+file)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("%s: %s, Cache-Control %q, Content-Type %q", file, resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
		}
		at := map[string]int{}
		for _, m := range regexp.MustCompile(`(?m)^// ---- (\S+)$`).FindAllStringSubmatchIndex(bundle, -1) {
			p := bundle[m[2]:m[3]]
			if _, twice := at[p]; twice {
				t.Errorf("%s: %s is in it twice", file, p)
			}
			at[p] = m[0]
		}
		if len(at) != len(want) {
			t.Errorf("%s holds %d modules, want %d", file, len(at), len(want))
		}
		for p := range want {
			if _, ok := at[p]; !ok {
				t.Errorf("%s lacks %s", file, p)
			}
			for _, d := range deps[p] {
				if _, here := at[d]; here && at[d] > at[p] {
					t.Errorf("%s: %s comes after %s, which imports it", file, d, p)
				}
			}
		}
		if file == "js/room/app.js" {
			for _, p := range []string{"./invite.js", "./settings.js", "../stream.js", "../vendor/hls-"} {
				if !strings.Contains(bundle, `import("`+p) {
					t.Errorf("%s does not load %s relative to itself", file, p)
				}
			}
		}
	}

	// The styles, app.css and room.css, are in the page, allowed by their hash.
	if sheets := regexp.MustCompile(`<link rel="stylesheet"`).FindAllString(page, -1); len(sheets) != 0 {
		t.Errorf("the room page links %d stylesheets, want its styles in the page", len(sheets))
	}
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(style) != 1 {
		t.Fatalf("the room page has %d style elements, want 1", len(style))
	}
	sum = sha256.Sum256([]byte(style[0][1]))
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "style-src 'self' "+hash) {
		t.Errorf("the policy does not allow the page's styles (%s): %s", hash, csp)
	}
	for _, f := range []string{"static/css/app.css", "static/css/room.css"} {
		b, err := fs.ReadFile(assets.Static, f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(style[0][1], string(b)) {
			t.Errorf("the room page's styles lack %s", f)
		}
	}

	// Unversioned: the files as they are, asked again each time, and an
	// ETag makes that cheap.
	resp, _ := c.Get(t, "/static/js/room.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
		t.Errorf("unversioned: %s, Cache-Control %q, ETag %q", resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
	}
	for _, p := range []string{"/static/0123456789ab/js/room.js", prefix + "js/none.js"} {
		if resp, _ := c.Get(t, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", p, resp.Status)
		}
	}
}

// Versioned static files go out compressed once, in the form the browser
// takes (brotli, gzip, or as they are), each form with its own ETag, and a
// revalidation with that ETag is answered 304 without a body.
func TestStaticPrecompressed(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.client(t)
	_, home := c.Get(t, "/")
	icon := regexp.MustCompile(`href="(/static/[0-9a-f]+/)icon\.svg"`).FindStringSubmatch(home)
	if icon == nil {
		t.Fatalf("no versioned icon on the home page:\n%s", home)
	}
	prefix := icon[1]
	for _, f := range []string{"js/sync.js", "js/vendor/hls-1.7.4.min.mjs", "css/app.css", "icon.svg"} {
		want, err := fs.ReadFile(assets.Static, "static/"+f)
		if err != nil {
			t.Fatal(err)
		}
		etags := map[string]string{} // ETag -> the form it names
		for _, enc := range []string{"br", "gzip", "identity"} {
			resp, body := getWith(t, c, prefix+f, http.Header{"Accept-Encoding": {enc}})
			ce := resp.Header.Get("Content-Encoding")
			got := decode(t, ce, []byte(body))
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("%s (%s): %s, %d bytes decoded, want %d", f, enc, resp.Status, len(got), len(want))
			}
			if enc != "identity" && len(want) > 1024 && ce != enc {
				t.Errorf("%s: asked for %s, got Content-Encoding %q", f, enc, ce)
			}
			if enc == "identity" && ce != "" {
				t.Errorf("%s: asked for no encoding, got %q", f, ce)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s (%s): Cache-Control %q, Vary %q", f, enc, resp.Header.Get("Cache-Control"), resp.Header.Get("Vary"))
			}
			etag := resp.Header.Get("ETag")
			if form, seen := etags[etag]; etag == "" || (seen && form != ce) {
				t.Errorf("%s (%s): ETag %q missing or shared with another form", f, enc, etag)
			}
			etags[etag] = ce
			resp, body = getWith(t, c, prefix+f, http.Header{"Accept-Encoding": {enc}, "If-None-Match": {etag}})
			if resp.StatusCode != http.StatusNotModified || body != "" {
				t.Errorf("%s (%s): revalidation: %s with %d bytes, want 304 and none", f, enc, resp.Status, len(body))
			}
		}
	}
}

func getWith(t *testing.T, c *apptest.Client, p string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Base+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	return c.Do(t, req)
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return b
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return out
}
