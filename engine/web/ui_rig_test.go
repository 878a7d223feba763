//go:build browser

package web_test

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"watchparty/config"
	"watchparty/engine/apptest"
	"watchparty/engine/browsertest"
)

// updateScreens rewrites the screenshot baselines in docs/screens.
var updateScreens = flag.Bool("update-screens", false, "rewrite the screenshot baselines in docs/screens")

// uiRig is a server with a media library holding a short clip and its
// subtitles in two languages, and one Chromium whose tabs are the people.
type uiRig struct {
	srv  *apptest.Server
	host *browsertest.Window
}

func newUIRig(t testing.TB, mutate func(*config.Config)) *uiRig {
	t.Helper()
	dir := t.TempDir()
	clip := filepath.Join(dir, "Big Clip.webm")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24",
		"-t", "12", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-y", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for lang, text := range map[string]string{"en": "Hello from the subtitles", "fr": "Bonjour des sous-titres"} {
		vtt := "WEBVTT\n\n00:00:00.000 --> 00:00:12.000\n" + text + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Big Clip."+lang+".vtt"), []byte(vtt), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := apptest.StartServer(t, func(c *config.Config) {
		c.Media.Dir = dir
		c.Links.AllowPrivateHosts = true // links to the test server on loopback
		if mutate != nil {
			mutate(c)
		}
	})
	host := browsertest.New(t, browsertest.WithName("host"), browsertest.WithFlag("lang", "en-US"))
	return &uiRig{srv: srv, host: host}
}

// person opens a tab as someone (nil: nobody logged in) at a viewport size.
func (r *uiRig) person(t testing.TB, name string, u *apptest.User, w, h int) *browsertest.Window {
	t.Helper()
	tab := r.host.NewTab(t, browsertest.WithName(name))
	tab.EmulateViewport(w, h, w < 900 || h < 500)
	if u != nil {
		tab.SetCookie(r.srv.URL+"/", apptest.SessionCookie, u.Client.Cookie(apptest.SessionCookie))
	}
	return tab
}

// ownerAndMember signs up Ann, who creates the room, and Bob, who joins it.
func (r *uiRig) ownerAndMember(t testing.TB, room string) (ann, bob *apptest.User, code string) {
	t.Helper()
	ann = r.srv.SignUp(t, "Ann")
	bob = r.srv.SignUp(t, "Bob")
	code = createRoom(t, ann.Client, room)
	if resp, _ := bob.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob joins: %s", resp.Status)
	}
	return ann, bob, code
}

// playLibraryClip makes w's room watch the library clip from the Queue tab
// and goes back to the chat.
func playLibraryClip(w *browsertest.Window) {
	w.Click("#tab-queue")
	w.Fill("#queue-link", "media:Big Clip.webm")
	w.Click("#queue-watch")
	w.WaitJS(`document.querySelector("#player").dataset.ready === "1"`)
	w.Click("#tab-chat")
}

// enterRoom opens the room page and waits for its hello.
func enterRoom(w *browsertest.Window, base, code string) {
	w.Navigate(base + "/r/" + code)
	w.WaitJS(`document.querySelector("#conn-state").dataset.state === "open"`)
}

// roomModule is a JavaScript expression giving the page's room module
// (embed/static/js/room/app.js), from which tests read the page's parts: the
// page's own script, whose URL carries the assets' version (a page with a
// playback snapshot adds it from its head).
const roomModule = `import(document.querySelector('script[src$="/js/room/app.js"]').src)`

// fitsViewport reports what does not fit: the player and the composer must
// be fully inside the viewport, and the page must not scroll.
func fitsViewport(w *browsertest.Window) string {
	return browsertest.Eval[string](w, `(() => {
	  const vw = window.innerWidth, vh = window.innerHeight, bad = [];
	  for (const sel of ["#screen", "#chat-input"]) {
	    const e = document.querySelector(sel);
	    const r = e.getBoundingClientRect();
	    if (r.width === 0 || r.height === 0) bad.push(sel + " is not shown");
	    else if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5)
	      bad.push(sel + " at " + [r.left, r.top, r.right, r.bottom].map(Math.round).join(",") + " outside " + vw + "x" + vh);
	  }
	  const se = document.scrollingElement;
	  if (se.scrollHeight > vh + 1 || se.scrollWidth > vw + 1) bad.push("the page scrolls: " + se.scrollWidth + "x" + se.scrollHeight);
	  return bad.join("; ");
	})()`)
}

