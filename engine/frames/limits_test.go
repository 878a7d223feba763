package frames

import (
	"errors"
	"testing"
	"time"

	"watchparty/engine/frames/wire"
)

// TestStreamLimits (issue 11.7): the hub runs at most MaxStreams streams
// and MaxStreamsPerPublisher of one user; a stopped stream frees its slot.
// Remote publishers are refused with too-many-streams.
func TestStreamLimits(t *testing.T) {
	env := newTestEnv(t, HubOptions{MaxStreams: 3, MaxStreamsPerPublisher: 2}, ServerOptions{})
	h := env.hub
	a1, err := h.Start("A1", SourceInfo{Publisher: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Start("A2", SourceInfo{Publisher: "ann"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Start("A3", SourceInfo{Publisher: "ann"}); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("ann's third stream: %v, want ErrTooManyStreams", err)
	}
	if _, err := h.Start("B1", SourceInfo{Publisher: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Start("B2", SourceInfo{Publisher: "bob"}); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("a fourth stream on the server: %v, want ErrTooManyStreams", err)
	}
	_, err = Dial(t.Context(), DialOptions{Addr: env.addr, Role: wire.RolePublisher, Room: "C1", Token: env.token("C1", wire.RolePublisher, "cat")})
	if refusalOf(err) != wire.RefuseTooManyStreams {
		t.Fatalf("remote publisher over the limit: %v", err)
	}
	a1.Stop()
	if _, err := h.Start("B2", SourceInfo{Publisher: "bob"}); err != nil {
		t.Fatalf("after a stream stopped: %v", err)
	}
}

// TestIdleStreamStops (issue 11.7): a stream the server runs stops once
// nobody has watched it for the idle timeout; one with a viewer keeps
// running; a remote publisher's stream is not stopped for idleness.
func TestIdleStreamStops(t *testing.T) {
	const idle = 50 * time.Millisecond
	h := NewHub(HubOptions{IdleTimeout: idle})
	defer h.Close()
	events := make(chan Event, 16)
	h.opts.OnEvent = func(e Event) { events <- e }

	watched, err := h.Start("W", SourceInfo{StopWhenIdle: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := h.Subscribe("W", ViewerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := h.Start("R", SourceInfo{})
	if err != nil {
		t.Fatal(err)
	}
	unwatched, err := h.Start("U", SourceInfo{StopWhenIdle: true})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-unwatched.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the unwatched stream did not stop")
	}
	if !errors.Is(unwatched.Err(), ErrIdle) {
		t.Fatalf("stopped with %v, want ErrIdle", unwatched.Err())
	}
	// Long after the timeout, the watched one and the remote one run.
	time.Sleep(4 * idle)
	if watched.Err() != nil || remote.Err() != nil {
		t.Fatalf("watched stream: %v, remote publisher: %v", watched.Err(), remote.Err())
	}
	// Its viewer leaves: it stops in turn.
	v.Close()
	select {
	case <-watched.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not stop after its last viewer left")
	}
	if !errors.Is(watched.Err(), ErrIdle) || remote.Err() != nil {
		t.Fatalf("watched: %v, remote: %v", watched.Err(), remote.Err())
	}
	for range 5 {
		if e := <-events; e.Kind == EventStopped && e.State.Room == "U" && !errors.Is(e.Err, ErrIdle) {
			t.Fatalf("stop event %+v", e)
		}
	}
}
