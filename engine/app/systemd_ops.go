package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"watchparty/config"
	"watchparty/engine/metrics"
	"watchparty/engine/store"
)

// ops is what runs around the HTTP server for whoever operates it: systemd
// readiness and watchdog, reload on SIGHUP, the local control socket (online
// backups) and the separate metrics listener.
type ops struct {
	// Level is the logger's level; Reload sets it from Reconfigure's log.level.
	Level *slog.LevelVar
	// Reconfigure reads the configuration sources again (runServe sets it).
	Reconfigure func() (*config.Config, error)
	// Notify reaches systemd; nil when not started by systemd.
	Notify *Notifier
	// MetricsAddr receives the metrics listener's address when metrics.listen is set.
	MetricsAddr chan net.Addr
	// PprofAddr receives the profiler's address when debug.pprof_listen is set.
	PprofAddr chan net.Addr

	certs   *certHolder
	metrics http.Handler
}

func newOps(cfg *config.Config, st *store.Store, m *metrics.Metrics) (ops, error) {
	o := ops{MetricsAddr: make(chan net.Addr, 1), PprofAddr: make(chan net.Addr, 1), metrics: metricsHandler(cfg, st, m)}
	if cfg.TLS.CertFile != "" {
		h, err := newCertHolder(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return o, err
		}
		o.certs = h
	}
	return o, nil
}

// mainMetrics is the handler the web server mounts at /metrics: nil when
// metrics are off or served on their own address.
func (o *ops) mainMetrics(cfg *config.Config) http.Handler {
	if cfg.Metrics.Listen != "" {
		return nil
	}
	return o.metrics
}

// runOps opens the side listeners, tells systemd the service is ready, and
// runs until ctx ends. Run calls it beside the web server, after the HTTP
// listener is open.
func (s *Server) runOps(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if s.metrics != nil && s.Config.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", s.Config.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("listening for metrics on %s: %w", s.Config.Metrics.Listen, err)
		}
		s.MetricsAddr <- ln.Addr()
		s.Log.Info("metrics serving", "addr", ln.Addr().String())
		g.Go(func() error { return serveMetrics(gctx, ln, s.metrics) })
	}
	if addr := s.Config.Debug.PprofListen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening for the profiler on %s: %w", addr, err)
		}
		s.PprofAddr <- ln.Addr()
		s.Log.Warn("profiler serving: for debugging only", "addr", ln.Addr().String())
		g.Go(func() error { return servePprof(gctx, ln) })
	}
	if ln, path, err := listenControl(s.Config.DataDir); err != nil {
		s.Log.Warn("no control socket: online backups are unavailable", "path", path, "err", err)
	} else {
		s.Log.Debug("control socket open", "path", path)
		g.Go(func() error { return s.serveControl(gctx, ln) })
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				s.Log.Info("SIGHUP: reloading")
				_ = s.Reload()
			}
		}
	})

	if iv := s.Notify.WatchdogInterval(); iv > 0 {
		g.Go(func() error { return s.watchdog(gctx, iv) })
	}
	if err := s.Notify.Ready(s.addr); err != nil {
		s.Log.Warn("could not tell systemd we are ready", "err", err)
	}
	<-gctx.Done()
	_ = s.Notify.Stopping()
	return g.Wait()
}

// watchdog pings systemd while the store answers, so a wedged server is
// restarted by systemd.
func (s *Server) watchdog(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Store.Ready(ctx); err != nil {
				s.Log.Error("watchdog: store not ready, not pinging systemd", "err", err)
				continue
			}
			_ = s.Notify.Watchdog()
		}
	}
}
