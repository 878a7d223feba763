//go:build browser

package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/browsertest"
)

// TestBrowserCSPBlocksInlineScript: the server's Content-Security-Policy
// is in force in a real browser: an inline script on one of its pages does
// not run, and the violation is reported (browsertest turns violations into
// errors, which the room page tests check are absent).
func TestBrowserCSPBlocksInlineScript(t *testing.T) {
	ts := newTestServer(t, nil, func(app *fiber.App) {
		app.Get("/csp-probe", func(c *fiber.Ctx) error {
			c.Type("html")
			return c.SendString(`<!doctype html><title>probe</title><p id="p">before</p>` +
				`<script>document.getElementById("p").textContent = "inline ran"</script>`)
		})
	})
	resp, _ := get(t, ts.client(t), "/csp-probe", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy allows inline code: %q", csp)
	}
	if resp.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("COOP %q, X-Frame-Options %q", resp.Header.Get("Cross-Origin-Opener-Policy"), resp.Header.Get("X-Frame-Options"))
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain http")
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("probe: %s", resp.Status)
	}

	w := browsertest.New(t, browsertest.WithName("csp"))
	w.Navigate(ts.URL + "/csp-probe")
	w.WaitJS(`document.readyState === "complete"`)
	if got := w.Text("#p"); got != "before" {
		t.Fatalf("the inline script ran under the policy (%q)", got)
	}
	w.WaitJS(`true`)
	found := false
	for _, e := range w.Errors() {
		if strings.Contains(e, "Content-Security-Policy violation: script-src") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the blocked inline script was not reported: %q", w.Errors())
	}
}
