// Package source produces JPEG frames for a stream: a pure-Go MJPEG reader
// (an .mjpeg file or an HTTP multipart stream) in every build, and an OpenCV
// capture (files, URLs, cameras) in builds tagged gocv.
//
// Every source hands out frames that are already JPEG, no wider than the
// configured maximum, encoded at most once.
package source

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultQuality      = 75
	DefaultFPS          = 30.0
	DefaultMaxFrameSize = 8 << 20
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
	MaxWidth     int     // frames wider than this are scaled down (0: never)
	Quality      int     // JPEG quality 1..100 for frames that are (re)encoded (DefaultQuality)
	FPS          float64 // rate of MJPEG files; OpenCV files use their own rate (DefaultFPS)
	Loop         bool    // files start over at their end
	Unpaced      bool    // files are read as fast as possible (tests, benchmarks)
	MaxFrameSize int     // larger JPEGs are skipped (DefaultMaxFrameSize)
	HTTPClient   *http.Client
	Logger       *slog.Logger
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
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens spec:
//   - "pattern:WxH": a synthetic test pattern (Pattern);
//   - a path ending in .mjpeg or .mjpg: the pure-Go MJPEG file reader;
//   - an http(s) URL: the pure-Go MJPEG HTTP reader when the server sends
//     an MJPEG stream, else OpenCV (gocv builds);
//   - "camera:N", or any other path or URL: OpenCV (gocv builds).
func Open(ctx context.Context, spec string, opts Options) (Source, error) {
	lower := strings.ToLower(spec)
	isURL := strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")
	switch {
	case strings.HasPrefix(lower, "pattern:"):
		return nilIfErr(openPattern(lower, opts))
	case (strings.HasSuffix(lower, ".mjpeg") || strings.HasSuffix(lower, ".mjpg")) && !isURL:
		return nilIfErr(OpenMJPEGFile(spec, opts))
	case isURL:
		src, err := OpenMJPEGHTTP(ctx, spec, opts)
		if errors.Is(err, ErrNotStream) && !strings.HasSuffix(lower, ".mjpeg") && !strings.HasSuffix(lower, ".mjpg") {
			return OpenOpenCV(spec, opts)
		}
		return nilIfErr(src, err)
	}
	return OpenOpenCV(spec, opts)
}

// nilIfErr keeps a typed nil pointer out of the Source interface.
func nilIfErr[S Source](src S, err error) (Source, error) {
	if err != nil {
		return nil, err
	}
	return src, nil
}

// counters are the atomics behind Stats.
type counters struct {
	frames, encodes, resized, skipped, resyncs atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		Frames:  c.frames.Load(),
		Encodes: c.encodes.Load(),
		Resized: c.resized.Load(),
		Skipped: c.skipped.Load(),
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
