package app

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiler (debug.pprof_listen, a loopback address)
// until ctx ends: CPU, heap, goroutine and the other runtime profiles, for
// `go tool pprof http://ADDR/debug/pprof/profile?seconds=10`.
func servePprof(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	// A CPU profile or trace lasts as long as its ?seconds= asks.
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return serveUntil(ctx, "profiler listener", hs, ln)
}
