// Package web is watchparty's HTTP face: pages, forms, sessions, CSRF, rate
// limits, health, and the room websocket endpoint, on Fiber.
package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/etag"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"watchparty/config"
	assets "watchparty/embed"
	"watchparty/embed/i18n"
	"watchparty/engine/limit"
	"watchparty/engine/metrics"
	"watchparty/engine/revoke"
	"watchparty/engine/store"
)

// Readiness is what /readyz asks of the store: can it write now?
type Readiness interface {
	Ready(ctx context.Context) error
}

// Deps are what the web server is built on.
type Deps struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    Readiness
	Accounts Accounts
	// Secret keys CSRF tokens; the app keeps it in the store.
	Secret []byte
	// Metrics, when set, is served at /metrics (see engine/metrics).
	Metrics http.Handler
	// Instruments is what the server records into: requests, log-ins and
	// room websockets; nil: a set of its own that nothing serves.
	Instruments *metrics.Metrics
	// Rooms serves the rooms (required). The builder closes it, through
	// OnClose, so that it ends before the HTTP server.
	Rooms Rooms
	// Frames, when set, serves the browser frame relay and stream tokens.
	Frames *Frames
	// Syncplay, when set, hands members native-player access tokens.
	Syncplay *Syncplay
	// Revoke carries ended sessions and lost room places to the server's
	// long-lived connections (room websockets, the frame relay).
	Revoke *revoke.Bus
	// Media is the library and its transcoder; nil builds one from Config
	// (its transcoder then never stops: the app builds and runs its own).
	Media *Media
}

// Server is the HTTP application.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	store    Readiness
	accounts Accounts
	secret   []byte
	app      *fiber.App
	pages    map[string]*template.Template
	assetVer string
	assets   map[string]*asset // what /static/VERSION/ serves, by path (assets.go)
	// scriptHashes and styleHashes are the CSP sources of the pages'
	// inline scripts (the room page's import map and early socket) and
	// styles (the room page's).
	scriptHashes, styleHashes []string
	// roomLinks is the room page's Link header: its two start-up scripts,
	// preloaded from the response's headers (roomPage), when the page
	// carries no playback snapshot; a page with one adds them,
	// roomScripts, from its head (snapshot.go earlyFetch).
	roomLinks   string
	roomScripts [2]string
	base        string

	proxies proxies // trusted reverse proxies
	csp     string  // Content-Security-Policy of every response (csp.go)
	revoke  *revoke.Bus
	logins  *loginGuard
	// refusalLog keeps refused requests from flooding the log (logonce.go).
	refusalLog limit.Refusals
	rooms      *roomWeb
	frames     *Frames
	syncplay   *Syncplay
	media      *Media
	mediaPlay  *mediaHandler // answers how library files play (the room page's snapshot)
	relays     *relaySessions
	metrics    *metrics.Metrics

	closersMu sync.Mutex
	closers   []func()
}

