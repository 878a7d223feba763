// Package app wires watchparty together: it parses the command line, loads
// the configuration, opens the store and runs the services until a signal.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"watchparty/config"
	"watchparty/engine/account"
	"watchparty/engine/limit"
	"watchparty/engine/media"
	"watchparty/engine/metrics"
	"watchparty/engine/revoke"
	"watchparty/engine/room"
	"watchparty/engine/rtc"
	"watchparty/engine/store"
	"watchparty/engine/web"
)

// Version is stamped at build time with -ldflags "-X watchparty/engine/app.Version=...".
var Version = "dev" //nolint:gochecknoglobals // stamped at build time with -ldflags -X

// ShutdownTimeout bounds a graceful stop.
const ShutdownTimeout = 5 * time.Second

// Env is what a command runs with: arguments, environment and streams, as
// values so that tests can run commands in-process.
type Env struct {
	Args    []string // without the program name
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server (the default)", runServe},
		{"config", "print the effective configuration, secrets redacted", runConfig},
		{"version", "print the version and compiled-in features", runVersion},
		{"user", "manage accounts: add, list, passwd, rm, promote, demote", runUser},
		{"healthcheck", "exit 0 when the running server answers /healthz", runHealthcheck},
		{"backup", "write a backup of the store to FILE (works while the server runs)", runBackup},
		{"restore", "load a backup FILE into an empty data directory (server stopped)", runRestore},
		{"secret", "rotate the server's secret key (server stopped): secret rotate [--logout-everyone]", runSecret},
		{"publish", "push a camera, file or URL to a room's frame stream on a server", runPublish},
		{"view", "receive a room's frame stream: write JPEGs, print stats, or show a window (OpenCV builds)", runView},
	}
}

// Run runs a command line and returns the process exit code.
func Run(e Env) int {
	args := e.Args
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || (len(e.Args) > 0 && (e.Args[0] == "-h" || e.Args[0] == "--help")) {
		usage(e.Stdout)
		return 0
	}
	// Everything watchparty writes (the store, backups, the control
	// socket) is for the server's user only.
	unix.Umask(0o077)
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		ctx := context.Background()
		if err := c.run(ctx, e, args); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(e.Stderr, "watchparty %s: %v\n", name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "watchparty: unknown command %q\n\n", name)
	usage(e.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "watchparty — a self-hosted watch-party server")
	fmt.Fprintln(w, "\nUsage: watchparty [command] [--config FILE] [--key value ...]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery option of watchparty.yaml is also a flag (--log.level debug) and an")
	fmt.Fprintln(w, "environment variable (WATCHPARTY_LOG_LEVEL=debug). Run `watchparty serve --help` for the list.")
}

// loadConfig parses the flags common to every command: --config and one per option.
func loadConfig(e Env, name string, args []string, extra func(fs *pflag.FlagSet)) (*config.Config, *pflag.FlagSet, error) {
	fs := pflag.NewFlagSet("watchparty "+name, pflag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	file := fs.String("config", "", "configuration file (YAML); env WATCHPARTY_CONFIG")
	set := config.RegisterFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(config.Source{File: *file, Env: e.Environ, Flags: set()})
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}

func newLogger(cfg *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	_ = lv.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h), lv
}

func openStore(cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	return store.Open(cfg.DataDir, log, store.Options{})
}

func accountService(cfg *config.Config, st *store.Store, o serverOptions, bus *revoke.Bus) *account.Service {
	return account.New(account.NewBadger(st), account.Settings{Registration: cfg.Registration, SessionTTL: cfg.Session.TTL, GuestTTL: cfg.Guests.TTL,
		HashTime: o.hashTime, HashMemory: o.hashMemory, Revoke: bus})
}

// roomOptions are the room service's options: the configuration's, on st.
func roomOptions(cfg *config.Config, st *store.Store, log *slog.Logger, bus *revoke.Bus) room.Options {
	o := room.OptionsFrom(cfg)
	o.Repo, o.Log, o.Revoke = room.NewBadger(st), log, bus
	return o
}

