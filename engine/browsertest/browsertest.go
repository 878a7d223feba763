// Package browsertest drives real headless Chromium windows from Go tests,
// through github.com/chromedp/chromedp. Each Window is its own Chromium
// process with a fresh profile in t.TempDir(), so several windows are
// separate people (separate cookies) and each counts as a visible page.
//
//	w := browsertest.New(t)
//	w.Navigate(srv.URL + "/signup")
//	w.Fill("#email", "ann@example.org")
//	w.ClickNavigate("button[type=submit]")
//	w.WaitText("header .who", "Ann")
//	n := browsertest.Eval[int](w, `document.querySelectorAll("li").length`)
//
// Every helper fails the test (t.Fatal) when its action fails or times out
// (Window.Timeout, 20s by default); before the first failure is reported, and
// at the end of any failed test, the window takes a screenshot and the test
// log gives its path. Browser console messages and uncaught exceptions go to
// the test log, and Errors returns them for assertions.
//
// Chromium is Debian's /usr/bin/chromium (or chromium on PATH). When it is
// missing the test fails and says to run `make test`, which installs it.
package browsertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Flags returns the Chromium command-line flags every window gets.
func Flags() map[string]any {
	return map[string]any{
		"headless":                               "new",
		"no-sandbox":                             true,
		"disable-gpu":                            true,
		"disable-background-networking":          true,
		"disable-component-update":               true,
		"disable-sync":                           true,
		"no-first-run":                           true,
		"no-default-browser-check":               true,
		"disable-dev-shm-usage":                  true,
		"autoplay-policy":                        "no-user-gesture-required",
		"use-fake-device-for-media-stream":       true,
		"use-fake-ui-for-media-stream":           true,
		"allow-loopback-in-peer-connection":      true,
		"disable-extensions":                     true,
		"disable-default-apps":                   true,
		"disable-background-timer-throttling":    true,
		"disable-renderer-backgrounding":         true,
		"disable-backgrounding-occluded-windows": true,
		"disable-features":                       "Translate,MediaRouter,OptimizationHints",
		"password-store":                         "basic",
		"use-mock-keychain":                      true,
		"hide-scrollbars":                        true,
		"window-size":                            "1280,800",
	}
}

// Chromium returns the path of the Chromium binary, or an error that says how
// to install it.
func Chromium() (string, error) {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("browsertest: Chromium is not installed (looked for /usr/bin/chromium and chromium on PATH); " +
		"run `make test`, which installs it (or: apt-get install chromium)")
}

// Option changes a Window before it starts.
type Option func(*settings)

type settings struct {
	name      string
	flags     map[string]any
	roomHooks bool
}

// WithRoomHooks makes the window expose the room page's parts to the test
// as window.watchpartySync (the sync engine), window.watchpartyStream (the
// frame stream's counters) and window.watchpartyShare (the share counters),
// from the page's room module (embed/static/js/room/app.js), once each room
// page has loaded. The page itself puts nothing on window.
func WithRoomHooks() Option { return func(s *settings) { s.roomHooks = true } }

// roomHooks runs in every new document of a window made WithRoomHooks.
const roomHooks = `addEventListener("load", () => {
  if (!document.getElementById("room")) return;
  // The page's room module (its URL carries the assets' version).
  import(document.querySelector('script[src$="/js/room/app.js"]').src).then((m) => {
    window.watchpartySync = m.room.sync;
    window.watchpartyStream = m.room.stream;
    window.watchpartyShare = m.room.share;
  });
});`

// cspWatch runs in every new document: a Content-Security-Policy violation
// becomes a console error, so that Errors() reports it and every test that
// checks Errors() also checks that its pages work under the server's policy.
const cspWatch = `document.addEventListener("securitypolicyviolation", (e) => {
  console.error("Content-Security-Policy violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code") +
    " at " + e.sourceFile + ":" + e.lineNumber);
});`

// listen logs the page's console, reports CSP violations as errors and adds
// the room hooks when asked.
func (w *Window) listen(set settings) {
	if err := chromedp.Listen(w.ctx, w.onEvent); err != nil {
		w.t.Logf("browsertest: %s: no console events: %v", w.name, err)
	}
	w.onNewDocument("watch for CSP violations", cspWatch)
	if set.roomHooks {
		w.onNewDocument("add the room hooks", roomHooks)
	}
}