// New builds the server and its routes.
func New(d Deps) (*Server, error) {
	s := &Server{
		cfg: d.Config, log: d.Log, store: d.Store, accounts: d.Accounts, secret: d.Secret, frames: d.Frames, syncplay: d.Syncplay, revoke: d.Revoke, media: d.Media,
		base:   d.Config.BasePath,
		logins: newLoginGuard(d.Config.Limits.LoginPerMinute),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.metrics = d.Instruments
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	s.csp = contentSecurityPolicy(d.Config, s.scriptHashes, s.styleHashes)
	if d.Rooms == nil {
		return nil, errors.New("web: no room service")
	}
	s.rooms = newRoomWeb(s, d.Rooms)
	s.OnClose(s.rooms.ws.Close)
	fcfg := fiber.Config{
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        8192,
		BodyLimit:             1 << 20,
		AppName:               "watchparty",

		// Hand idle connections' buffers back: an upgraded room websocket
		// would otherwise keep its 8 KiB request reader for its lifetime.
		ReduceMemoryUsage: true,

		// Strings from the request (form values, params, headers) are
		// copies: handlers keep some of them (a room's name and settings
		// live on in its actor), and fasthttp reuses request buffers.
		Immutable: true,
	}
	// Forwarded headers (X-Forwarded-For, -Proto, -Host) count only when
	// they come from a configured proxy. Fiber trusts them from anyone
	// unless the proxy check is on, so it is always on: with no trusted
	// proxies, nobody's forwarded headers are believed.
	fcfg.EnableTrustedProxyCheck = true
	fcfg.TrustedProxies = d.Config.TrustedProxies
	if len(d.Config.TrustedProxies) > 0 {
		fcfg.ProxyHeader = fiber.HeaderXForwardedFor
		fcfg.EnableIPValidation = true
	}
	s.app = fiber.New(fcfg)
	// Upgraded connections close themselves: a room websocket's handshake
	// returns at once, handing fasthttp its request context back, and the
	// member's reader closes the connection (engine/room/ws).
	s.app.Server().KeepHijackedConns = true
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		s.log.Error("panic in handler", "path", c.Path(), "panic", fmt.Sprint(e))
	}}))
	if len(d.Config.TrustedProxies) > 0 {
		s.proxies = parseProxies(d.Config.TrustedProxies)
		s.app.Use(s.forwardedFor)
	}
	s.app.Use(s.countRequests)
	// Pages and static files go out compressed when the browser takes it;
	// media (byte ranges), websockets and metrics are left alone.
	s.app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed, Next: func(c *fiber.Ctx) bool {
		p := c.Path()
		return strings.Contains(p, "/media/file/") || strings.Contains(p, "/media/hls/") || strings.HasSuffix(p, "/media/poster") || strings.HasSuffix(p, "/ws") || strings.HasSuffix(p, "/frames") || strings.HasSuffix(p, "/metrics")
	}}))
	s.app.Use(s.requestLog)
	s.app.Use(s.securityHeaders)
	r := s.app.Group(s.base)
	s.metricsRoute(r, d.Metrics)
	s.routes(r)
	return s, nil
}

// App exposes the Fiber app (for tests and for the listener).
func (s *Server) App() *fiber.App { return s.app }

// OnClose registers fn to run when the server shuts down, before the HTTP
// listener stops: upgraded websockets are not closed by Fiber's shutdown.
func (s *Server) OnClose(fn func()) {
	s.closersMu.Lock()
	s.closers = append(s.closers, fn)
	s.closersMu.Unlock()
}

// Serve runs the HTTP server on ln until ctx ends, then shuts down within timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.closersMu.Lock()
	closers := s.closers
	s.closersMu.Unlock()
	for _, fn := range closers {
		fn()
	}
	if err := s.app.ShutdownWithTimeout(timeout); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The bound did its job: requests still unfinished (a client
			// that never completes its request) are abandoned.
			s.log.Warn("shutdown timeout reached: unfinished connections abandoned", "timeout", timeout)
			return nil
		}
		return fmt.Errorf("web: shutdown: %w", err)
	}
	// Fiber's shutdown closes the listener only once it serves on it: a stop
	// right after the start would leave it accepting for ever.
	_ = ln.Close()
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func (s *Server) routes(r fiber.Router) {
	r.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	r.Get("/readyz", s.readyz)
	// Pages name assets under /static/VERSION/ (the hash of every static
	// file): the browser keeps them for good and asks again only when the
	// server's files change. Modules import each other by relative paths, so
	// a module's imports carry the version too. Unversioned paths still work,
	// revalidated each time.
	sub, _ := fs.Sub(assets.Static, "static")
	// (One file server per route: it learns its route's prefix once.)
	files := func() fiber.Handler { return filesystem.New(filesystem.Config{Root: httpFS(sub)}) }
	r.Get("/static/"+s.assetVer+"/*", func(c *fiber.Ctx) error {
		a := s.assets[c.Params("*")]
		if a == nil {
			return fiber.ErrNotFound
		}
		return a.serve(c)
	})
	r.Group("/static", etag.New(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Next()
	}, files())

	r.Use(s.sessionMiddleware, s.csrfMiddleware)
	r.Get("/", s.home)
	r.Get("/signup", s.signupPage)
	r.Post("/signup", s.signup)
	r.Get("/login", s.loginPage)
	r.Post("/login", s.login)
	r.Post("/logout", s.logout)
	acct := r.Group("/account", s.requireAccount)
	acct.Get("/", s.accountPage)
	acct.Post("/name", s.accountName)
	acct.Post("/password", s.accountPassword)
	acct.Post("/delete", s.accountDelete)
	acct.Post("/invites", s.createInvite)
	s.roomRoutes(r)
	s.framesRoutes(r)
	s.syncplayRoutes(r)
	s.mediaRoutes(r)
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if err := s.store.Ready(c.Context()); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).SendString("store unavailable")
	}
	return c.SendString("ready")
}

