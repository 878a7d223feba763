//go:build gocv

package app

import (
	"context"
	"errors"
	"runtime"

	"gocv.io/x/gocv"

	"watchparty/engine/frames"
	"watchparty/engine/frames/wire"
)

// errWindowClosed ends a view whose window was closed or got Esc or q.
var errWindowClosed = errors.New("window closed")

// viewWindow shows the frames in an OpenCV window until the stream ends,
// the window is closed (Esc or q), or ctx ends.
func viewWindow(ctx context.Context, opts frames.ViewOptions) error {
	// HighGUI wants every call for a window on the thread that made it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := gocv.NewWindow("watchparty " + opts.Room)
	defer w.Close()
	next := opts.OnFrame
	opts.OnFrame = func(f *wire.Frame) error {
		if next != nil {
			if err := next(f); err != nil {
				return err
			}
		}
		img, err := gocv.IMDecode(f.Payload, gocv.IMReadColor)
		if err != nil {
			return nil // a picture OpenCV cannot read is skipped
		}
		defer img.Close()
		if img.Empty() {
			return nil
		}
		w.IMShow(img)
		if k := w.WaitKey(1); k == 27 || k == 'q' || !w.IsOpen() {
			return errWindowClosed
		}
		return nil
	}
	err := frames.RunView(ctx, opts)
	if errors.Is(err, errWindowClosed) {
		return nil
	}
	return err
}
