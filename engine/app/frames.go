package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/config"
	"watchparty/engine/frames"
	"watchparty/engine/frames/source"
	"watchparty/engine/frames/token"
	"watchparty/engine/media"
	"watchparty/engine/metrics"
	"watchparty/engine/room"
	"watchparty/engine/web"
)

// frameTokenTTL is how long the tokens the room page hands out are valid.
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
// token signer, the optional TCP listener, and the room service's Streamer
// (sources the server opens itself).
type frameStreams struct {
	cfg    *config.Config
	log    *slog.Logger
	hub    *frames.Hub
	tokens *token.Signer
	lib    *media.Library
	// httpClient fetches http(s) sources (public addresses only, unless allowed).
	httpClient *http.Client
	rooms      atomic.Pointer[room.Service]
	addr       atomic.Pointer[string] // the TCP listener's address once listening
	// Addr receives the listener's address when stream.listen is set.
	Addr chan net.Addr

	feedCtx    context.Context // ends when the server stops
	cancelFeed context.CancelFunc

	mu      sync.Mutex
	closed  bool
	feeds   sync.WaitGroup    // one per source the server feeds
	reasons map[string]string // room -> why its stream is being stopped
}

func newFrameStreams(cfg *config.Config, log *slog.Logger, secret []byte) (*frameStreams, error) {
	signer, err := token.NewSigner(frameKey(secret))
	if err != nil {
		return nil, err
	}
	lib, err := media.NewLibrary(cfg.Media.Dir)
	if err != nil {
		log.Warn("streaming from the media folder is off", "dir", cfg.Media.Dir, "err", err)
		lib, _ = media.NewLibrary("")
	}
	fs := &frameStreams{cfg: cfg, log: log, tokens: signer, lib: lib, httpClient: streamHTTPClient(cfg.Stream.AllowPrivateURLs),
		Addr: make(chan net.Addr, 1), reasons: map[string]string{}}
	fs.feedCtx, fs.cancelFeed = context.WithCancel(context.Background())
	fs.hub = frames.NewHub(frames.HubOptions{
		MaxViewers: cfg.Limits.ViewersPerStream,
		OnEvent:    fs.onEvent,
		Logger:     log.With("part", "frames"),
	})
	return fs, nil
}

// web returns what the web server needs for the browser relay and tokens.
func (fs *frameStreams) web() *web.Frames {
	return &web.Frames{Hub: fs.hub, Tokens: fs.tokens, TokenTTL: frameTokenTTL, Addr: fs.listenAddr}
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
			Hub: fs.hub, Tokens: fs.tokens, Logger: fs.log.With("part", "frames"),
			Admit: frames.NewIPLimiter(fs.cfg.Limits.ConnsPerIP).Admit,
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
	metrics.FramesEncoded.Add(float64(st.FramesEncoded - last.FramesEncoded))
	metrics.FramesSent.Add(float64(st.FramesSent - last.FramesSent))
	metrics.FramesDropped.Add(float64(st.FramesDropped - last.FramesDropped))
	metrics.FrameViewers.Set(float64(st.Viewers))
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
	src, desc, err := fs.open(ctx, spec)
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
	pub, err := fs.hub.Start(code, frames.SourceInfo{Description: desc, Publisher: by.ID, FPS: info.FPS, Width: info.Width, Height: info.Height})
	if err != nil {
		fs.feeds.Done()
		src.Close()
		if errors.Is(err, frames.ErrStreamBusy) {
			return room.ErrStreamBusy
		}
		return fmt.Errorf("the stream could not start: %w", err)
	}
	go func() {
		defer fs.feeds.Done()
		defer src.Close()
		if err := frames.Feed(fs.feedCtx, src, pub); err != nil && !errors.Is(err, frames.ErrStreamEnded) && !errors.Is(err, frames.ErrHubClosed) {
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

// Messages for sources a member may not use.
var (
	errBadSource = errors.New("unknown source: use media:FILE (a video in the server's media folder), an http(s) MJPEG URL, pattern:WIDTHxHEIGHT or camera:N")
	errNoCamera  = errors.New("this server does not let members stream its cameras (stream.allow_camera)")
)

// open opens a source a member named. Only these are accepted: files of the
// media library (through its confined Open, never a path joined here),
// http(s) URLs, test patterns, and cameras when the admin allows them.
func (fs *frameStreams) open(ctx context.Context, spec string) (source.Source, string, error) {
	opts := source.Options{MaxWidth: fs.cfg.Stream.MaxWidth, Quality: fs.cfg.Stream.JPEGQuality, Logger: fs.log}
	lower := strings.ToLower(spec)
	switch {
	case strings.HasPrefix(lower, media.LibraryPrefix):
		rel := spec[len(media.LibraryPrefix):]
		f, _, err := fs.lib.Open(rel)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", rel, err)
		}
		// OpenCV opens by name: give it the file already opened inside
		// the library, so no path outside it can be reached.
		src, err := source.Open(ctx, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), opts)
		if err != nil {
			f.Close()
			return nil, "", fmt.Errorf("%s: %w", rel, err)
		}
		return &fileSource{Source: src, f: f}, "media " + rel, nil
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		opts.HTTPClient = fs.httpClient
		src, err := source.Open(ctx, spec, opts)
		if err != nil {
			return nil, "", err
		}
		return src, "URL " + spec, nil
	case strings.HasPrefix(lower, "pattern:"):
		src, err := source.Open(ctx, lower, opts)
		if err != nil {
			return nil, "", err
		}
		return src, src.Info().Description, nil
	case strings.HasPrefix(lower, "camera:"):
		if !fs.cfg.Stream.AllowCamera {
			return nil, "", errNoCamera
		}
		if !source.OpenCVAvailable {
			return nil, "", source.ErrNoOpenCV
		}
		if _, err := strconv.ParseUint(lower[len("camera:"):], 10, 8); err != nil {
			return nil, "", fmt.Errorf("%w: %q", errBadSource, spec)
		}
		src, err := source.Open(ctx, lower, opts)
		if err != nil {
			return nil, "", err
		}
		return src, src.Info().Description, nil
	}
	return nil, "", errBadSource
}

// fileSource keeps a library file open as long as its source reads it.
type fileSource struct {
	source.Source
	f *os.File
}

func (s *fileSource) Close() error {
	err := s.Source.Close()
	s.f.Close()
	return err
}

// bind gives the streams the room service their starts and stops go to.
func (fs *frameStreams) bind(rs *room.Service) *room.Service {
	fs.rooms.Store(rs)
	return rs
}

// StreamAddr receives the frame listener's address once Run listens on
// stream.listen.
func (s *Server) StreamAddr() <-chan net.Addr { return s.frames.Addr }