// finish takes the failure screenshot and stops logging, before closing.
func (w *Window) finish() {
	if w.t.Failed() {
		w.screenshot("at-failure")
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// onNewDocument runs script at the start of every document the window loads.
func (w *Window) onNewDocument(what, script string) {
	w.Do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// WithName names the window in log lines and screenshot files (default
// "window1", "window2", ... in the order of New).
func WithName(name string) Option { return func(s *settings) { s.name = name } }

// WithFlag adds or replaces a Chromium flag (value true for a bare flag,
// false to remove one of Flags()).
func WithFlag(name string, value any) Option {
	return func(s *settings) { s.flags[name] = value }
}

// WithWindowSize sets the window size in CSS pixels.
func WithWindowSize(width, height int) Option {
	return WithFlag("window-size", fmt.Sprintf("%d,%d", width, height))
}

// Window is one headless Chromium with one tab.
type Window struct {
	t    testing.TB
	name string
	ctx  context.Context // the tab; no deadline
	dir  string          // the profile directory

	// Timeout bounds each helper's action.
	Timeout time.Duration

	mu     sync.Mutex
	closed bool
	errs   []string
	shots  int
}

var windowSeq struct { //nolint:gochecknoglobals // window names unique across the test binary
	sync.Mutex
	n map[string]int
}

// firstRun makes the first run of a context, which ties the browser or tab
// to that context: it gets no deadline, and the caller waits at most d.
func firstRun(ctx context.Context, d time.Duration, what string) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("%s within %s", what, d)
	}
}

// nextName numbers the windows and tabs of a test: window1, tab2, ...
func nextName(t testing.TB, prefix string) string {
	windowSeq.Lock()
	defer windowSeq.Unlock()
	if windowSeq.n == nil {
		windowSeq.n = map[string]int{}
	}
	windowSeq.n[t.Name()]++
	return prefix + strconv.Itoa(windowSeq.n[t.Name()])
}

// New starts a Chromium window for t and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Window {
	t.Helper()
	path, err := Chromium()
	if err != nil {
		t.Fatal(err)
	}
	set := settings{flags: Flags()}
	for _, o := range opts {
		o(&set)
	}
	if set.name == "" {
		set.name = nextName(t, "window")
	}
	dir := filepath.Join(t.TempDir(), "chromium-profile")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	aopts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(dir)}
	for _, k := range sortedKeys(set.flags) {
		aopts = append(aopts, chromedp.Flag(k, set.flags[k]))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), aopts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	w := &Window{t: t, name: set.name, ctx: ctx, dir: dir, Timeout: 20 * time.Second}

	// Start the browser with a context that has no deadline: the first Run
	// ties the browser's life to its context.
	err = firstRun(ctx, 60*time.Second, "Chromium did not start")
	if err != nil {
		cancelTab()
		cancelAlloc()
		killProfileProcesses(dir)
		t.Fatalf("browsertest: starting Chromium (%s): %v", path, err)
	}
	w.listen(set)

	t.Cleanup(func() {
		w.finish()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = chromedp.Cancel(cctx)
			cancel()
			cancelTab()
			cancelAlloc() // waits for the browser process
		}()
		select {
		case <-closed:
		case <-time.After(15 * time.Second):
			t.Logf("browsertest: %s: Chromium did not close within 15s; killing it", w.name)
		}
		// Chromium's helper processes can outlive the main one for a
		// moment; the profile directory is removed after this cleanup.
		killProfileProcesses(dir)
		select {
		case <-closed:
		case <-time.After(15 * time.Second):
			t.Errorf("browsertest: %s: Chromium still not closed after it was killed", w.name)
		}
	})
	return w
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if b, ok := v.(bool); ok && !b {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable command line
	return keys
}

// onEvent runs on chromedp's reader goroutine: it must be quick.
func (w *Window) onEvent(ev any) {
	var line string
	var isErr bool
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			parts = append(parts, remoteText(a))
		}
		line = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(parts, " "))
		isErr = e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		line = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg)
		isErr = true
	default:
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if isErr {
		w.errs = append(w.errs, line)
	}
	w.t.Logf("browsertest: %s: %s", w.name, line)
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		if s, err := strconv.Unquote(string(o.Value)); err == nil {
			return s
		}
		return string(o.Value)
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	return o.Description
}

// Errors returns the console.error and console.assert messages and the
// uncaught exceptions the page has produced so far.
func (w *Window) Errors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errs...)
}

// Context is the window's chromedp context, for actions the helpers do not
// cover: chromedp.Run(w.Context(), ...). It has no deadline.
func (w *Window) Context() context.Context { return w.ctx }

// Name is the window's name in logs and screenshots.
func (w *Window) Name() string { return w.name }

// Do runs chromedp actions with the window's timeout and fails the test on
// error.
func (w *Window) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, w.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		w.fail("%s: %v", what, err)
	}
}

// Run runs one chromedp action that returns a value, with the window's
// timeout, and fails the test on error.
func Run[T any](w *Window, what string, action chromedp.Action[T]) T {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, w.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		w.fail("%s: %v", what, err)
	}
	return v
}

