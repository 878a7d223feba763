package rtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// frameReceiver is a client's "frames" data channel.
type frameReceiver struct {
	dc   *webrtc.DataChannel
	mu   sync.Mutex
	re   Reassembler
	got  [][]byte
	gate atomic.Pointer[chan struct{}]
}

func (f *frameReceiver) frames() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

// openFrames opens the frames channel on a connected client and returns the
// sink the SFU made for it.
func openFrames(tb testing.TB, h *harness, c *client) (*frameReceiver, *FrameSink) {
	tb.Helper()
	waitFor(tb, waitLong, c.id+" connected", c.connected)
	sinks := make(chan *FrameSink, 1)
	h.sfu.OnFrameChannel(func(s *FrameSink) {
		if s.Member() == c.id {
			sinks <- s
		}
	})
	ordered := false
	var zero uint16
	dc, err := c.pc.CreateDataChannel(FramesLabel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &zero})
	if err != nil {
		tb.Fatal(err)
	}
	fr := &frameReceiver{dc: dc}
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if g := fr.gate.Load(); g != nil {
			<-*g
		}
		fr.mu.Lock()
		defer fr.mu.Unlock()
		if frame, _, ok := fr.re.Push(m.Data); ok {
			fr.got = append(fr.got, frame)
		}
	})
	select {
	case s := <-sinks:
		if got := h.sfu.FrameChannel(h.code, c.id); got != s {
			tb.Errorf("FrameChannel returned %p, want %p", got, s)
		}
		return fr, s
	case <-time.After(waitLong):
		tb.Fatalf("no frame sink for %s", c.id)
	}
	return nil, nil
}

func frameOf(n, size int) []byte {
	b := bytes.Repeat([]byte{byte(n)}, size)
	binary.BigEndian.PutUint32(b, uint32(n))
	return b
}

func TestFramesOverDataChannel(t *testing.T) {
	h := newHarness(t, testConfig())
	bob := h.join("bob")
	fr, sink := openFrames(t, h, bob)

	want := [][]byte{frameOf(1, 1000), frameOf(2, 200*1024+17), frameOf(3, MaxChunkPayload)}
	for i, f := range want {
		if err := sink.WriteFrame(f, time.Now().Add(waitLong)); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		waitFor(t, waitLong, "frame "+string(rune('1'+i)), func() bool { return len(fr.frames()) > i })
	}
	got := fr.frames()
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d: %d bytes back, want the %d sent", i+1, len(got[i]), len(want[i]))
		}
	}
	if sink.Sent() != 3 || sink.Dropped() != 0 {
		t.Errorf("sent %d dropped %d, want 3 and 0", sink.Sent(), sink.Dropped())
	}

	// Closing the peer ends the sink.
	h.sfu.Leave(h.code, "bob")
	select {
	case <-sink.Done():
	case <-time.After(waitLong):
		t.Fatal("sink not done after leave")
	}
	if err := sink.WriteFrame(frameOf(4, 10), time.Now().Add(waitLong)); !errors.Is(err, ErrSinkClosed) {
		t.Errorf("a frame written after close returned %v, want ErrSinkClosed", err)
	}
	if sink.Dropped() != 1 {
		t.Errorf("a frame written after close should count as dropped")
	}
}

