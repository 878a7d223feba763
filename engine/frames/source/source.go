// Package source produces JPEG frames for a stream: a pure-Go MJPEG reader
// (an .mjpeg file or an HTTP multipart stream) in every build, and an OpenCV
// capture (files, fetched videos, cameras) in builds tagged gocv.
//
// Every source hands out frames that are already JPEG, within the configured
// width and pixel limits, encoded at most once. Pictures larger than
// Options.MaxSourcePixels are refused from their header, before anything is
// decoded. URLs are fetched through package fetch (Options.Fetcher); OpenCV
// never opens an http(s) URL itself, and opens other URLs only when
// Options.OpenCVURLs says so.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"watchparty/engine/fetch"
)

// Defaults of Options.
const (
	DefaultQuality      = 75
	DefaultFPS          = 30.0
	DefaultMaxFrameSize = 8 << 20
	// DefaultMaxSourcePixels is the largest picture decoded: 3840x2160.
	DefaultMaxSourcePixels = 3840 * 2160
	// MaxPatternSide bounds each side of a requested test pattern.
	MaxPatternSide = 8192
	// resyncAfter is how late a paced source may fall behind its schedule
	// before it gives up catching up and restarts the schedule from now.
	resyncAfter = time.Second
)

// Errors of the sources. A source that reached its end returns io.EOF.
var (
	ErrNoOpenCV      = errors.New("source: this build has no OpenCV support; build with -tags gocv (make build-gocv) to open videos, URLs and cameras")
	ErrNoFrames      = errors.New("source: no JPEG frames found")
	ErrFrameTooLarge = errors.New("source: frame exceeds size limit")
	ErrBadJPEG       = errors.New("source: malformed JPEG")
	ErrNotStream     = errors.New("source: not an MJPEG stream")
	ErrOpen          = errors.New("source: cannot open")
	ErrClosed        = errors.New("source: closed")
	ErrTooManyPixels = errors.New("source: picture larger than the server decodes (stream.max_source_pixels)")
	ErrURL           = errors.New("source: only http and https URLs can be streamed")
)

// Frame is one JPEG picture.
type Frame struct {
	JPEG   []byte // owned by the caller
	Width  int
	Height int
	// Captured is when the picture was taken: for a paced file, the time
	// its schedule put it at; for a live source, when it arrived.
	Captured time.Time
	Index    uint64 // 0, 1, 2 ... in the order frames are handed out
}

// Info describes a source.
type Info struct {
	Kind        string  // "mjpeg-file", "mjpeg-http", "opencv", "pattern"
	Description string  // for a room's stream state
	FPS         float64 // the rate a paced source keeps, or the declared rate of a live one (0: unknown)
	Width       int     // of the frames handed out, once known
	Height      int
	Live        bool // frames come as they are captured, without pacing
	Loop        bool
}

// Stats are a source's counters.
type Stats struct {
	Frames  uint64 // frames handed out
	Encodes uint64 // JPEG encodes (frames that had to be scaled down, or raw captures)
	Resized uint64 // frames scaled down
	Skipped uint64 // malformed or oversize frames skipped
	Dropped uint64 // frames over the frame rate limit, dropped before decoding
	Resyncs uint64 // times a paced source fell behind and restarted its schedule
}

// Source produces frames. Next and Close may be called from different
// goroutines; Next itself is not for concurrent use.
type Source interface {
	// Next returns the next frame, waiting for its time on paced sources.
	// It returns io.EOF at the end of a source that does not loop.
	Next(ctx context.Context) (Frame, error)
	Info() Info
	Stats() Stats
	Close() error
}