// fail takes a screenshot and fails the test.
func (w *Window) fail(format string, args ...any) {
	w.t.Helper()
	w.screenshot("failure")
	loc := ""
	if u, err := w.location(); err == nil {
		loc = " (at " + u + ")"
	}
	w.t.Fatalf("browsertest: %s: %s%s", w.name, fmt.Sprintf(format, args...), loc)
}

func (w *Window) location() (string, error) {
	ctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Location())
}

// Navigate loads url and waits for the page's load event.
func (w *Window) Navigate(url string) {
	w.t.Helper()
	w.Do("navigate to "+url, chromedp.Navigate(url))
}

// NavigateStatus loads url and returns the HTTP status of the document.
func (w *Window) NavigateStatus(url string) int64 {
	w.t.Helper()
	resp := Run(w, "navigate to "+url, chromedp.NavigateResponse(url))
	if resp == nil {
		w.fail("navigate to %s: no response", url)
	}
	return resp.Status
}

// Location is the current URL.
func (w *Window) Location() string {
	w.t.Helper()
	return Run(w, "read the location", chromedp.Location())
}

// Fill replaces the value of the input matched by the CSS selector by typing
// value into it (so input events fire as for a person).
func (w *Window) Fill(sel, value string) {
	w.t.Helper()
	clear := `(e => { e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector(` + strconv.Quote(sel) + `))`
	w.Do("fill "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](clear),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

// Click clicks the element matched by the CSS selector (waiting until it is
// visible). Use ClickNavigate when the click loads a new page.
func (w *Window) Click(sel string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, w.Timeout)
	defer cancel()
	var err error
	// A list that re-renders between finding the element and clicking it
	// replaces the node: find it again, as a person's next try would.
	for range 5 {
		if err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err == nil || !replacedNode(err) {
			break
		}
	}
	if err != nil {
		w.fail("click %s: %v", sel, err)
	}
}

// replacedNode reports whether err says the node an action found was
// removed from the page before the action reached it.
func replacedNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "Node is detached")
}

