package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Probed is a library file's probe result as kept in the store: valid
// while the file keeps its size and modification time.
type Probed struct {
	Size     int64    `json:"size"`
	ModTime  int64    `json:"mtime"` // unix nanoseconds
	Info     *Info    `json:"info,omitempty"`
	Decision Decision `json:"decision"`
	// Err says why the file cannot be played (a corrupt file); Info is
	// nil then.
	Err string `json:"err,omitempty"`
}

// Catalog probes library files once and remembers the answers in its
// Repo, keyed by path, size and modification time: a file that changes is
// probed again, one that does not never is.
type Catalog struct {
	Lib    *Library
	Prober Prober
	Repo   CatalogRepo // nil: nothing is remembered

	probes    flight[Probed]
	keyframes flight[[]float64]
	sem       chan struct{}
}

// flight shares one run of a slow call among the callers that ask for the
// same key while it runs (several members starting one video at once).
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	res  T
	err  error
	gone bool // the caller that ran it went away before it ended
}

// do returns fn's result for key, running fn unless a run for key is
// under way, whose result it then waits for (or for ctx to end). A run
// that ended because its own caller went away is not an answer for the
// others: one of them runs fn again.
func (f *flight[T]) do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	f.mu.Lock()
	for {
		call, ok := f.calls[key]
		if !ok {
			break
		}
		f.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		if !call.gone {
			return call.res, call.err
		}
		f.mu.Lock()
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall[T]{}
	}
	call := &flightCall[T]{done: make(chan struct{})}
	f.calls[key] = call
	f.mu.Unlock()
	call.res, call.err = fn()
	call.gone = call.err != nil && ctx.Err() != nil
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(call.done)
	return call.res, call.err
}

// fileKey names a version of library file rel: its path, size and time.
func fileKey(rel string, info fs.FileInfo) string {
	return fmt.Sprintf("%s\x00%d\x00%d", rel, info.Size(), info.ModTime().UnixNano())
}

// NewCatalog returns a catalog of lib's files; ffprobe is the program's
// path ("" when missing: every file is then direct or unknown).
func NewCatalog(lib *Library, ffprobe string, repo CatalogRepo) *Catalog {
	return &Catalog{Lib: lib, Prober: Prober{Path: ffprobe}, Repo: repo, sem: make(chan struct{}, 2)}
}

// Cached returns the stored probe of rel if it still matches the file's
// size and modification time, without running anything.
func (c *Catalog) Cached(rel string, size int64, mod time.Time) (Probed, bool) {
	if c.Repo == nil {
		return Probed{}, false
	}
	p, ok := c.Repo.Probe(rel)
	if !ok || p.Size != size || p.ModTime != mod.UnixNano() {
		return Probed{}, false
	}
	return p, true
}

// Describe returns the probe of library file rel, probing it when the
// store has no answer for its current size and time. Concurrent calls for
// one file share one ffprobe run; at most two run at once. A file ffprobe
// cannot read gives a Probed with Err set (kept too, so that a corrupt file
// is not probed again until it changes) and an error wrapping ErrUnreadable.
func (c *Catalog) Describe(ctx context.Context, rel string) (Probed, error) {
	f, info, err := c.Lib.Open(rel)
	if err != nil {
		return Probed{}, err
	}
	defer f.Close()
	if p, ok := c.Cached(rel, info.Size(), info.ModTime()); ok {
		return p, p.failure()
	}
	if c.Prober.Path == "" {
		return Probed{}, ErrNoFFmpeg
	}
	return c.probes.do(ctx, fileKey(rel, info), func() (Probed, error) { return c.probe(ctx, rel, f, info) })
}

func (p Probed) failure() error {
	if p.Err != "" {
		return fmt.Errorf("%w: %s", ErrUnreadable, p.Err)
	}
	return nil
}

func (c *Catalog) probe(ctx context.Context, rel string, f *os.File, info fs.FileInfo) (Probed, error) {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return Probed{}, ctx.Err()
	}
	p := Probed{Size: info.Size(), ModTime: info.ModTime().UnixNano()}
	in, err := c.Prober.Probe(ctx, f)
	switch {
	case err == nil:
		p.Info = &in
		p.Decision = Decide(in)
	case errors.Is(err, ErrUnreadable) && ctx.Err() == nil:
		p.Err = unwrapMessage(err)
	default:
		return Probed{}, err
	}
	if c.Repo != nil {
		if err := c.Repo.PutProbe(rel, p); err != nil {
			return Probed{}, err
		}
	}
	return p, p.failure()
}

// unwrapMessage drops the ErrUnreadable prefix from an error's text.
func unwrapMessage(err error) string {
	s := err.Error()
	prefix := ErrUnreadable.Error() + ": "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// Keyframes returns the video keyframe times of rel (for remuxing), from
// the store when it has them for the file's current size and time.
// Concurrent calls for one file share one scan.
func (c *Catalog) Keyframes(ctx context.Context, rel string) ([]float64, error) {
	p, err := c.Describe(ctx, rel)
	if err != nil {
		return nil, err
	}
	f, info, err := c.Lib.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if c.Repo != nil {
		if k, ok := c.Repo.Keyframes(rel); ok && k.Size == info.Size() && k.ModTime == info.ModTime().UnixNano() {
			return k.Times, nil
		}
	}
	return c.keyframes.do(ctx, fileKey(rel, info), func() ([]float64, error) { return c.scanKeyframes(ctx, rel, f, info, p) })
}

func (c *Catalog) scanKeyframes(ctx context.Context, rel string, f *os.File, info fs.FileInfo, p Probed) ([]float64, error) {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	times, err := c.Prober.Keyframes(ctx, f, *p.Info)
	if err != nil {
		return nil, err
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("%w: its video has no keyframes", ErrUnreadable)
	}
	if c.Repo != nil {
		if err := c.Repo.PutKeyframes(rel, Keyframes{Size: info.Size(), ModTime: info.ModTime().UnixNano(), Times: times}); err != nil {
			return nil, err
		}
	}
	return times, nil
}
