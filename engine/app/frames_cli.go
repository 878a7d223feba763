package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"watchparty/engine/fetch"
	"watchparty/engine/frames"
	"watchparty/engine/frames/source"
	"watchparty/engine/room"
)

// envStreamToken may hold the token instead of --token, which keeps it out
// of the process list.
const envStreamToken = "WATCHPARTY_STREAM_TOKEN"

// streamFlags are the flags publish and view share.
type streamFlags struct {
	server, room, token string
}

// flagSet returns the flags of the command name with the shared ones for
// role; its usage prints usage, then the flags.
func (f *streamFlags) flagSet(e Env, name, role, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("watchparty "+name, pflag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.Stderr, usage)
		fmt.Fprintln(e.Stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.server, "server", "", "frame server HOST:PORT (the room's Stream panel shows it)")
	fs.StringVar(&f.room, "room", "", "room code, as in ABCDE-FGHJK")
	fs.StringVar(&f.token, "token", "", "a "+role+" token from the room's Stream panel (or env "+envStreamToken+")")
	return fs
}

// parse parses args and checks the shared flags; it returns the room code.
func (f *streamFlags) parse(fs *pflag.FlagSet, e Env, args []string) (code string, err error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if f.token == "" {
		for _, kv := range e.Environ {
			if v, ok := strings.CutPrefix(kv, envStreamToken+"="); ok {
				f.token = v
			}
		}
	}
	switch {
	case f.server == "":
		return "", errors.New("--server HOST:PORT is required")
	case f.room == "":
		return "", errors.New("--room CODE is required")
	case f.token == "":
		return "", errors.New("--token is required (the room's Stream panel gives one)")
	}
	code, ok := room.NormalizeCode(f.room)
	if !ok {
		return "", fmt.Errorf("%q is not a room code", f.room)
	}
	return code, nil
}

func runPublish(ctx context.Context, e Env, args []string) error {
	var sf streamFlags
	fs := sf.flagSet(e, "publish", "publisher", "Usage: watchparty publish --server HOST:PORT --room CODE --token TOKEN [flags] SOURCE\n"+
		"\nSOURCE: camera:N, a video file, an .mjpeg file, an MJPEG http(s) URL, or pattern:WIDTHxHEIGHT.\n"+
		"Cameras and video files other than MJPEG need a build with OpenCV (make build-gocv).")
	fps := fs.Float64("fps", 0, "frame rate of MJPEG files (30)")
	loop := fs.Bool("loop", false, "start files over at their end")
	maxWidth := fs.Int("max-width", 1280, "frames wider than this are scaled down")
	quality := fs.Int("quality", 75, "JPEG quality of frames that are re-encoded")
	code, err := sf.parse(fs, e, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("name one SOURCE, e.g. camera:0 or movie.mjpeg")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return frames.RunPublish(ctx, frames.PublishOptions{
		Addr: sf.server, Room: code, Token: sf.token, Source: fs.Arg(0),
		// The source is on the member's own computer and network: its
		// cameras and LAN addresses are what publishing is for.
		SourceOptions: source.Options{MaxWidth: *maxWidth, Quality: *quality, FPS: *fps, Loop: *loop,
			Fetcher: fetch.New(fetch.Options{AllowPrivate: true}), OpenCVURLs: true},
		Out: e.Stdout,
	})
}

func runView(ctx context.Context, e Env, args []string) error {
	var sf streamFlags
	fs := sf.flagSet(e, "view", "viewer", "Usage: watchparty view --server HOST:PORT --room CODE --token TOKEN [--out DIR] [--frames N] [--window]\n"+
		"\nPrints frame rate, size and latency every second.")
	out := fs.String("out", "", "write every frame to this folder as frame-SEQUENCE.jpg")
	count := fs.Int("frames", 0, "stop after this many frames (0: until the stream ends)")
	window := fs.Bool("window", false, "show the frames in a window (builds with OpenCV)")
	code, err := sf.parse(fs, e, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *count < 0 {
		return errors.New("--frames must be 0 or more")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := frames.ViewOptions{Addr: sf.server, Room: code, Token: sf.token, Dir: *out, MaxFrames: *count, Out: e.Stdout}
	if *window {
		return viewWindow(ctx, opts)
	}
	return frames.RunView(ctx, opts)
}