// ClickNavigate clicks the element matched by the CSS selector, waits for the
// page it loads (a link, or a form's submit button) and returns the HTTP
// status of that page (after redirects).
func (w *Window) ClickNavigate(sel string) int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, w.Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		w.fail("click %s and wait for the next page: %v", sel, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// Press types keys into the focused element (e.g. "\r" for Enter).
func (w *Window) Press(keys string) {
	w.t.Helper()
	w.Do("press keys", chromedp.KeyEvent(keys))
}

// WaitVisible waits until the element matched by the CSS selector is visible.
func (w *Window) WaitVisible(sel string) {
	w.t.Helper()
	w.Do("wait for "+sel+" to be visible", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// WaitGone waits until no element matches the CSS selector.
func (w *Window) WaitGone(sel string) {
	w.t.Helper()
	w.Do("wait for "+sel+" to go away", chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// Text returns the text content of the first element matched by the CSS
// selector, or "" when nothing matches.
func (w *Window) Text(sel string) string {
	w.t.Helper()
	return Eval[string](w, `(document.querySelector(`+strconv.Quote(sel)+`)||{}).textContent||""`)
}

// Exists reports whether an element matches the CSS selector now.
func (w *Window) Exists(sel string) bool {
	w.t.Helper()
	return Eval[bool](w, `document.querySelector(`+strconv.Quote(sel)+`) !== null`)
}

// WaitText waits until the text content of an element matched by the CSS
// selector contains want, across page loads, and returns that text.
func (w *Window) WaitText(sel, want string) string {
	w.t.Helper()
	js := `(() => { for (const e of document.querySelectorAll(` + strconv.Quote(sel) + `)) {
		if (e.textContent.includes(` + strconv.Quote(want) + `)) return e.textContent; } return null; })()`
	last := ""
	ok := w.poll(func(ctx context.Context) (bool, error) {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](js))
		if err != nil || v == nil {
			return false, err
		}
		last = *v
		return true, nil
	})
	if !ok {
		w.fail("no %s containing %q within %s; page text: %q", sel, want, w.Timeout, w.pageText())
	}
	return strings.TrimSpace(last)
}

// WaitURL waits until the current URL matches the regular expression.
func (w *Window) WaitURL(pattern string) string {
	w.t.Helper()
	re := regexp.MustCompile(pattern)
	u := ""
	ok := w.poll(func(ctx context.Context) (bool, error) {
		var err error
		u, err = chromedp.Run(ctx, chromedp.Location())
		return err == nil && re.MatchString(u), err
	})
	if !ok {
		w.fail("URL %q does not match %s after %s", u, pattern, w.Timeout)
	}
	return u
}

// WaitJS waits until the JavaScript expression is truthy.
func (w *Window) WaitJS(expr string) {
	w.t.Helper()
	ok := w.poll(func(ctx context.Context) (bool, error) {
		return chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
	})
	if !ok {
		w.fail("%s stayed false for %s", expr, w.Timeout)
	}
}

// poll calls try every 25 ms until it reports true or the window's timeout
// passes. Errors (a page that is loading has no document for a moment) count
// as false.
func (w *Window) poll(try func(ctx context.Context) (bool, error)) bool {
	deadline := time.Now().Add(w.Timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
		done, _ := try(ctx)
		cancel()
		if done {
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

func (w *Window) pageText() string {
	ctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// Eval evaluates a JavaScript expression in the page and decodes its result
// into T (any JSON-decodable type).
func Eval[T any](w *Window, expr string) T {
	w.t.Helper()
	return Run(w, "evaluate "+abbrev(expr), chromedp.Evaluate[T](expr))
}

// EvalAsync evaluates an expression that gives a promise, waits for it and
// decodes the resolved value into T.
func EvalAsync[T any](w *Window, expr string) T {
	w.t.Helper()
	return Run(w, "evaluate "+abbrev(expr), chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// SetCookie sets a cookie for url in this window, e.g. a session cookie made
// over HTTP so the browser starts logged in.
func (w *Window) SetCookie(url, name, value string) {
	w.t.Helper()
	w.Do("set cookie "+name, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: url})
		return err
	}))
}

// Screenshot saves a PNG of the viewport and returns its path (see
// screenshotDir); the test log names it.
func (w *Window) Screenshot(label string) string {
	w.t.Helper()
	return w.screenshot(label)
}

func (w *Window) screenshot(label string) string {
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		w.t.Logf("browsertest: %s: no screenshot (%s): %v", w.name, label, err)
		return ""
	}
	w.mu.Lock()
	w.shots++
	n := w.shots
	w.mu.Unlock()
	dir := screenshotDir(w.t)
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%s.png", safeName(w.t.Name()), w.name, n, safeName(label)))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		w.t.Logf("browsertest: %s: writing screenshot: %v", w.name, err)
		return ""
	}
	w.t.Logf("browsertest: %s: screenshot (%s): %s", w.name, label, p)
	return p
}

// screenshotDir is the test's artifact directory when go test runs with
// -artifacts (kept under -outputdir), otherwise a directory under the system
// temporary directory that outlives the test, so a failure's screenshot can
// be opened afterwards.
func screenshotDir(t testing.TB) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir := filepath.Join(os.TempDir(), "watchparty-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t.TempDir()
	}
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// killProfileProcesses kills leftover Chromium processes started with the
// profile directory dir, looking a few times because helpers can fork late.
func killProfileProcesses(dir string) {
	want := "--user-data-dir=" + dir
	quiet := 0
	for i := 0; i < 100 && quiet < 3; i++ {
		found := 0
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for _, arg := range strings.Split(string(b), "\x00") {
				if arg == want {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
					found++
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewTab opens another person in the same Chromium: a new tab in a new
// browser context (its own cookies and storage), cheaper than a second
// browser. It closes when the test ends; the window it came from must
// outlive it. Options other than WithName are ignored (the flags are the
// browser's); set a tab's size with EmulateViewport.
func (w *Window) NewTab(t testing.TB, opts ...Option) *Window {
	t.Helper()
	set := settings{flags: map[string]any{}}
	for _, o := range opts {
		o(&set)
	}
	if set.name == "" {
		set.name = nextName(t, "tab")
	}
	ctx, cancel := chromedp.NewContext(w.ctx, chromedp.WithNewBrowserContext())
	tab := &Window{t: t, name: set.name, ctx: ctx, dir: w.dir, Timeout: w.Timeout}
	// As in New: the first run ties the tab to its context.
	if err := firstRun(ctx, 30*time.Second, "no tab"); err != nil {
		cancel()
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	tab.listen(set)
	t.Cleanup(func() {
		tab.finish()
		cancel()
	})
	return tab
}

// EmulateViewport makes the page see a viewport of width x height CSS
// pixels (a phone: mobile true, with touch and a device scale of 3).
func (w *Window) EmulateViewport(width, height int, mobile bool) {
	w.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch}
		if width > height {
			opts = append(opts, chromedp.EmulateLandscape)
		} else {
			opts = append(opts, chromedp.EmulatePortrait)
		}
	}
	w.Do("emulate a viewport", chromedp.EmulateViewport(int64(width), int64(height), opts...))
}

// EmulateColorScheme makes the page see prefers-color-scheme: dark (or light).
func (w *Window) EmulateColorScheme(dark bool) {
	w.t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	w.Do("emulate "+scheme+" colours", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}