// rectOf returns an element's box, rounded.
func rectOf(w *browsertest.Window, sel string) [4]int {
	return browsertest.Eval[[4]int](w, `(() => { const r = document.querySelector(`+strconv.Quote(sel)+`).getBoundingClientRect();
	  return [r.left, r.top, r.width, r.height].map(Math.round); })()`)
}

// ---- screenshots ----

// shot captures the viewport, scaled down by half (small files, and font
// hinting differences fade), as an image.
func shot(t *testing.T, w *browsertest.Window, label string) *image.RGBA {
	t.Helper()
	p := w.Screenshot(label)
	f, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return half(img)
}

func half(src image.Image) *image.RGBA {
	b := src.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := 0; y < b.Dy()/2; y++ {
		for x := 0; x < b.Dx()/2; x++ {
			var r, g, bl uint32
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					cr, cg, cb, _ := src.At(b.Min.X+2*x+dx, b.Min.Y+2*y+dy).RGBA()
					r, g, bl = r+cr, g+cg, bl+cb
				}
			}
			out.Set(x, y, color.RGBA{uint8(r / 4 >> 8), uint8(g / 4 >> 8), uint8(bl / 4 >> 8), 255})
		}
	}
	return out
}

// screensDir is docs/screens in the repository.
func screensDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "screens")
}

// compareScreen compares img with the baseline docs/screens/NAME.png: it
// fails when more than tolerance of the pixels differ clearly (text that
// changes from run to run, such as times and room codes, stays under it;
// a moved panel or a lost style does not). -update-screens rewrites it.
func compareScreen(t *testing.T, name string, img *image.RGBA, tolerance float64) {
	t.Helper()
	path := filepath.Join(screensDir(t), name+".png")
	if *updateScreens {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no baseline %s (run the test with -update-screens to make it): %v", path, err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds().Size() != img.Bounds().Size() {
		t.Errorf("screen %s: size %v, baseline %v", name, img.Bounds().Size(), want.Bounds().Size())
		return
	}
	diff, total := 0, 0
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(want.Bounds().Min.X+x, want.Bounds().Min.Y+y).RGBA()
			d := absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
			if d>>8 > 96 {
				diff++
			}
			total++
		}
	}
	frac := float64(diff) / float64(total)
	t.Logf("screen %s: %.2f%% of pixels differ from the baseline", name, 100*frac)
	if frac > tolerance {
		got := filepath.Join(t.TempDir(), name+".png")
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		_ = os.WriteFile(got, buf.Bytes(), 0o644)
		t.Errorf("screen %s differs from its baseline in %.1f%% of pixels (tolerance %.1f%%); now: %s, baseline: %s",
			name, 100*frac, 100*tolerance, got, path)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// ---- accessibility ----

// axeSource is axe-core from tools/js/node_modules (npm ci there, which
// make test runs).
func axeSource(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "tools", "js", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run `make test`, which installs it with npm ci in tools/js", err)
	}
	return string(b)
}

// axeCheck runs axe-core on the page and fails on serious or critical
// violations.
func axeCheck(t *testing.T, w *browsertest.Window, axe, what string) {
	t.Helper()
	if !browsertest.Eval[bool](w, `typeof window.axe === "object"`) {
		browsertest.Eval[bool](w, `(() => { (0, eval)(`+strconv.Quote(axe)+`); return true; })()`)
	}
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	vs := browsertest.EvalAsync[[]violation](w, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
	  .filter(v => v.impact === "serious" || v.impact === "critical")
	  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map(n => n.target.join(" "))})))`)
	for _, v := range vs {
		t.Errorf("axe, %s: %s (%s): %s at %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, " | "))
	}
}

// chromedpEval runs JavaScript for its effect.
func chromedpEval(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { ` + js + `; })()`)
}

// chromedpSelect picks an option of a select as a person would (the change
// event follows).
func chromedpSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedpEval(`const s = document.querySelector(` + strconv.Quote(sel) + `); s.focus(); s.value = ` + strconv.Quote(value) +
		`; s.dispatchEvent(new Event("input", {bubbles: true})); s.dispatchEvent(new Event("change", {bubbles: true}))`)
}

// chromedpFocus focuses an element.
func chromedpFocus(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Focus(chromedp.CSS(sel))
}

// chromedpKeys types keys into the focused element.
func chromedpKeys(keys string) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(keys)
}
