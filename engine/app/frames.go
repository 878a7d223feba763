package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/config"
	"watchparty/engine/fetch"
	"watchparty/engine/frames"
	"watchparty/engine/frames/source"
	"watchparty/engine/frames/token"
	"watchparty/engine/media"
	"watchparty/engine/metrics"
	"watchparty/engine/revoke"
	"watchparty/engine/room"
	"watchparty/engine/store"
	"watchparty/engine/web"
)

// frameTokenTTL is how long the tokens the room page hands out are valid,
// and the longest any frame token may live (token.Signer's maximum).
const frameTokenTTL = time.Hour

// metricsEvery is how often the hub's counters are copied to the metrics.
const metricsEvery = time.Second

// frameKey derives the frame token key from the server secret, so that a
// token key never doubles as the key of anything else.
func frameKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("frames"))
	return m.Sum(nil)
}

// frameStreams is the server's frame streaming: one hub for every room, the
// access checks and token issuing, the optional TCP listener, and the room
// service's Streamer (sources the server opens itself).
type frameStreams struct {
	cfg    *config.Config
	log    *slog.Logger
	hub    *frames.Hub
	access *frames.Access
	opener *frames.Opener
	rooms  atomic.Pointer[room.Service]
	addr   atomic.Pointer[string] // the TCP listener's address once listening
	// Addr receives the listener's address when stream.listen is set.
	Addr chan net.Addr

	feedCtx    context.Context // ends when the server stops
	cancelFeed context.CancelFunc

	mu      sync.Mutex
	closed  bool
	feeds   sync.WaitGroup    // one per source the server feeds
	reasons map[string]string // room -> why its stream is being stopped

	metrics metrics.Frames // receives the hub's counters (exportMetrics)
}

func newFrameStreams(cfg *config.Config, log *slog.Logger, secret []byte, st *store.Store, bus *revoke.Bus, m metrics.Frames) (*frameStreams, error) {
	signer, err := token.NewSigner(frameKey(secret), frameTokenTTL)
	if err != nil {
		return nil, err
	}
	var lib frames.Library
	if l, err := media.NewLibrary(cfg.Media.Dir); err != nil {
		log.Warn("streaming from the media folder is off", "dir", cfg.Media.Dir, "err", err)
	} else {
		lib = l
	}
	fs := &frameStreams{cfg: cfg, log: log, Addr: make(chan net.Addr, 1), reasons: map[string]string{}, metrics: m}
	fs.feedCtx, fs.cancelFeed = context.WithCancel(context.Background())
	fs.hub = frames.NewHub(frames.HubOptions{
		MaxViewers:             cfg.Limits.ViewersPerStream,
		MaxStreams:             cfg.Limits.Streams,
		MaxStreamsPerPublisher: cfg.Limits.StreamsPerUser,
		IdleTimeout:            cfg.Stream.IdleTimeout,
		OnEvent:                fs.onEvent,
		Logger:                 log.With("part", "frames"),
	})
	fs.access, err = frames.NewAccess(frames.AccessOptions{Tokens: signer, Members: fs, Epochs: storeEpochs{st}, Hub: fs.hub, TTL: frameTokenTTL})
	if err != nil {
		return nil, err
	}
	fs.opener = &frames.Opener{
		Library:     lib,
		Fetcher:     fetch.New(fetch.Options{AllowPrivate: cfg.Stream.AllowPrivateURLs}),
		AllowCamera: cfg.Stream.AllowCamera,
		Options: source.Options{MaxWidth: cfg.Stream.MaxWidth, MaxPixels: cfg.Stream.MaxPixels, MaxSourcePixels: cfg.Stream.MaxSourcePixels,
			MaxFPS: float64(cfg.Stream.MaxFPS), Quality: cfg.Stream.JPEGQuality, Logger: log},
	}
	bus.Subscribe(fs.revoked)
	return fs, nil
}

// revoked takes away what an event ends in the frame streams: tokens die
// and TCP viewers, relays, data channels and publications close. An
// account whose sessions all ended (a password change, a deleted account)
// or everyone loses everything; a member removed from a room (or a deleted
// room) loses that room's stream; after a change of roles or settings,
// each member the room's stream serves keeps only what it may still do. A
// single log-out leaves them: a frame token belongs to the member, not to
// one session. Room events come from the room's own loop, which the rights
// check asks, so they are handled on their own goroutine.
func (fs *frameStreams) revoked(e revoke.Event) {
	switch e.Kind {
	case revoke.User, revoke.Deleted:
		fs.revokeUser(e.User)
	case revoke.Everyone:
		fs.revokeUser(frames.Everyone)
	case revoke.Member:
		if e.User == "" {
			fs.hub.Stop(e.Room)
		}
		fs.Revoke(e.Room, e.User, false, false)
	case revoke.Rights:
		go fs.recheck(e.Room, e.User)
	case revoke.Session:
	}
}