func (s *Server) loadTemplates() error {
	h := sha256.New()
	_ = fs.WalkDir(assets.Static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(assets.Static, p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	s.assetVer = hex.EncodeToString(h.Sum(nil))[:12]
	// The room page's styles (app.css and room.css) are in the page: with
	// a stylesheet still loading, the browser stopped parsing the page at
	// the end of its head and painted it empty before going on (in a trace
	// of a new tab under load, 200 ms); 9 KB more in every room page
	// (compressed) costs less than that round. The page's head asks the
	// browser not to paint until the room's markup is parsed (a
	// render-blocking rel=expect), which spares the layouts of half-parsed
	// pages.
	var roomCSS []byte
	for _, p := range []string{"static/css/app.css", "static/css/room.css"} {
		b, err := fs.ReadFile(assets.Static, p)
		if err != nil {
			return err
		}
		roomCSS = append(append(roomCSS, b...), '\n')
	}
	static := s.base + "/static/" + s.assetVer + "/"
	sub, _ := fs.Sub(assets.Static, "static")
	bundle, err := joinRoomModules(sub, static)
	if err != nil {
		return err
	}
	s.assets = versionedAssets(sub, map[string][]byte{roomEntry: bundle.entry.js, roomApp: bundle.app.js})
	importMap := `<script type="importmap">` + bundle.importMap + `</script>`
	roomStyle := `<style>` + string(roomCSS) + `</style>`
	s.roomLinks = "<" + static + roomEntry + ">; rel=modulepreload, <" + static + roomApp + ">; rel=modulepreload"
	s.roomScripts = [2]string{static + roomEntry, static + roomApp}
	s.scriptHashes = []string{scriptHash(bundle.importMap), scriptHash(earlySocket), scriptHash(earlyFetch), scriptHash(earlyPlayer)}
	s.styleHashes = []string{scriptHash(string(roomCSS))}
	funcs := template.FuncMap{
		// importMap sends the URLs of the joined start-up modules to the
		// file that holds them (bundle.go).
		"importMap": func() template.HTML { return template.HTML(importMap) }, //nolint:gosec // made by the server from its own file names
		// earlySocket opens the room's websocket from the page's head (bundle.go).
		"earlySocket": func() template.HTML { return template.HTML("<script>" + earlySocket + "</script>") }, //nolint:gosec // a constant
		// earlyFetch asks for the snapshot's file tail, then adds the
		// page's start-up scripts (snapshot.go).
		"earlyFetch": func() template.HTML { return template.HTML("<script>" + earlyFetch + "</script>") }, //nolint:gosec // a constant
		// earlyPlayer starts the room's video from the page's snapshot (snapshot.go).
		"earlyPlayer": func() template.HTML { return template.HTML("<script>" + earlyPlayer + "</script>") }, //nolint:gosec // a constant
		"asset":       func(name string) string { return static + name },
		"roomStyle":   func() template.HTML { return template.HTML(roomStyle) }, //nolint:gosec // the server's own stylesheets
		// tr translates a key with {name} placeholders: {{tr .T "key" "name" value}}.
		"tr": func(c i18n.Catalogue, key string, pairs ...any) string { return c.Format(key, pairs...) },
	}
	names, err := fs.Glob(assets.Templates, "templates/*.html")
	if err != nil {
		return err
	}
	var partials []string
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			partials = append(partials, n)
		}
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		files := append([]string{"templates/layout.html", n}, partials...)
		t, err := template.New("layout").Funcs(funcs).ParseFS(assets.Templates, files...)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", n, err)
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// render writes a page. data gets the common fields: User, CSRF, Base,
// Registration, Lang, T (the strings of the page's language), Languages,
// Title (if unset), Errors and Values (if unset).
func (s *Server) render(c *fiber.Ctx, page string, data fiber.Map) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	if data == nil {
		data = fiber.Map{}
	}
	data["User"] = s.currentUser(c)
	data["CSRF"] = s.csrfToken(c)
	data["Base"] = s.base
	data["Registration"] = s.accounts.Settings().Registration
	data["Lang"] = s.lang(c)
	T := s.catalogue(c)
	data["T"] = T
	data["Languages"] = i18n.Languages()
	for _, k := range []string{"Errors", "Values"} {
		if _, ok := data[k]; !ok {
			data[k] = map[string]string{}
		}
	}
	if f := s.cookie(c, flashCookie); f != "" && data["Flash"] == nil {
		// Unknown keys show nothing, so a forged cookie cannot put text in the page.
		if text := T.T("flash_" + f); text != "flash_"+f {
			data["Flash"] = text
		}
		s.clearCookie(c, flashCookie)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	c.Type("html", "utf-8")
	return c.SendString(b.String())
}

// errorHandler renders every error as a page (or JSON for API paths) and
// never shows internal error text: only the status and a fixed message.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	wantsJSON := strings.Contains(c.Get(fiber.HeaderAccept), "application/json") || strings.HasPrefix(c.Path(), s.base+"/api/")
	var rf *pageRefusal
	if errors.As(err, &rf) {
		return s.refusalPage(c, rf, wantsJSON)
	}
	T := s.catalogue(c)
	code := fiber.StatusInternalServerError
	msg := T.T("err_text_500")
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
		if code < 500 {
			msg = fe.Message
		}
	}
	if errors.Is(err, store.ErrUnavailable) {
		code = fiber.StatusServiceUnavailable
		msg = T.T("err_text_503")
	}
	if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", code, "err", err)
	}
	heading := T.T(fmt.Sprintf("err_title_%d", code))
	if strings.HasPrefix(heading, "err_title_") {
		heading = T.T("err_title_500")
	}
	if wantsJSON {
		return c.Status(code).JSON(fiber.Map{"error": msg, "status": code})
	}
	c.Status(code)
	if rerr := s.render(c, "error", fiber.Map{"Status": code, "Heading": heading, "Message": msg, "Title": heading}); rerr != nil {
		return c.Status(code).SendString(msg)
	}
	return nil
}

func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	lvl := slog.LevelInfo
	if refused, _ := c.Locals(refusedKey).(bool); refused || strings.HasSuffix(c.Path(), "/healthz") || strings.HasSuffix(c.Path(), "/readyz") || strings.HasSuffix(c.Path(), "/metrics") || strings.Contains(c.Path(), "/static/") {
		lvl = slog.LevelDebug
	}
	s.log.Log(c.UserContext(), lvl, "request", "method", c.Method(), "path", c.Path(), "status", c.Response().StatusCode(),
		"dur_ms", float64(time.Since(start).Microseconds())/1000, "ip", c.IP())
	return nil
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()")
	if c.Protocol() == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}
