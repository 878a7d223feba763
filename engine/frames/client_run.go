package frames

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"watchparty/engine/frames/source"
	"watchparty/engine/frames/wire"
)

// Feed runs src into a local publication until src ends (nil), ctx ends
// (nil) or the publication is stopped (its reason). It does not stop pub;
// the caller does, typically with defer pub.Stop().
func Feed(ctx context.Context, src source.Source, pub *Publication) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-pub.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		fr, err := src.Next(ctx)
		if err != nil {
			select {
			case <-pub.Done():
				return pub.Err()
			default:
			}
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := pub.Publish(Frame{Captured: fr.Captured, Width: fr.Width, Height: fr.Height, Payload: fr.JPEG}); err != nil {
			return err
		}
	}
}

// PublishOptions configure RunPublish.
type PublishOptions struct {
	Addr  string // frame server host:port
	Room  string
	Token string // a publisher token for Room

	Source        string         // what to open with source.Open, unless Src is set
	Src           source.Source  // an open source to use instead (not closed by RunPublish)
	SourceOptions source.Options // for Source

	Out        io.Writer     // progress lines; nil for none
	StatsEvery time.Duration // how often to print progress (5 s)

	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

// RunPublish opens a source and pushes its frames to a room on a remote
// server as its publisher, until the source ends, ctx ends (both nil) or the
// server closes the connection (a *CloseError unless it was a normal end).
func RunPublish(ctx context.Context, opts PublishOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := opts.Src
	if src == nil {
		var err error
		if src, err = source.Open(ctx, opts.Source, opts.SourceOptions); err != nil {
			return err
		}
		defer src.Close()
	}
	conn, err := Dial(ctx, DialOptions{Addr: opts.Addr, Role: wire.RolePublisher, Room: opts.Room, Token: opts.Token, HandshakeTimeout: opts.HandshakeTimeout})
	if err != nil {
		return err
	}
	defer conn.Close()
	info := src.Info()
	log.Info("publishing", "source", info.Description, "fps", info.FPS, "room", opts.Room, "server", opts.Addr)

	ctx, cancel := context.WithCancel(ctx)
	r := &publisherReader{done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer cancel()
		r.run(ctx, conn) // done closes before cancel: whoever sees ctx end can read r.err
	}()
	go func() {
		defer wg.Done()
		conn.KeepAlive(ctx)
	}()
	defer func() {
		cancel()
		conn.Close() // unblocks the reader
		wg.Wait()
	}()
	return pushFrames(ctx, opts, src, conn, r)
}

// publisherReader reads from the server until the connection ends: a
// publisher is sent nothing but the reason the server closes.
type publisherReader struct {
	done chan struct{}
	err  error // set before done closes; nil when ctx ended first
}

func (r *publisherReader) run(ctx context.Context, conn *Conn) {
	defer close(r.done)
	var m wire.Message
	for {
		if err := conn.Recv(&m); err != nil {
			if ctx.Err() == nil {
				r.err = err
			}
			return
		}
	}
}

// serverErr reports why the server ended the session, if it did.
func (r *publisherReader) serverErr() error {
	select {
	case <-r.done:
		if r.err != nil && !normalEnd(r.err) {
			return r.err
		}
	default:
	}
	return nil
}

// pushFrames sends src's frames on conn until the source ends, ctx ends or
// the server goes away, printing progress to opts.Out.
func pushFrames(ctx context.Context, opts PublishOptions, src source.Source, conn *Conn, r *publisherReader) error {
	every := opts.StatsEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	var sent, bytes uint64
	last, lastSent := time.Now(), uint64(0)
	for {
		fr, err := src.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				conn.CloseWith(wire.CloseNormal, "source ended")
				report(opts.Out, "publish: source ended after %d frames", sent)
				return nil
			case ctx.Err() != nil:
				if err := r.serverErr(); err != nil {
					return err
				}
				conn.CloseWith(wire.CloseNormal, "publisher stopping")
				return nil
			}
			conn.CloseWith(wire.CloseInternal, "source failed")
			return err
		}
		wf := wire.Frame{Seq: fr.Index + 1, Captured: fr.Captured, Width: fr.Width, Height: fr.Height, Codec: wire.CodecJPEG, Payload: fr.JPEG}
		if err := conn.SendFrame(&wf); err != nil {
			select { // the server may have said why it closed
			case <-r.done:
			case <-time.After(time.Second):
			}
			if serr := r.serverErr(); serr != nil {
				return serr
			}
			return fmt.Errorf("frames: send: %w", err)
		}
		sent++
		bytes += uint64(len(fr.JPEG))
		if now := time.Now(); opts.Out != nil && now.Sub(last) >= every {
			fps := float64(sent-lastSent) / now.Sub(last).Seconds()
			report(opts.Out, "publish: %d frames, %.1f fps, %dx%d, %d bytes/frame", sent, fps, fr.Width, fr.Height, bytes/sent)
			last, lastSent = now, sent
		}
	}
}

