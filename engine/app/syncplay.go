package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"watchparty/config"
	"watchparty/engine/limit"
	"watchparty/engine/room"
	"watchparty/engine/store"
	"watchparty/engine/syncplay"
	"watchparty/engine/web"
)

// nativePlayers is the Syncplay listener (syncplay.listen): native players
// join rooms through it with a member's access token.
type nativePlayers struct {
	cfg    *config.Config
	log    *slog.Logger
	tokens *syncplay.Tokens
	rooms  *room.Service
	addr   atomic.Pointer[string]
	// Addr receives the listener's address once it listens.
	Addr chan net.Addr
}

func newNativePlayers(cfg *config.Config, log *slog.Logger, st *store.Store) *nativePlayers {
	return &nativePlayers{cfg: cfg, log: log.With("part", "syncplay"), tokens: syncplay.NewTokens(syncplay.NewBadgerTokens(st)), Addr: make(chan net.Addr, 1)}
}

// web returns what the room page's "Join with mpv/VLC" needs (nil when the
// listener is off).
func (n *nativePlayers) web() *web.Syncplay {
	if n.cfg.Syncplay.Listen == "" {
		return nil
	}
	return &web.Syncplay{Tokens: n.tokens, TokenTTL: n.cfg.Syncplay.TokenTTL, Public: n.cfg.Syncplay.PublicAddress,
		Addr: func() string {
			if p := n.addr.Load(); p != nil {
				return *p
			}
			return ""
		}}
}

// run serves native players until ctx ends (nothing when the listener is
// off), then closes their connections, telling each client why.
func (n *nativePlayers) run(ctx context.Context, tlsCfg *tls.Config) error {
	c := n.cfg.Syncplay
	if c.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listening for native players on %s: %w", c.Listen, err)
	}
	ln = limit.NewListener(ln, c.ConnsPerIP, nil)
	srv := syncplay.New(syncplay.Options{
		Rooms: n.rooms, Tokens: n.tokens, TLS: tlsCfg, Log: n.log,
		MaxLine: c.MaxLine, HelloTimeout: c.HelloTimeout, IdleTimeout: c.IdleTimeout, MaxConns: c.MaxConnections,
		SeekThreshold: time.Duration(c.SeekThresholdMS) * time.Millisecond,
	})
	a := ln.Addr().String()
	n.addr.Store(&a)
	n.Addr <- ln.Addr()
	n.log.Info("native players (Syncplay) listening", "addr", a, "tls", tlsCfg != nil)
	return srv.Serve(ctx, ln)
}

// SyncplayAddr receives the native players' listener address once Run
// listens on syncplay.listen.
func (s *Server) SyncplayAddr() <-chan net.Addr { return s.native.Addr }