func (fs *frameStreams) revokeUser(who string) {
	if err := fs.access.RevokeUser(who); err != nil {
		fs.log.Error("revoking frame streams", "user", who, "err", err)
	}
}

// recheck revokes what member (or, for "", each member the room's stream
// serves) may no longer do in the room's stream.
func (fs *frameStreams) recheck(code, member string) {
	who := []string{member}
	if member == "" {
		who = fs.hub.Members(code)
	}
	for _, m := range who {
		r, err := fs.StreamRights(context.Background(), code, m)
		if err != nil {
			fs.log.Error("checking stream rights", "room", code, "member", m, "err", err)
			continue
		}
		if !r.View || !r.Publish {
			fs.Revoke(code, m, r.View, r.Publish)
		}
	}
}

// StreamRights implements frames.Members from the room's records: a member
// may view; one whose role the room lets change the video may publish.
func (fs *frameStreams) StreamRights(ctx context.Context, code, member string) (frames.Rights, error) {
	rs := fs.rooms.Load()
	if rs == nil {
		return frames.Rights{}, nil
	}
	m, err := rs.Member(ctx, code, member)
	if errors.Is(err, room.ErrNotMember) {
		return frames.Rights{}, nil
	}
	if err != nil {
		return frames.Rights{}, err
	}
	in, err := rs.Get(ctx, code)
	if errors.Is(err, room.ErrNotFound) {
		return frames.Rights{}, nil
	}
	if err != nil {
		return frames.Rights{}, err
	}
	return frames.Rights{View: true, Publish: in.Settings.ChangeVideo.Allows(m.Role)}, nil
}

// Revoke ends what member may no longer do in the room's stream (view,
// publish), or everything of the stream for member "" (the room is gone).
func (fs *frameStreams) Revoke(code, member string, view, publish bool) {
	fs.mu.Lock()
	if !publish && fs.hub.State(code).Active {
		fs.reasons[code] = room.StreamStopped
	}
	fs.mu.Unlock()
	if err := fs.access.Revoke(code, member, frames.Rights{View: view, Publish: publish}); err != nil {
		fs.log.Error("revoking frame stream access", "room", code, "member", member, "err", err)
	}
}

// storeEpochs keeps the frame token epochs in the store, each for as long
// as a token issued before it could live.
type storeEpochs struct{ st *store.Store }

func epochKey(code, member string) []byte { return store.Key("framesepoch", code, member) }

