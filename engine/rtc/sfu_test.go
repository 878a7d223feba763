package rtc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestForwardToTwoSubscribers(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	ann := h.join("ann")
	bob := h.join("bob")
	cat := h.join("cat")
	ann.publishVideo(5*time.Millisecond, 1000)

	for _, sub := range []*client{bob, cat} {
		waitFor(t, waitLong, sub.id+" receiving 50 packets of ann's camera", func() bool {
			tr := sub.trackFrom("ann", SourceCamera)
			return tr != nil && tr.packets.Load() >= 50
		})
		tr := sub.trackFrom("ann", SourceCamera)
		if got := tr.remote.Codec().MimeType; !strings.EqualFold(got, webrtc.MimeTypeVP8) {
			t.Errorf("%s: codec %s, want VP8", sub.id, got)
		}
		if n := tr.badSSRC.Load(); n != 0 {
			t.Errorf("%s: %d packets with an SSRC other than the negotiated %d", sub.id, n, tr.remote.SSRC())
		}
		if n := tr.badPT.Load(); n != 0 {
			t.Errorf("%s: %d packets with a payload type other than the negotiated %d", sub.id, n, tr.remote.PayloadType())
		}
		if tr.lastCount.Load() == 0 {
			t.Errorf("%s: payload counter not carried through", sub.id)
		}
	}
	if tracks := ann.liveTracks(); len(tracks) != 0 {
		t.Errorf("the publisher receives %d tracks, want its own not echoed", len(tracks))
	}
	st, ok := h.lastState()
	if !ok || len(st.Tracks) != 1 || st.Tracks[0].Member != "ann" || st.Tracks[0].Source != SourceCamera || st.Tracks[0].Kind != "video" {
		t.Errorf("room state = %+v, want ann's camera", st)
	}
	stats := h.sfu.Stats()
	if stats.Peers != 3 || stats.Tracks != 1 || stats.PacketsIn == 0 || stats.PacketsOut < stats.PacketsIn {
		t.Errorf("stats = %+v", stats)
	}
}

func TestLateSubscriberGetsKeyframe(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	ann := h.join("ann")
	bob := h.join("bob")
	ann.publishVideo(5*time.Millisecond, 800)
	waitFor(t, waitLong, "bob receiving ann's camera", func() bool {
		tr := bob.trackFrom("ann", SourceCamera)
		return tr != nil && tr.packets.Load() >= 20
	})
	before := ann.plis.Load()
	if before == 0 {
		t.Errorf("no keyframe request reached the publisher when bob subscribed")
	}

	cat := h.join("cat")
	waitFor(t, waitLong, "cat receiving ann's camera", func() bool {
		tr := cat.trackFrom("ann", SourceCamera)
		return tr != nil && tr.packets.Load() >= 20
	})
	waitFor(t, waitLong, "a keyframe request to ann after cat joined", func() bool { return ann.plis.Load() > before })
	waitFor(t, waitLong, "cat receiving a keyframe", func() bool {
		return cat.trackFrom("ann", SourceCamera).keyframes.Load() > 0
	})
}

func TestUnpublishAndLeave(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	ann := h.join("ann")
	bob := h.join("bob")
	cat := h.join("cat")
	ann.publishVideo(5*time.Millisecond, 500)
	for _, sub := range []*client{bob, cat} {
		waitFor(t, waitLong, sub.id+" receiving ann's camera", func() bool {
			tr := sub.trackFrom("ann", SourceCamera)
			return tr != nil && tr.packets.Load() >= 10
		})
	}

	if err := h.handle("ann", Signal{Type: TypeUnpublish, Tracks: []TrackInfo{{Source: SourceCamera}}}); err != nil {
		t.Fatalf("unpublish: %v", err)
	}
	for _, sub := range []*client{bob, cat} {
		waitFor(t, waitLong, sub.id+" seeing the track removed by renegotiation", func() bool {
			off, _ := sub.offer()
			return len(sub.liveTracks()) == 0 && len(off.Tracks) == 0 && strings.Contains(off.SDP, "a=inactive")
		})
	}
	if st, _ := h.lastState(); len(st.Tracks) != 0 {
		t.Errorf("state after unpublish = %+v, want no tracks", st)
	}
	if n := h.sfu.Stats().Tracks; n != 0 {
		t.Errorf("%d tracks after unpublish", n)
	}

	// Publishing again reuses the receiving slot: no new section for ann.
	_, offersBefore := ann.offer()
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceCamera}}}); err != nil {
		t.Fatalf("publish again: %v", err)
	}
	waitFor(t, waitLong, "bob receiving the camera again", func() bool {
		tr := bob.trackFrom("ann", SourceCamera)
		return tr != nil && tr.packets.Load() >= 10
	})
	waitFor(t, waitLong, "ann's new offer", func() bool { _, n := ann.offer(); return n > offersBefore })
	if off, _ := ann.offer(); len(off.Publish) != 1 || strings.Count(off.SDP, "m=video") != 1 {
		t.Errorf("re-publish offer: publish %+v, %d video sections; want the one slot reused", off.Publish, strings.Count(off.SDP, "m=video"))
	}

	// bob leaves; ann's track now has one subscriber.
	if err := h.handle("bob", Signal{Type: TypeLeave}); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if n := h.sfu.Stats().Peers; n != 2 {
		t.Errorf("%d peers after bob left, want 2", n)
	}

	// ann's connection closes: cat loses the track, the room is empty.
	ann.close()
	waitFor(t, waitLong, "cat seeing ann's track end after ann closed", func() bool {
		return len(cat.liveTracks()) == 0
	})
	waitFor(t, waitLong, "the server forgetting ann", func() bool {
		st := h.sfu.Stats()
		return st.Peers == 1 && st.Tracks == 0
	})
}

