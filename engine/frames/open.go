package frames

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"watchparty/engine/fetch"
	"watchparty/engine/frames/source"
	"watchparty/engine/media"
)

// Messages for sources a member may not use.
var (
	ErrBadSource = errors.New("unknown source: use media:FILE (a video in the server's media folder), an http(s) URL of an MJPEG stream or a video, pattern:WIDTHxHEIGHT or camera:N")
	ErrNoCamera  = errors.New("this server does not let members stream its cameras (stream.allow_camera)")
)

// Library is the server's media folder as the opener needs it: files
// opened by a path relative to the folder, confined to it.
type Library interface {
	Open(rel string) (*os.File, fs.FileInfo, error)
}

// Opener opens the sources members name in a room: files of the media
// library (through its confined Open, never a path joined here), http(s)
// URLs (through the guarded fetcher only: what answers is read here and
// handed to OpenCV as bytes), test patterns, and cameras when the admin
// allows them. Everything else is refused. Every source keeps the limits of
// Options.
type Opener struct {
	Library     Library // nil: no media folder
	Fetcher     *fetch.Client
	AllowCamera bool
	// Options bound every source: width, pixels, decode budget, frame
	// rate, JPEG quality. Fetcher and OpenCVURLs are set by Open.
	Options source.Options
}

// Open opens spec and returns it with a description for the room.
func (o *Opener) Open(ctx context.Context, spec string) (source.Source, string, error) {
	opts := o.Options
	opts.Fetcher, opts.OpenCVURLs = o.Fetcher, false
	if opts.Fetcher == nil {
		opts.Fetcher = fetch.New(fetch.Options{})
	}
	lower := strings.ToLower(spec)
	switch {
	case strings.HasPrefix(lower, media.LibraryPrefix):
		return o.openLibrary(ctx, spec[len(media.LibraryPrefix):], opts)
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		src, err := source.OpenURL(ctx, spec, opts)
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
		if !o.AllowCamera {
			return nil, "", ErrNoCamera
		}
		if !source.OpenCVAvailable {
			return nil, "", source.ErrNoOpenCV
		}
		if _, err := strconv.ParseUint(lower[len("camera:"):], 10, 8); err != nil {
			return nil, "", fmt.Errorf("%w: %q", ErrBadSource, spec)
		}
		src, err := source.Open(ctx, lower, opts)
		if err != nil {
			return nil, "", err
		}
		return src, src.Info().Description, nil
	}
	return nil, "", ErrBadSource
}

func (o *Opener) openLibrary(ctx context.Context, rel string, opts source.Options) (source.Source, string, error) {
	if o.Library == nil {
		return nil, "", fmt.Errorf("%s: this server has no media folder (media.dir)", rel)
	}
	f, _, err := o.Library.Open(rel)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", rel, err)
	}
	// OpenCV opens by name: give it the file already opened inside the
	// library, so no path outside it can be reached.
	src, err := source.Open(ctx, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), opts)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("%s: %w", rel, err)
	}
	return &fileSource{Source: src, f: f}, "media " + rel, nil
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