func (e storeEpochs) Epoch(code, member string) (uint64, error) {
	b, err := e.st.Get(epochKey(code, member))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("frame token epoch of %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func (e storeEpochs) SetEpoch(code, member string, epoch uint64, keep time.Duration) error {
	return e.st.Update(func(tx *store.Tx) error {
		return tx.SetTTL(epochKey(code, member), binary.BigEndian.AppendUint64(nil, epoch), keep)
	})
}

// web returns what the web server needs for the browser relay and tokens.
func (fs *frameStreams) web() *web.Frames {
	return &web.Frames{Hub: fs.hub, Tokens: fs.access, Addr: fs.listenAddr}
}

// listenAddr is the TCP listener's address, "" while there is none.
func (fs *frameStreams) listenAddr() string {
	if p := fs.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// run serves the frame protocol on stream.listen (when set) and keeps the
// metrics up to date until ctx ends; then it stops every stream and waits
// for the sources it fed.
func (fs *frameStreams) run(ctx context.Context) error {
	defer fs.close()
	errc := make(chan error, 1)
	var serving sync.WaitGroup
	if fs.cfg.Stream.Listen != "" {
		ln, err := net.Listen("tcp", fs.cfg.Stream.Listen)
		if err != nil {
			return fmt.Errorf("listening for frames on %s: %w", fs.cfg.Stream.Listen, err)
		}
		srv, err := frames.NewServer(frames.ServerOptions{
			Hub: fs.hub, Gate: fs.access, Logger: fs.log.With("part", "frames"),
			Admit:     frames.NewIPLimiter(fs.cfg.Limits.ConnsPerIP).Admit,
			MaxPixels: fs.cfg.Stream.MaxSourcePixels,
		})
		if err != nil {
			ln.Close()
			return err
		}
		a := ln.Addr().String()
		fs.addr.Store(&a)
		fs.Addr <- ln.Addr()
		fs.log.Info("frame server listening", "addr", a)
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := srv.Serve(ctx, ln); err != nil {
				errc <- err
			}
		}()
	}
	t := time.NewTicker(metricsEvery)
	defer t.Stop()
	var last frames.Stats
	for {
		select {
		case <-t.C:
			last = fs.exportMetrics(last)
		case err := <-errc:
			serving.Wait()
			return err
		case <-ctx.Done():
			serving.Wait()
			fs.close()
			fs.exportMetrics(last)
			return nil
		}
	}
}

// close stops every stream and waits for the server's own sources.
func (fs *frameStreams) close() {
	fs.mu.Lock()
	already := fs.closed
	fs.closed = true
	fs.mu.Unlock()
	if already {
		return
	}
	fs.cancelFeed()
	fs.hub.Close()
	fs.feeds.Wait()
}

// exportMetrics moves the hub's counters to the Prometheus instruments and
// returns the snapshot to diff the next one against.
func (fs *frameStreams) exportMetrics(last frames.Stats) frames.Stats {
	st := fs.hub.Stats()
	fs.metrics.Encoded.Add(float64(st.FramesEncoded - last.FramesEncoded))
	fs.metrics.Sent.Add(float64(st.FramesSent - last.FramesSent))
	fs.metrics.Dropped.Add(float64(st.FramesDropped - last.FramesDropped))
	fs.metrics.Viewers.Set(float64(st.Viewers))
	return st
}

// onEvent passes stream starts and stops to the room; it never blocks.
func (fs *frameStreams) onEvent(e frames.Event) {
	rs := fs.rooms.Load()
	if rs == nil {
		return
	}
	st := roomStreamState(e.State)
	if e.Kind == frames.EventStopped {
		fs.mu.Lock()
		reason := fs.reasons[e.State.Room]
		delete(fs.reasons, e.State.Room)
		fs.mu.Unlock()
		switch {
		case errors.Is(e.Err, frames.ErrHubClosed):
			reason = room.StreamShutdown
		case errors.Is(e.Err, frames.ErrIdle):
			reason = room.StreamIdle
		case reason == "":
			reason = room.StreamEnded
		}
		st = room.StreamState{Reason: reason}
	}
	rs.StreamChanged(e.State.Room, st)
}

func roomStreamState(s frames.StreamState) room.StreamState {
	if !s.Active {
		return room.StreamState{Viewers: s.Viewers}
	}
	fps := s.FPS
	if fps == 0 {
		fps = s.DeclaredFPS
	}
	return room.StreamState{Active: true, Source: s.Source, By: s.Publisher, FPS: fps, Width: s.Width, Height: s.Height,
		Viewers: s.Viewers, Started: s.Started.UnixMilli()}
}

// State implements room.Streamer.
func (fs *frameStreams) State(code string) room.StreamState {
	return roomStreamState(fs.hub.State(code))
}

// Stop implements room.Streamer: a member stopped the stream.
func (fs *frameStreams) Stop(code string) bool {
	fs.mu.Lock()
	fs.reasons[code] = room.StreamStopped
	fs.mu.Unlock()
	if !fs.hub.Stop(code) {
		fs.mu.Lock()
		delete(fs.reasons, code)
		fs.mu.Unlock()
		return false
	}
	return true
}

// Start implements room.Streamer: it opens spec on the server and feeds it
// into the room's stream until the source ends or someone stops it.
func (fs *frameStreams) Start(ctx context.Context, code, spec string, by room.User) error {
	if fs.hub.State(code).Active {
		return room.ErrStreamBusy
	}
	src, desc, err := fs.opener.Open(ctx, spec)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		src.Close()
		return errors.New("the server is stopping")
	}
	fs.feeds.Add(1)
	fs.mu.Unlock()
	info := src.Info()
	pub, err := fs.hub.Start(code, frames.SourceInfo{Description: desc, Publisher: by.ID, FPS: info.FPS, Width: info.Width, Height: info.Height,
		StopWhenIdle: true})
	if err != nil {
		fs.feeds.Done()
		src.Close()
		switch {
		case errors.Is(err, frames.ErrStreamBusy):
			return room.ErrStreamBusy
		case errors.Is(err, frames.ErrTooManyStreams):
			return fmt.Errorf("%w: %w", room.ErrStreamLimit, err)
		}
		return fmt.Errorf("the stream could not start: %w", err)
	}
	go func() {
		defer fs.feeds.Done()
		defer src.Close()
		if err := frames.Feed(fs.feedCtx, src, pub); err != nil && !stoppedOnPurpose(err) {
			fs.log.Warn("stream source failed", "room", code, "source", desc, "err", err)
			fs.mu.Lock()
			if fs.reasons[code] == "" {
				fs.reasons[code] = room.StreamFailed
			}
			fs.mu.Unlock()
		}
		pub.Stop()
	}()
	return nil
}

// stoppedOnPurpose reports whether a feed ended because its publication
// was stopped (by a member, the server, idleness or a revocation) rather
// than because its source failed.
func stoppedOnPurpose(err error) bool {
	for _, e := range []error{frames.ErrStreamEnded, frames.ErrHubClosed, frames.ErrIdle, frames.ErrRevoked} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// bind gives the streams the room service their starts and stops go to.
func (fs *frameStreams) bind(rs *room.Service) *room.Service {
	fs.rooms.Store(rs)
	return rs
}

// StreamAddr receives the frame listener's address once Run listens on
// stream.listen.
func (s *Server) StreamAddr() <-chan net.Addr { return s.frames.Addr }