func TestUnauthorisedPublishRefused(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	h.join("ann")
	bob := h.join("bob")
	waitFor(t, waitLong, "bob connected", bob.connected)

	err := h.handle("bob", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceScreen}}})
	if !errors.Is(err, ErrNotAllowed) || CodeOf(err) != CodeNotAllowed {
		t.Errorf("publish intent by bob: %v (code %s), want ErrNotAllowed", err, CodeOf(err))
	}

	// An offer with media from bob is refused too.
	bob.addVideo()
	offer, err := bob.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = h.handle("bob", Signal{Type: TypeOffer, SDP: offer.SDP})
	if !errors.Is(err, ErrNotAllowed) {
		t.Errorf("media offer by bob: %v, want ErrNotAllowed", err)
	}
	if st := h.sfu.State(h.code); len(st.Tracks) != 0 {
		t.Errorf("state = %+v, want nothing published", st)
	}

	// Messages before join, or of unknown type, are refused.
	if err := h.handle("zed", Signal{Type: TypeOffer, SDP: offer.SDP}); !errors.Is(err, ErrNoPeer) {
		t.Errorf("offer before join: %v, want ErrNoPeer", err)
	}
	if err := h.handle("bob", Signal{Type: "shout"}); !errors.Is(err, ErrBadSignal) {
		t.Errorf("unknown type: %v, want ErrBadSignal", err)
	}
	if err := h.handle("bob", Signal{Type: TypeOffer, SDP: "not sdp"}); !errors.Is(err, ErrBadSignal) {
		t.Errorf("garbage offer: %v, want ErrBadSignal", err)
	}
	if err := h.sfu.Handle(t.Context(), "nope", "bob", Signal{Type: TypeJoin}); !errors.Is(err, ErrNoRoom) {
		t.Errorf("join of an unknown room: %v, want ErrNoRoom", err)
	}
}

func TestLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPeersPerRoom = 2
	cfg.MaxTracksPerPeer = 1
	h := newHarness(t, cfg)
	h.allow("ann")
	h.join("ann")
	// Bob only joins (a manual client neither answers nor trickles): his
	// re-join below makes a new server peer, which would refuse candidates
	// a client still trickled for the first one; a page that re-joins
	// makes a new connection.
	h.newClient("bob", true)
	if err := h.handle("bob", Signal{Type: TypeJoin}); err != nil {
		t.Fatal(err)
	}

	h.newClient("cat", true)
	if err := h.handle("cat", Signal{Type: TypeJoin}); !errors.Is(err, ErrTooManyPeers) {
		t.Errorf("third join: %v, want ErrTooManyPeers", err)
	}
	if err := h.handle("bob", Signal{Type: TypeJoin}); err != nil {
		t.Errorf("a member re-joining is not an extra peer: %v", err)
	}

	two := []TrackInfo{{Kind: "video", Source: SourceScreen}, {Kind: "audio", Source: SourceScreenAudio}}
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: two}); !errors.Is(err, ErrTooManyTracks) {
		t.Errorf("publishing two tracks: %v, want ErrTooManyTracks", err)
	}
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: two[:1]}); err != nil {
		t.Fatalf("publishing one track: %v", err)
	}
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: two[1:]}); !errors.Is(err, ErrTooManyTracks) {
		t.Errorf("a second track: %v, want ErrTooManyTracks", err)
	}
	if err := h.handle("ann", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "audio", Source: SourceScreen}}}); !errors.Is(err, ErrBadSignal) {
		t.Errorf("audio as screen: %v, want ErrBadSignal", err)
	}
}

