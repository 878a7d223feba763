package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"watchparty/config"
	"watchparty/engine/metrics"
	"watchparty/engine/store"
)

// metricsHandler builds the /metrics handler serving m, or nil when
// metrics are off.
func metricsHandler(cfg *config.Config, st *store.Store, m *metrics.Metrics) http.Handler {
	if !cfg.Metrics.Enabled {
		return nil
	}
	return metrics.Handler(m.Registry(metrics.Options{Store: st, Version: Version}))
}

// serveMetrics serves /metrics on its own listener (metrics.listen) until
// ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	return serveUntil(ctx, "metrics listener", hs, ln)
}

// serveUntil runs hs on ln until ctx ends, then shuts it down within
// ShutdownTimeout (closing what is left after that).
func serveUntil(ctx context.Context, name string, hs *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-errc
	return nil
}
