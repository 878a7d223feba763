package frames

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// recordSink keeps the sequence numbers it was given, and fails with fail
// from the failAt-th frame on (0: never).
type recordSink struct {
	mu     sync.Mutex
	seqs   []uint64
	failAt int
	fail   error
	// When block is set, the first write closes entered and waits on
	// block.
	block   chan struct{}
	entered chan struct{}
	// wrote, when set, is signalled after each recorded frame.
	wrote chan struct{}
}

func (s *recordSink) WriteFrame(p *Packet) error {
	if s.block != nil {
		close(s.entered)
		<-s.block
		s.block = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.seqs)+1 >= s.failAt {
		return s.fail
	}
	s.seqs = append(s.seqs, p.Seq)
	if s.wrote != nil {
		select {
		case s.wrote <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *recordSink) got() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.seqs...)
}

func startDrain(t *testing.T, v *Viewer, sink Sink, o DrainOptions) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- v.Drain(sink, o) }()
	return done
}

func publishN(t *testing.T, pub *Publication, n int) {
	t.Helper()
	for range n {
		if err := pub.Publish(Frame{Width: 2, Height: 2, Payload: []byte{0xff, 0xd8, 0xff, 0xd9}}); err != nil {
			t.Fatal(err)
		}
	}
}

// streamWith starts a hub (closed when the test ends) and a stream in room
// ROOM whose viewers, one per name, subscribed before its publisher.
func streamWith(t *testing.T, opts HubOptions, names ...string) (*Publication, []*Viewer) {
	t.Helper()
	hub := NewHub(opts)
	t.Cleanup(hub.Close)
	var vs []*Viewer
	for _, name := range names {
		v, err := hub.Subscribe("ROOM", ViewerOptions{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	pub, err := hub.Start("ROOM", SourceInfo{Description: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return pub, vs
}

func TestDrainWritesEveryFrameThenTheEnd(t *testing.T) {
	pub, vs := streamWith(t, HubOptions{StallTimeout: time.Hour}, "v") // a blocked sink is not a stall here
	v := vs[0]
	// The sink holds its first write until every frame is published: the
	// queue keeps the newest two, the others are dropped, the publisher
	// never waits.
	sink := &recordSink{block: make(chan struct{}), entered: make(chan struct{})}
	done := startDrain(t, v, sink, DrainOptions{})
	publishN(t, pub, 1)
	<-sink.entered // the loop took frame 1 and is blocked on it
	publishN(t, pub, 9)
	pub.Stop()
	close(sink.block)
	if err := <-done; !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("Drain returned %v, want the stream's end", err)
	}
	got := sink.got()
	if len(got) != 3 || got[0] != 1 || got[1] != 9 || got[2] != 10 {
		t.Errorf("wrote %v, want the first frame and the newest two (1 9 10)", got)
	}
	if st := v.Stats(); st.Sent != 3 || st.Dropped != 7 {
		t.Errorf("viewer sent %d dropped %d, want 3 and 7", st.Sent, st.Dropped)
	}
}

// TestDrainSlowSinkSlowsNobody: of two viewers of one stream, one sink
// blocks on its first frame; the other is written every frame, in order,
// and the publisher never waits for the blocked one.
func TestDrainSlowSinkSlowsNobody(t *testing.T) {
	pub, vs := streamWith(t, HubOptions{StallTimeout: time.Hour}, "slow", "fast") // a blocked sink is not a stall here
	slow, fast := vs[0], vs[1]
	slowSink := &recordSink{block: make(chan struct{}), entered: make(chan struct{})}
	fastSink := &recordSink{wrote: make(chan struct{}, 1)}
	slowDone := startDrain(t, slow, slowSink, DrainOptions{})
	fastDone := startDrain(t, fast, fastSink, DrainOptions{})
	const n = 50
	publishN(t, pub, 1)
	<-slowSink.entered
	for i := 2; i <= n; i++ {
		publishN(t, pub, 1)
		for len(fastSink.got()) < i { // the fast viewer keeps up
			<-fastSink.wrote
		}
	}
	pub.Stop()
	if err := <-fastDone; !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("fast viewer's drain returned %v", err)
	}
	got := fastSink.got()
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("fast viewer was written %v, want 1..%d in order", got, n)
		}
	}
	if len(got) != n {
		t.Errorf("fast viewer was written %d frames, want %d", len(got), n)
	}
	close(slowSink.block)
	if err := <-slowDone; !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("slow viewer's drain returned %v", err)
	}
	if st := slow.Stats(); st.Dropped != n-3 {
		t.Errorf("slow viewer dropped %d frames, want %d (it kept the newest two)", st.Dropped, n-3)
	}
}

func TestDrainSinkFailure(t *testing.T) {
	tests := []struct {
		name   string
		fail   error
		reason error
	}{
		{"deadline is a stall", fmt.Errorf("write: %w", os.ErrDeadlineExceeded), ErrStalled},
		{"other error is a leave", errors.New("connection reset"), ErrViewerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, vs := streamWith(t, HubOptions{}, "v")
			v := vs[0]
			done := startDrain(t, v, &recordSink{failAt: 1, fail: tt.fail}, DrainOptions{})
			publishN(t, pub, 1)
			err := <-done
			if !errors.Is(err, ErrSinkFailed) || !errors.Is(err, tt.fail) {
				t.Errorf("Drain returned %v, want the sink's failure", err)
			}
			if !errors.Is(v.Err(), tt.reason) {
				t.Errorf("viewer closed with %v, want %v", v.Err(), tt.reason)
			}
		})
	}
}

func TestDrainStopLeavesTheViewerOpen(t *testing.T) {
	_, vs := streamWith(t, HubOptions{}, "v")
	v := vs[0]
	stop := make(chan struct{})
	done := startDrain(t, v, &recordSink{}, DrainOptions{Stop: stop})
	close(stop)
	if err := <-done; !errors.Is(err, ErrDrainStopped) {
		t.Fatalf("Drain returned %v", err)
	}
	if v.Err() != nil {
		t.Errorf("viewer closed with %v; the caller closes it", v.Err())
	}
	v.Close()
}

func TestDrainPingFailure(t *testing.T) {
	_, vs := streamWith(t, HubOptions{}, "v")
	v := vs[0]
	pings := 0
	ping := func() error {
		pings++
		if pings == 3 {
			return os.ErrDeadlineExceeded
		}
		return nil
	}
	err := v.Drain(&recordSink{}, DrainOptions{PingEvery: 1, Ping: ping})
	if !errors.Is(err, ErrSinkFailed) || pings != 3 {
		t.Errorf("Drain returned %v after %d pings, want a failure at the third", err, pings)
	}
	if !errors.Is(v.Err(), ErrStalled) {
		t.Errorf("viewer closed with %v, want a stall", v.Err())
	}
}
