//go:build browser

package packaging_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"watchparty/engine/browsertest"
)

// TestBrowserSubPathBehindNginx uses the app in real Chromium under
// /watch behind nginx configured with docs/deploy.md's sub-path snippet:
// sign-up, a room, and chat over the room websocket, with every page,
// asset, redirect and cookie staying under the prefix.
func TestBrowserSubPathBehindNginx(t *testing.T) {
	nginx := need(t, "nginx", "nginx")
	var snippet string
	for _, b := range docBlocks(t, "nginx") {
		if basePathOf(b) == "/watch" {
			snippet = b
		}
	}
	if snippet == "" {
		t.Fatal("docs/deploy.md has no nginx block for /watch")
	}
	srv := backend(t, "/watch")
	proxyAddr := proxyPort(t)
	conf := strings.ReplaceAll(snippet, "listen 80;", "listen "+proxyAddr+";")
	conf = strings.ReplaceAll(conf, "http://127.0.0.1:8080", "http://"+srv.Addr)
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 128; }
http {
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%s
}
`, user, dir, conf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	front := "http://" + proxyAddr + "/watch"
	startProxy(t, exec.Command(nginx, "-p", dir, "-c", path), front+"/healthz")

	w := browsertest.New(t)
	w.Navigate(front + "/")
	w.WaitText("main h1", "Watch together.")
	w.ClickNavigate(`main a[href="/watch/signup"]`)
	w.Fill("#email", "ann@example.org")
	w.Fill("#name", "Ann")
	w.Fill("#password", "correct horse battery")
	w.Press("\r")
	w.WaitText("header .who", "Ann")
	if loc := w.Location(); loc != front+"/" {
		t.Errorf("after sign-up at %s, want %s/", loc, front)
	}

	// Every link, form and asset of the page stays under /watch, and the
	// stylesheet really loaded through the proxy.
	escapes := browsertest.Eval[[]string](w, `[...document.querySelectorAll("[href],[src],[action]")]
		.map(e => e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action"))
		.filter(u => u.startsWith("/") && !u.startsWith("/watch/"))`)
	if len(escapes) > 0 {
		t.Errorf("links leave the base path: %v", escapes)
	}
	if n := browsertest.Eval[int](w, `[...document.styleSheets].filter(s => s.href && s.href.includes("/watch/static/") && s.cssRules.length > 0).length`); n == 0 {
		t.Error("the stylesheet did not load under /watch/static/")
	}

	w.Fill("main form[action='/watch/rooms'] #room-name", "Sub-path night")
	w.ClickNavigate("main form[action='/watch/rooms'] button[type=submit]")
	w.WaitURL(`/watch/r/[A-Z0-9]+$`)
	w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
	w.WaitText("#room-name", "Sub-path night")
	w.Fill("#chat-input", "hello from under /watch")
	w.Press("\r")
	w.WaitJS(`[...document.querySelectorAll("#chat-log .line .text")].some(e => e.textContent === "hello from under /watch")`)

	// The cookies the browser holds for the site are scoped to /watch/.
	res := browsertest.Run(w, "read cookies", chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{front + "/"}})
	}))
	names := map[string]bool{}
	for _, c := range res.Cookies {
		names[c.Name] = true
		if c.Path != "/watch/" {
			t.Errorf("cookie %s has path %q, want /watch/", c.Name, c.Path)
		}
	}
	if !names["wp_session"] {
		t.Errorf("no session cookie among %v", names)
	}
	if errs := w.Errors(); len(errs) > 0 {
		t.Errorf("browser errors: %v", errs)
	}
}