func runServe(ctx context.Context, e Env, args []string) error {
	cfg, _, err := loadConfig(e, "serve", args, nil)
	if err != nil {
		return err
	}
	log, level := newLogger(cfg, e.Stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := NewServer(cfg, log)
	if err != nil {
		return err
	}
	srv.Level, srv.Notify = level, NotifierFromEnv(e.Environ)
	srv.Reconfigure = func() (*config.Config, error) {
		c, _, err := loadConfig(e, "serve", args, nil)
		return c, err
	}
	// After the first signal, signal handling returns to the default, so a
	// second SIGINT or SIGTERM ends the process at once.
	context.AfterFunc(ctx, func() {
		stop()
		log.Info("shutting down (a second signal stops at once)")
	})
	return srv.Run(ctx)
}

// Server is a fully wired watchparty server.
type Server struct {
	Config *config.Config
	Log    *slog.Logger
	Store  *store.Store
	Web    *web.Server
	// Accounts is the account service behind the web server.
	Accounts *account.Service
	// Addr is the HTTP listener's address once Run has started listening.
	Addr chan net.Addr
	// addr is that address as text, for systemd's status line.
	addr string
	// frames streams pictures to rooms (frames.go).
	frames *frameStreams
	// native serves native players through the Syncplay protocol
	// (syncplay.go).
	native *nativePlayers
	// media is the library and its transcoder.
	media *web.Media
	// SFU forwards shared screens, cameras and voice (nil unless
	// webrtc.enabled); the frame hub can take its data channels through
	// SFU.OnFrameChannel.
	SFU *rtc.SFU
	// rtcMetrics receives the SFU's counters (webrtc.go).
	rtcMetrics metrics.WebRTC
	ops
}

// NewServer opens the store and builds every service.
func NewServer(cfg *config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	start := time.Now()
	var so serverOptions
	for _, fn := range opts {
		fn(&so)
	}
	st, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	secret, err := serverSecret(st)
	if err != nil {
		st.Close()
		return nil, err
	}
	// One set of instruments per server: each service records into its
	// part, /metrics serves the whole.
	m := metrics.New()
	o, err := newOps(cfg, st, m)
	if err != nil {
		st.Close()
		return nil, err
	}
	// One bus carries every revocation to every transport (engine/revoke).
	bus := &revoke.Bus{}
	acc := accountService(cfg, st, so, bus)
	fr, err := newFrameStreams(cfg, log, secret, st, bus, m.Frames)
	if err != nil {
		st.Close()
		return nil, err
	}
	np := newNativePlayers(cfg, log, st)
	sfu, err := newSFU(cfg, log, so)
	if err != nil {
		st.Close()
		return nil, err
	}
	md := web.NewMedia(cfg, media.NewBadger(st), log)
	ro := roomOptions(cfg, st, log, bus)
	ro.VideoLeft = md.VideoLeft
	ro.RTC = sfu
	if sfu != nil {
		sfu.OnFrameChannel(fr.frameChannel)
	}
	ro.Streams = fr
	ro.Metrics = m.Room
	rooms := fr.bind(room.New(ro))
	np.rooms = rooms
	w, err := web.New(web.Deps{Config: cfg, Log: log, Store: st, Accounts: acc, Secret: secret, Metrics: o.mainMetrics(cfg), Instruments: m,
		Rooms: rooms, Frames: fr.web(), Syncplay: np.web(), Revoke: bus, Media: md})
	if err != nil {
		rooms.Close()
		if sfu != nil {
			_ = sfu.Close()
		}
		st.Close()
		return nil, err
	}
	w.OnClose(rooms.Close)
	log.Debug("services built", "ms", time.Since(start).Milliseconds())
	return &Server{Config: cfg, Log: log, Store: st, Web: w, Accounts: acc, Addr: make(chan net.Addr, 1), frames: fr, native: np, SFU: sfu, ops: o, media: md, rtcMetrics: m.WebRTC}, nil
}

// Run serves until ctx ends, then shuts down within ShutdownTimeout and
// closes the store.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Config.Listen)
	if err != nil {
		if s.SFU != nil {
			_ = s.SFU.Close()
		}
		s.Store.Close()
		return fmt.Errorf("listening on %s: %w", s.Config.Listen, err)
	}
	// A bound on connections per client address, before TLS or HTTP spend
	// anything on them (trusted proxies carry everyone's and are exempt).
	ln = limit.NewListener(ln, s.Config.Limits.HTTPConnsPerIP, web.ProxyTrust(s.Config.TrustedProxies))
	ln = s.wrapTLS(ln)
	s.Addr <- ln.Addr()
	s.addr = ln.Addr().String()
	s.Log.Info("watchparty serving", "addr", ln.Addr().String(), "version", Version, "data_dir", s.Config.DataDir,
		"registration", s.Config.Registration, "base_path", s.Config.BasePath)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Web.Serve(gctx, ln, ShutdownTimeout) })
	g.Go(func() error { return s.runOps(gctx) })
	g.Go(func() error { return s.frames.run(gctx) })
	g.Go(func() error { return s.native.run(gctx, s.syncplayTLS()) })
	g.Go(func() error { return s.media.Run(gctx) })
	if s.SFU != nil {
		s.Log.Info(s.SFU.StartupSummary())
		g.Go(func() error { return s.runSFU(gctx) })
	}
	err = g.Wait()
	s.Accounts.Close()
	if cerr := s.Store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	s.Log.Info("watchparty stopped")
	return err
}

func runConfig(ctx context.Context, e Env, args []string) error {
	cfg, _, err := loadConfig(e, "config", args, nil)
	if err != nil {
		return err
	}
	return cfg.Print(e.Stdout)
}

func runVersion(ctx context.Context, e Env, args []string) error {
	fmt.Fprintf(e.Stdout, "watchparty %s\nfeatures: %s\n", Version, strings.Join(Features(), ", "))
	return nil
}
