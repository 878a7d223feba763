package frames

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Sink is one viewer's connection as the drain loop sees it: a TCP frame
// connection (server.go), a browser's relay websocket (engine/web) or a
// member's WebRTC data channel (engine/app).
type Sink interface {
	// WriteFrame writes one frame. It may block, within a deadline of its
	// own: meanwhile the viewer's queue keeps only the newest frames, so a
	// slow sink never slows the publisher or the other viewers. An error
	// ends the loop; a deadline error (os.ErrDeadlineExceeded) counts as a
	// stall.
	WriteFrame(p *Packet) error
}

// DrainOptions tune Drain. The zero value drains until the viewer closes.
type DrainOptions struct {
	// Stop ends the loop when it is closed (the caller's quit, the server's
	// shutdown, the sink's own end). The viewer stays open: the caller
	// closes it.
	Stop <-chan struct{}
	// Ping, when PingEvery > 0, is called every PingEvery (a heartbeat or a
	// websocket ping); an error ends the loop like a failed write.
	PingEvery time.Duration
	Ping      func() error
}

// Errors of Drain.
var (
	// ErrDrainStopped: DrainOptions.Stop was closed.
	ErrDrainStopped = errors.New("frames: drain stopped")
	// ErrSinkFailed wraps the sink's write or ping error.
	ErrSinkFailed = errors.New("frames: viewer connection failed")
)

// Drain is the one loop that writes a viewer's frames to its connection:
// it waits for the hub to queue frames and writes them oldest first, until
// the viewer closes, the sink fails, or o.Stop is closed.
//
// When the viewer closes, the frames it still holds are written first (a
// stream that ended delivers its last frames), and Drain returns the
// viewer's close reason (Err). When the sink fails, the viewer is closed
// (ErrStalled after a deadline, ErrViewerClosed otherwise) and Drain
// returns the failure wrapped in ErrSinkFailed. When o.Stop closes it
// returns ErrDrainStopped.
func (v *Viewer) Drain(sink Sink, o DrainOptions) error {
	var tick <-chan time.Time
	if o.PingEvery > 0 && o.Ping != nil {
		t := time.NewTicker(o.PingEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-v.Ready():
			if err := v.writeQueued(sink); err != nil {
				return err
			}
		case <-v.Done():
			if err := v.writeQueued(sink); err != nil {
				return err
			}
			return v.Err()
		case <-tick:
			if err := o.Ping(); err != nil {
				v.fail(err)
				return fmt.Errorf("%w: %w", ErrSinkFailed, err)
			}
		case <-o.Stop:
			return ErrDrainStopped
		}
	}
}

// writeQueued writes every queued frame to sink.
func (v *Viewer) writeQueued(sink Sink) error {
	for p := v.Pop(); p != nil; p = v.Pop() {
		if err := sink.WriteFrame(p); err != nil {
			v.fail(err)
			return fmt.Errorf("%w: %w", ErrSinkFailed, err)
		}
		v.Wrote(p)
	}
	return nil
}

// fail closes the viewer after its connection failed with err.
func (v *Viewer) fail(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		v.closeWith(ErrStalled)
	} else {
		v.Close()
	}
}