// Options configure sources. Zero values take the defaults.
type Options struct {
	MaxWidth int // frames wider than this are scaled down (0: never)
	// MaxPixels scales down frames of more pixels than this (0: no limit):
	// what a source costs to encode and a viewer to decode is bounded.
	MaxPixels int
	// MaxSourcePixels refuses pictures and videos larger than this before
	// they are decoded (DefaultMaxSourcePixels).
	MaxSourcePixels int
	Quality         int     // JPEG quality 1..100 for frames that are (re)encoded (DefaultQuality)
	FPS             float64 // rate of MJPEG files and patterns; OpenCV files use their own rate (DefaultFPS)
	// MaxFPS bounds the frames handed out per second (0: no limit): live
	// sources drop the frames that come faster before decoding them, files
	// and patterns are paced no faster.
	MaxFPS       float64
	Loop         bool // files start over at their end
	Unpaced      bool // files are read as fast as possible (tests, benchmarks)
	MaxFrameSize int  // larger JPEGs are skipped (DefaultMaxFrameSize)
	// Fetcher fetches http(s) sources (default: a client that reaches
	// public addresses only).
	Fetcher *fetch.Client
	// OpenCVURLs lets OpenCV open URLs other than http(s) (rtsp, ...)
	// itself, unchecked. Only for the publish command on a member's own
	// computer; a server never sets it.
	OpenCVURLs bool
	Logger     *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Quality <= 0 || o.Quality > 100 {
		o.Quality = DefaultQuality
	}
	if o.FPS <= 0 {
		o.FPS = DefaultFPS
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.MaxSourcePixels <= 0 {
		o.MaxSourcePixels = DefaultMaxSourcePixels
	}
	if o.MaxFPS > 0 {
		o.FPS = min(o.FPS, o.MaxFPS)
	}
	if o.Fetcher == nil {
		o.Fetcher = fetch.New(fetch.Options{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens spec:
//   - "pattern:WxH": a synthetic test pattern (Pattern);
//   - a path ending in .mjpeg or .mjpg: the pure-Go MJPEG file reader;
//   - an http(s) URL, fetched with Options.Fetcher: the pure-Go MJPEG reader
//     when it answers with MJPEG, else OpenCV reading the fetched bytes from
//     a pipe (gocv builds);
//   - another URL: OpenCV, only with Options.OpenCVURLs (else ErrURL);
//   - "camera:N", or any other path: OpenCV (gocv builds).
func Open(ctx context.Context, spec string, opts Options) (Source, error) {
	lower := strings.ToLower(spec)
	isHTTP := strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")
	switch {
	case strings.HasPrefix(lower, "pattern:"):
		return nilIfErr(openPattern(lower, opts))
	case isHTTP:
		return OpenURL(ctx, spec, opts)
	case strings.Contains(lower, "://"):
		if !opts.OpenCVURLs {
			return nil, fmt.Errorf("%w: %q", ErrURL, spec)
		}
	case strings.HasSuffix(lower, ".mjpeg") || strings.HasSuffix(lower, ".mjpg"):
		return nilIfErr(OpenMJPEGFile(spec, opts))
	}
	return OpenOpenCV(spec, opts)
}

// OpenURL fetches an http(s) URL with Options.Fetcher and opens what it
// answers: MJPEG with the pure-Go reader, a video container with OpenCV
// reading the fetched bytes (gocv builds; ErrNoOpenCV otherwise).
func OpenURL(ctx context.Context, url string, opts Options) (Source, error) {
	opts = opts.withDefaults()
	m, err := opts.Fetcher.OpenMedia(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if m.Kind == fetch.KindMJPEG {
		return newMJPEGHTTP(m, url, opts), nil
	}
	return OpenOpenCVMedia(ctx, m, "URL "+url, opts)
}

// nilIfErr keeps a typed nil pointer out of the Source interface.
func nilIfErr[S Source](src S, err error) (Source, error) {
	if err != nil {
		return nil, err
	}
	return src, nil
}

// reel numbers, dates and counts the frames of a source that reads a file
// or draws them (MJPEGFile, OpenCV, Pattern), and paces them on its Pacer.
type reel struct {
	pace  *Pacer
	c     *counters
	index uint64 // frames handed out
	inRun uint64 // frames handed out since the file last started over
}

// end says what the end of the input means: ErrNoFrames when the source
// never gave a frame; io.EOF when it does not loop, or a whole pass gave
// nothing; else the input is rewound and nil returned, to read it again.
func (r *reel) end(loop bool, desc string, rewind func() error) error {
	if !loop || r.inRun == 0 {
		if r.index == 0 {
			return fmt.Errorf("%w in %s", ErrNoFrames, desc)
		}
		return io.EOF
	}
	if err := rewind(); err != nil {
		return err
	}
	r.inRun = 0
	return nil
}

// hand numbers fr, dates it and counts it. A paced frame waits for its
// time on the Pacer and is dated with it; another is dated now.
func (r *reel) hand(ctx context.Context, fr *Frame, paced bool) error {
	fr.Captured = time.Now()
	if paced {
		due, resynced, err := r.pace.Wait(ctx)
		if err != nil {
			return err
		}
		if resynced {
			r.c.resyncs.Add(1)
		}
		fr.Captured = due
	} else if err := ctx.Err(); err != nil {
		return err
	}
	fr.Index = r.index
	r.index++
	r.inRun++
	r.c.frames.Add(1)
	return nil
}

// Stats returns the counters.
func (r *reel) Stats() Stats { return r.c.stats() }

// Pacer returns the schedule the frames are handed out on (a camera or a
// live URL hands them out as they come).
func (r *reel) Pacer() *Pacer { return r.pace }

// counters are the atomics behind Stats.
type counters struct {
	frames, encodes, resized, skipped, dropped, resyncs atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		Frames:  c.frames.Load(),
		Encodes: c.encodes.Load(),
		Resized: c.resized.Load(),
		Skipped: c.skipped.Load(),
		Dropped: c.dropped.Load(),
		Resyncs: c.resyncs.Load(),
	}
}

// Pacer schedules frames at a fixed rate: frame i of a run is due at
// start + i/fps. When the consumer falls more than a second behind, the
// schedule restarts from now rather than bursting to catch up.
type Pacer struct {
	period time.Duration
	start  time.Time
	i      int64
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
}

// NewPacer returns a pacer for fps frames per second.
func NewPacer(fps float64) *Pacer {
	if fps <= 0 {
		fps = DefaultFPS
	}
	return &Pacer{period: time.Duration(float64(time.Second) / fps), sleep: sleepCtx, now: time.Now}
}

// Period returns the time between two frames.
func (p *Pacer) Period() time.Duration { return p.period }

// Due returns when frame i of the current run is due.
func (p *Pacer) Due(i int64) time.Time { return p.start.Add(time.Duration(i) * p.period) }

// Wait waits until the next frame is due and returns its scheduled time and
// whether the schedule was restarted.
func (p *Pacer) Wait(ctx context.Context) (due time.Time, resynced bool, err error) {
	now := p.now()
	if p.start.IsZero() {
		p.start, p.i = now, 0
	}
	due = p.Due(p.i)
	if late := now.Sub(due); late > resyncAfter {
		p.start, p.i, due, resynced = now, 0, now, true
	}
	if d := due.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			return time.Time{}, resynced, err
		}
	}
	p.i++
	return due, resynced, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rateGate keeps a live source within a frame rate: a token bucket that
// fills at the rate and holds one and a half frames, so a camera sending
// at exactly the rate with some jitter loses nothing, and a faster one has
// its extra frames dropped before anything is spent on them.
type rateGate struct {
	rate   float64 // frames per second
	tokens float64
	last   time.Time
}

const gateBurst = 1.5

func newRateGate(maxFPS float64) rateGate { return rateGate{rate: maxFPS, tokens: gateBurst} }

// admit reports whether a frame arriving at now may be handed out.
func (g *rateGate) admit(now time.Time) bool {
	if g.rate <= 0 {
		return true
	}
	if !g.last.IsZero() {
		g.tokens = min(gateBurst, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	}
	g.last = now
	if g.tokens < 1 {
		return false
	}
	g.tokens--
	return true
}