// TestFramesStalledReceiverTimesOut: while the receiver reads nothing the
// sink keeps no frame of its own: once the channel holds its high-water
// mark a write waits, and gives up at its deadline. When the receiver reads
// again the next frame gets through.
func TestFramesStalledReceiverTimesOut(t *testing.T) {
	cfg := testConfig()
	cfg.FrameHighWater = 64 * 1024
	h := newHarness(t, cfg)
	bob := h.join("bob")
	fr, sink := openFrames(t, h, bob)
	gate := make(chan struct{})
	fr.gate.Store(&gate)

	const n = 1000
	var err error
	for i := 1; i <= n && err == nil; i++ {
		err = sink.WriteFrame(frameOf(i, 20*1024), time.Now().Add(50*time.Millisecond))
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		close(gate)
		t.Fatalf("%d frames written to a stalled receiver, last error %v; want a deadline", sink.Sent(), err)
	}
	if sink.Dropped() != 1 {
		t.Errorf("dropped %d, want the one frame that timed out", sink.Dropped())
	}
	if st := h.sfu.Stats(); st.FramesDropped != sink.Dropped() || st.FramesSent != sink.Sent() {
		t.Errorf("SFU frames sent %d dropped %d, sink %d and %d", st.FramesSent, st.FramesDropped, sink.Sent(), sink.Dropped())
	}

	close(gate)
	if err := sink.WriteFrame(frameOf(n+1, 10), time.Now().Add(waitLong)); err != nil {
		t.Fatalf("write after the receiver resumed: %v", err)
	}
	waitFor(t, waitLong, "the newest frame after the receiver resumed", func() bool {
		got := fr.frames()
		return len(got) > 0 && binary.BigEndian.Uint32(got[len(got)-1]) == n+1
	})
}

func TestReassembler(t *testing.T) {
	frame := frameOf(9, 3*MaxChunkPayload+5)
	chunks := chunkFrame(7, frame)
	if len(chunks) != 4 {
		t.Fatalf("%d chunks, want 4", len(chunks))
	}
	for _, c := range chunks {
		if len(c) > MaxMessageSize {
			t.Fatalf("chunk of %d bytes exceeds %d", len(c), MaxMessageSize)
		}
	}
	tests := []struct {
		name  string
		msgs  [][]byte
		want  []byte
		wantS uint32
	}{
		{name: "in order", msgs: chunks, want: frame, wantS: 7},
		{name: "reversed", msgs: [][]byte{chunks[3], chunks[2], chunks[1], chunks[0]}, want: frame, wantS: 7},
		{name: "duplicate chunk", msgs: [][]byte{chunks[0], chunks[0], chunks[1], chunks[2], chunks[3]}, want: frame, wantS: 7},
		{name: "incomplete then newer", msgs: append([][]byte{chunkFrame(6, frame)[0]}, chunks...), want: frame, wantS: 7},
		{name: "older ignored", msgs: [][]byte{chunks[0], chunkFrame(5, []byte("x"))[0], chunks[1], chunks[2], chunks[3]}, want: frame, wantS: 7},
		{name: "short", msgs: [][]byte{{1, 2, 3}}},
		{name: "zero count", msgs: [][]byte{{0, 0, 0, 1, 0, 0, 0, 0, 'x'}}},
		{name: "index past count", msgs: [][]byte{{0, 0, 0, 1, 0, 2, 0, 2, 'x'}}},
		{name: "single", msgs: chunkFrame(1, []byte("jpeg")), want: []byte("jpeg"), wantS: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Reassembler
			var got []byte
			var gotS uint32
			frames := 0
			for _, m := range tc.msgs {
				if f, s, ok := r.Push(m); ok {
					got, gotS = f, s
					frames++
				}
			}
			if tc.want == nil {
				if frames != 0 {
					t.Errorf("got %d frames from malformed input", frames)
				}
				return
			}
			if frames != 1 || !bytes.Equal(got, tc.want) || gotS != tc.wantS {
				t.Errorf("frames %d, seq %d, %d bytes; want one frame %d of %d bytes", frames, gotS, len(got), tc.wantS, len(tc.want))
			}
		})
	}
}

func FuzzReassembler(f *testing.F) {
	for _, c := range chunkFrame(3, frameOf(3, MaxChunkPayload+10)) {
		f.Add(c)
	}
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r Reassembler
		for i := 0; i < 3; i++ {
			if frame, _, ok := r.Push(msg); ok && len(frame) > len(msg) {
				t.Fatalf("frame of %d bytes from a %d-byte message", len(frame), len(msg))
			}
		}
	})
}
