package rtc

import (
	"fmt"
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
// the answer. The track is forwarded and no packet is lost, whether it is the
// first media of the connection or media already flows on it (the case where
// pion, with the simulcast header extensions registered, probes the unknown
// SSRC and swallows its first packets). The early packets' sequence numbers
// run up to the wrap, so the writer's, from 1, follow them.
func TestMediaBeforeAnswer(t *testing.T) {
	t.Run("first media", func(t *testing.T) { testMediaBeforeAnswer(t, false) })
	t.Run("while receiving", func(t *testing.T) { testMediaBeforeAnswer(t, true) })
}

func testMediaBeforeAnswer(t *testing.T, receiving bool) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	h.allow("bob")
	bob := h.join("bob")
	ann := h.join("ann")
	waitFor(t, waitLong, "ann connected", func() bool { return ann.connected() && bob.connected() })
	if receiving {
		// Ann receives Bob's camera first, so media already flows on her
		// connection (SRTP is up on both ends) when she starts sending.
		bob.publishVideo(5*time.Millisecond, 300)
		waitFor(t, waitLong, "ann receiving bob's camera", func() bool {
			tr := ann.trackFrom("bob", SourceCamera)
			return tr != nil && tr.packets.Load() >= 10
		})
	}

	const early = 40
	sentEarly := make(chan int, 1)
	writeEarly := func(offer Signal) {
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
	ann.beforeAnswer.Store(&writeEarly)
	ann.addVideo()
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceCamera}}}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	var n int
	select {
	case n = <-sentEarly:
		t.Logf("%d packets written before the answer", n)
	case <-time.After(waitLong):
		t.Fatal("the publish offer never reached ann")
	}
	if after := serverBytesIn(t, h, "ann"); after == 0 {
		t.Fatal("no media reached the server before the answer")
	}
	const more = 100
	ann.startWriter(2*time.Millisecond, 500, more)
	waitFor(t, waitLong, "bob receiving ann's camera", func() bool {
		tr := bob.trackFrom("ann", SourceCamera)
		return tr != nil && tr.packets.Load() >= 20
	})
	// Every packet ann wrote, the early ones included, reaches the
	// forwarder.
	want := uint64(n + more)
	waitFor(t, waitLong, fmt.Sprintf("the server reading all %d packets of ann's camera", want), func() bool {
		return publishedPackets(h, "ann", SourceCamera) == want
	})
}

// publishedPackets is how many RTP packets the server read from a
// member's publication of source.
func publishedPackets(h *harness, member, source string) uint64 {
	r, err := h.sfu.room(h.code)
	if err != nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pub := range r.pubs {
		if pub.owner.member == member && pub.source == source {
			return pub.packets.Load()
		}
	}
	return 0
}
