package rtc

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// serverBytesIn is what the server's connection of member has received.
func serverBytesIn(tb testing.TB, h *harness, member string) uint64 {
	tb.Helper()
	r, err := h.sfu.room(h.code)
	if err != nil {
		tb.Fatalf("session %s: %v", h.code, err)
	}
	p := r.peer(member)
	if p == nil {
		return 0
	}
	var n uint64
	for _, st := range p.pc.GetStats() {
		if ts, ok := st.(webrtc.TransportStats); ok {
			n += ts.BytesReceived
		}
	}
	return n
}

// TestMediaBeforeAnswer: a publisher starts sending on its new slot as soon
// as it has applied its answer, and the server takes that media in before
// the answer. The track must still be forwarded. (The sequence numbers of
// the early packets run up to the wrap, so the writer's, from 1, follow
// them.)
func TestMediaBeforeAnswer(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	bob := h.join("bob")
	ann := h.join("ann")
	waitFor(t, waitLong, "ann connected", func() bool { return ann.connected() && bob.connected() })

	const early = 40
	sentEarly := make(chan int, 1)
	ann.beforeAnswer = func(offer Signal) {
		if len(offer.Publish) == 0 {
			return
		}
		// Write until the server's connection has taken in about
		// early packets (bounded).
		before := serverBytesIn(t, h, "ann")
		payload := make([]byte, 200)
		payload[0] = 1
		n := 0
		for i := 1; i <= 2000; i++ {
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(63000 + i), Timestamp: uint32(i) * 3000, Marker: true}, Payload: payload}
			if err := ann.pubTrack.WriteRTP(pkt); err == nil {
				n++
			}
			if serverBytesIn(t, h, "ann") >= before+early*uint64(len(payload)) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		sentEarly <- n
	}
	ann.addVideo()
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceCamera}}}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	select {
	case n := <-sentEarly:
		t.Logf("%d packets written before the answer", n)
	case <-time.After(waitLong):
		t.Fatal("the publish offer never reached ann")
	}
	if after := serverBytesIn(t, h, "ann"); after == 0 {
		t.Fatal("no media reached the server before the answer")
	}
	ann.startWriter(5*time.Millisecond, 500, 0)
	waitFor(t, waitLong, "bob receiving ann's camera", func() bool {
		tr := bob.trackFrom("ann", SourceCamera)
		return tr != nil && tr.packets.Load() >= 20
	})
}