// A client offer that crosses the server's offer is ignored (the server is
// the impolite side); the client answers the server, then offers again.
func TestGlare(t *testing.T) {
	h := newHarness(t, testConfig())
	bob := h.newClient("bob", true)
	if err := h.handle("bob", Signal{Type: TypeJoin}); err != nil {
		t.Fatal(err)
	}
	var serverOffer Signal
	select {
	case serverOffer = <-bob.inbox:
	case <-time.After(waitLong):
		t.Fatal("no offer after join")
	}
	if serverOffer.Type != TypeOffer {
		t.Fatalf("first message %q, want offer", serverOffer.Type)
	}
	// pion cannot roll back, so bob's crossing offer is made but not applied;
	// a browser applies it and rolls back when the server's offer arrives.
	if _, err := bob.pc.CreateDataChannel("chat", nil); err != nil {
		t.Fatal(err)
	}
	mine, err := bob.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.handle("bob", Signal{Type: TypeOffer, SDP: mine.SDP}); err != nil {
		t.Fatalf("crossing offer: %v, want it silently ignored", err)
	}
	select {
	case m := <-bob.inbox:
		t.Fatalf("server answered a crossing offer: %q", m.Type)
	default:
	}

	bob.onSignal(serverOffer)
	h.waitConnected(t, bob)
	mine, err = bob.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.pc.SetLocalDescription(mine); err != nil {
		t.Fatal(err)
	}
	if err := h.handle("bob", Signal{Type: TypeOffer, SDP: mine.SDP}); err != nil {
		t.Fatalf("offer when stable: %v", err)
	}
	select {
	case m := <-bob.inbox:
		if m.Type != TypeAnswer {
			t.Fatalf("got %q, want answer", m.Type)
		}
		bob.onSignal(m)
	case <-time.After(waitLong):
		t.Fatal("no answer to a stable offer")
	}
	if st := bob.pc.SignalingState(); st != webrtc.SignalingStateStable {
		t.Errorf("bob's signalling state %s after the answer, want stable", st)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		h := newHarness(t, testConfig())
		h.allow("ann")
		ann := h.join("ann")
		bob := h.join("bob")
		ann.publishVideo(5*time.Millisecond, 500)
		waitFor(t, waitLong, "bob receiving", func() bool {
			tr := bob.trackFrom("ann", SourceCamera)
			return tr != nil && tr.packets.Load() >= 10
		})
		openFrames(t, h, bob)
		h.close()
		waitFor(t, waitLong, "peers closed", func() bool {
			return ann.pc.ConnectionState() == webrtc.PeerConnectionStateClosed && bob.pc.ConnectionState() == webrtc.PeerConnectionStateClosed
		})
	}()
}

func TestConfig(t *testing.T) {
	cfg := Config{
		STUNServers:  []string{"stun:stun.example.org:3478"},
		TURNServers:  []string{"turn:turn.example.org:3478?transport=udp"},
		TURNUsername: "u", TURNPassword: "p",
		PublicIPs: []string{"203.0.113.7"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := cfg.ICEServers()
	if len(got) != 2 || got[1].Username != "u" || got[1].Credential != "p" || got[0].Credential != "" {
		t.Errorf("ICEServers = %+v", got)
	}
	bad := []struct {
		name string
		cfg  Config
	}{
		{name: "port", cfg: Config{UDPPort: 70000}},
		{name: "ip", cfg: Config{PublicIPs: []string{"home"}}},
		{name: "stun scheme", cfg: Config{STUNServers: []string{"http://x"}}},
		{name: "turn without credentials", cfg: Config{TURNServers: []string{"turn:x"}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Validate() == nil {
				t.Errorf("Validate accepted %+v", tc.cfg)
			}
		})
	}

	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum := s.StartupSummary()
	if !strings.Contains(sum, "UDP port") || !strings.Contains(sum, "127.0.0.1") {
		t.Errorf("summary %q does not say where peers connect", sum)
	}
}

// A member allowed to publish may also offer its tracks itself; the source
// is taken from the track ids it names.
func TestClientOfferPublishes(t *testing.T) {
	h := newHarness(t, testConfig())
	h.allow("ann")
	ann := h.join("ann")
	bob := h.join("bob")
	h.waitConnected(t, ann)
	ann.addVideo()
	offer, err := ann.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ann.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	err = h.handle("ann", Signal{Type: TypeOffer, SDP: offer.SDP, Tracks: []TrackInfo{{TrackID: ann.pubTrack.ID(), Kind: "video", Source: SourceScreen}}})
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	ann.startWriter(5*time.Millisecond, 500, 0)
	waitFor(t, waitLong, "bob receiving ann's screen", func() bool {
		tr := bob.trackFrom("ann", SourceScreen)
		return tr != nil && tr.packets.Load() >= 10
	})
}