func normalEnd(err error) bool {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Close.Code == wire.CloseNormal || ce.Close.Code == wire.CloseEnded || ce.Close.Code == wire.CloseShutdown
	}
	return false
}

func report(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// ViewOptions configure RunView.
type ViewOptions struct {
	Addr  string // frame server host:port
	Room  string
	Token string // a viewer token for Room

	Dir       string // when set, each frame is written there as frame-<seq>.jpg
	MaxFrames int    // stop after this many frames (0: until the stream ends)
	// OnFrame, when set, sees every frame; its payload is valid only during
	// the call. An error ends RunView with that error.
	OnFrame func(*wire.Frame) error

	Out        io.Writer     // stats lines and a summary; nil for none
	StatsEvery time.Duration // how often to print stats (1 s)

	HandshakeTimeout time.Duration
	ReadBuffer       int
	Logger           *slog.Logger
}

// ViewStats summarize a RunView session.
type ViewStats struct {
	Frames  uint64
	Bytes   uint64
	Missed  uint64 // sequence numbers skipped (frames dropped for this viewer)
	LastSeq uint64
	Width   int
	Height  int
}

// RunView connects as a viewer and receives frames until the stream ends,
// MaxFrames arrive or ctx ends (all nil), printing stats to Out.
func RunView(ctx context.Context, opts ViewOptions) error {
	_, err := View(ctx, opts)
	return err
}

// View is RunView returning the session's counters as well.
func View(ctx context.Context, opts ViewOptions) (ViewStats, error) {
	var st ViewStats
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return st, fmt.Errorf("frames: output folder: %w", err)
		}
	}
	conn, err := Dial(ctx, DialOptions{Addr: opts.Addr, Role: wire.RoleViewer, Room: opts.Room, Token: opts.Token,
		HandshakeTimeout: opts.HandshakeTimeout, ReadBuffer: opts.ReadBuffer})
	if err != nil {
		return st, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.NetConn().SetReadDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn.KeepAlive(ctx)
	}()
	defer wg.Wait()
	defer cancel()

	every := opts.StatsEvery
	if every <= 0 {
		every = time.Second
	}
	last, lastFrames := time.Now(), uint64(0)
	var m wire.Message
	for {
		if err := conn.Recv(&m); err != nil {
			switch {
			case ctx.Err() != nil:
				conn.CloseWith(wire.CloseNormal, "viewer leaving")
				err = nil
			case normalEnd(err):
				err = nil
			}
			summary(opts.Out, st)
			return st, err
		}
		if m.Type != wire.TypeFrame {
			continue
		}
		f := &m.Frame
		st.count(f)
		if opts.Dir != "" {
			if err := saveFrame(opts.Dir, f); err != nil {
				return st, err
			}
		}
		if opts.OnFrame != nil {
			if err := opts.OnFrame(f); err != nil {
				conn.CloseWith(wire.CloseNormal, "viewer leaving")
				return st, err
			}
		}
		if now := time.Now(); opts.Out != nil && now.Sub(last) >= every {
			fps := float64(st.Frames-lastFrames) / now.Sub(last).Seconds()
			age := time.Duration(0)
			if !f.Captured.IsZero() {
				age = now.Sub(f.Captured)
			}
			report(opts.Out, "view: %d frames, %.1f fps, %dx%d, %d bytes/frame, missed %d, age %s",
				st.Frames, fps, f.Width, f.Height, st.Bytes/st.Frames, st.Missed, age.Round(time.Millisecond))
			last, lastFrames = now, st.Frames
		}
		if opts.MaxFrames > 0 && st.Frames >= uint64(opts.MaxFrames) {
			conn.CloseWith(wire.CloseNormal, "viewer done")
			summary(opts.Out, st)
			return st, nil
		}
	}
}

// count adds a received frame to the counters.
func (st *ViewStats) count(f *wire.Frame) {
	if st.LastSeq != 0 && f.Seq > st.LastSeq+1 {
		st.Missed += f.Seq - st.LastSeq - 1
	}
	st.Frames++
	st.Bytes += uint64(len(f.Payload))
	st.LastSeq, st.Width, st.Height = f.Seq, f.Width, f.Height
}

// saveFrame writes a frame's picture into dir as frame-<seq>.jpg.
func saveFrame(dir string, f *wire.Frame) error {
	name := filepath.Join(dir, fmt.Sprintf("frame-%08d.jpg", f.Seq))
	if err := os.WriteFile(name, f.Payload, 0o644); err != nil {
		return fmt.Errorf("frames: write frame: %w", err)
	}
	return nil
}

func summary(w io.Writer, st ViewStats) {
	report(w, "view: done: %d frames, %d bytes, last sequence %d, missed %d, %dx%d", st.Frames, st.Bytes, st.LastSeq, st.Missed, st.Width, st.Height)
}
