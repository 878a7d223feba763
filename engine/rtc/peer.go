package rtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// gatherTimeout bounds the wait for the server's own candidates, which come
// from the shared UDP port and are normally ready at once.
const gatherTimeout = 5 * time.Second

// FramesLabel is the label of the data channel that carries frames.
const FramesLabel = "frames"

// peer is one member's PeerConnection. The server makes the offers that add
// and remove forwarded tracks; a negotiation asked for while another is in
// progress is queued (dirty) and made when the answer arrives.
type peer struct {
	r      *session
	member string
	pc     *webrtc.PeerConnection

	kick     chan struct{}
	done     chan struct{}
	doneOnce sync.Once

	sigMu    sync.Mutex
	offering bool
	dirty    bool
	offered  bool
	// connected is set once ICE and DTLS are up. Renegotiation waits for
	// it: pion starts its transports asynchronously after the first
	// exchange, and a second offer arriving before that makes the other
	// side restart ICE in a race with the first start.
	connected atomic.Bool

	// Guarded by session.mu.
	slots        []*slot
	subs         map[*publication]*subscription
	trackSources map[string]string
	frames       *FrameSink
	closed       bool
}

func newPeer(r *session, member string) (*peer, error) {
	pc, err := r.sfu.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	p := &peer{
		r:            r,
		member:       member,
		pc:           pc,
		kick:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		subs:         map[*publication]*subscription{},
		trackSources: map[string]string{},
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(p.onConnectionState)
	pc.OnDataChannel(p.onDataChannel)
	// A server data channel puts an SCTP section in the first offer, so the
	// member can open its frames channel later without a renegotiation.
	if _, err := pc.CreateDataChannel("sfu", nil); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("rtc: data channel: %w", err)
	}
	return p, nil
}

func (p *peer) send(msg Signal) {
	if h := p.r.currentHooks(); h.Send != nil {
		h.Send(p.member, msg)
	}
}

func (p *peer) kickNegotiation() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *peer) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *peer) shutdown() {
	p.doneOnce.Do(func() { close(p.done) })
	if err := p.pc.Close(); err != nil {
		p.r.sfu.log.Debug("rtc: close peer", "member", p.member, "err", err)
	}
}

// run makes the server's offers, one at a time.
func (p *peer) run() {
	for {
		select {
		case <-p.done:
			return
		case <-p.kick:
			p.negotiate()
		}
	}
}

func (p *peer) negotiate() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if p.isDone() {
		return
	}
	if p.offering || p.pc.SignalingState() != webrtc.SignalingStateStable || (p.offered && !p.connected.Load()) {
		p.dirty = true
		return
	}
	p.dirty = false
	p.offered = true
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.r.sfu.log.Warn("rtc: create offer", "member", p.member, "err", err)
		return
	}
	if !p.setLocal(context.Background(), offer) {
		return
	}
	p.offering = true
	msg := Signal{Type: TypeOffer, SDP: p.pc.LocalDescription().SDP}
	msg.Tracks, msg.Publish = p.describe()
	p.send(msg)
}

// setLocal applies a local description and waits (bounded) for the
// server's candidates so they travel inside the SDP.
func (p *peer) setLocal(ctx context.Context, desc webrtc.SessionDescription) bool {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		p.r.sfu.log.Warn("rtc: set local description", "member", p.member, "type", desc.Type.String(), "err", err)
		return false
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.C:
	case <-ctx.Done():
	case <-p.done:
		return false
	}
	return true
}

// describe lists what the member receives (mid per publication) and the
// slots where it should attach the tracks it publishes.
func (p *peer) describe() (tracks, publish []TrackInfo) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	for _, pub := range p.r.pubs {
		sub := p.subs[pub]
		if sub == nil || sub.tr.Mid() == "" {
			continue
		}
		tracks = append(tracks, TrackInfo{ID: pub.id, Mid: sub.tr.Mid(), Member: pub.owner.member, Source: pub.source, Kind: pub.kind})
	}
	for _, sl := range p.slots {
		if !sl.reserved.Load() || sl.tr.Mid() == "" {
			continue
		}
		info := TrackInfo{Mid: sl.tr.Mid(), Source: sl.source, Kind: sl.kind.String()}
		if sl.pub != nil {
			info.ID = sl.pub.id
		}
		publish = append(publish, info)
	}
	return tracks, publish
}

func (p *peer) handleAnswer(sdpText string) error {
	if sdpText == "" {
		return fmt.Errorf("%w: empty answer", ErrBadSignal)
	}
	p.sigMu.Lock()
	if !p.offering || p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		// An answer to an offer that is no longer current.
		p.sigMu.Unlock()
		return nil
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdpText}); err != nil {
		// The offer stays current: the client may still send a valid answer.
		p.sigMu.Unlock()
		return fmt.Errorf("%w: answer: %v", ErrBadSignal, err)
	}
	p.offering = false
	again := p.dirty
	p.sigMu.Unlock()
	if again {
		p.kickNegotiation()
	}
	return nil
}

// handleOffer answers a client's offer. The server is the impolite side of
// "perfect negotiation": an offer that crosses one of its own is ignored,
// and the client rolls back when the server's offer reaches it.
func (p *peer) handleOffer(ctx context.Context, msg Signal) error {
	if msg.SDP == "" {
		return fmt.Errorf("%w: empty offer", ErrBadSignal)
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(msg.SDP); err != nil {
		return fmt.Errorf("%w: offer: %v", ErrBadSignal, err)
	}
	sending := p.newSendingSections(&parsed)
	if sending > 0 && !p.r.canPublish(p.member) {
		return ErrNotAllowed
	}
	if err := p.checkTrackLimit(sending); err != nil {
		return err
	}

	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if p.offering || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return nil
	}
	if !p.connected.Load() {
		return fmt.Errorf("%w: offer before the connection is up", ErrBadSignal)
	}
	p.r.mu.Lock()
	for _, t := range msg.Tracks {
		if t.TrackID != "" && validSource(t.Kind, t.Source) {
			p.trackSources[t.TrackID] = t.Source
		}
	}
	p.r.mu.Unlock()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: msg.SDP}); err != nil {
		return fmt.Errorf("%w: offer: %v", ErrBadSignal, err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err == nil && !p.setLocal(ctx, answer) {
		err = errors.New("cannot apply the answer")
	}
	if err != nil {
		// pion cannot roll a remote offer back: the connection is unusable.
		p.send(Signal{Type: TypeClosed, Message: "negotiation failed"})
		p.r.removePeer(p)
		return fmt.Errorf("%w: answer: %v", ErrBadSignal, err)
	}
	out := Signal{Type: TypeAnswer, SDP: p.pc.LocalDescription().SDP}
	out.Tracks, out.Publish = p.describe()
	p.send(out)
	if p.dirty {
		p.kickNegotiation()
	}
	return nil
}

// newSendingSections counts the offer's audio/video sections in which the
// client would send media and that are not already one of its slots.
func (p *peer) newSendingSections(d *sdp.SessionDescription) int {
	p.r.mu.Lock()
	known := map[string]bool{}
	for _, sl := range p.slots {
		if mid := sl.tr.Mid(); mid != "" && (sl.reserved.Load() || sl.pub != nil) {
			known[mid] = true
		}
	}
	p.r.mu.Unlock()
	n := 0
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" && m.MediaName.Media != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue
		}
		dir := "sendrecv"
		for _, a := range m.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				dir = a.Key
			}
		}
		if dir != "sendrecv" && dir != "sendonly" {
			continue
		}
		if mid, ok := m.Attribute("mid"); ok && known[mid] {
			continue
		}
		n++
	}
	return n
}

func (p *peer) checkTrackLimit(more int) error {
	if more == 0 {
		return nil
	}
	max := p.r.sfu.cfg.MaxTracksPerPeer
	p.r.mu.Lock()
	n := p.usedSlotsLocked()
	p.r.mu.Unlock()
	if n+more > max {
		return fmt.Errorf("%w (limit %d)", ErrTooManyTracks, max)
	}
	return nil
}

func (p *peer) usedSlotsLocked() int {
	n := 0
	for _, sl := range p.slots {
		if sl.reserved.Load() || sl.pub != nil {
			n++
		}
	}
	return n
}

func (p *peer) handleCandidate(c *webrtc.ICECandidateInit) error {
	if c == nil || c.Candidate == "" {
		return nil
	}
	if p.pc.RemoteDescription() == nil {
		return fmt.Errorf("%w: candidate before any description", ErrBadSignal)
	}
	if err := p.pc.AddICECandidate(*c); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrBadSignal, err)
	}
	return nil
}

// publish reserves one receiving slot per requested track and makes a new
// offer that names the slots (Signal.Publish: mid per source).
func (p *peer) publish(tracks []TrackInfo) error {
	if len(tracks) == 0 {
		return fmt.Errorf("%w: publish names no track", ErrBadSignal)
	}
	for _, t := range tracks {
		if !validSource(t.Kind, t.Source) {
			return fmt.Errorf("%w: cannot publish %s as %q", ErrBadSignal, t.Kind, t.Source)
		}
	}
	if !p.r.canPublish(p.member) {
		return ErrNotAllowed
	}
	max := p.r.sfu.cfg.MaxTracksPerPeer
	p.r.mu.Lock()
	if p.closed {
		p.r.mu.Unlock()
		return ErrNoPeer
	}
	var want []TrackInfo
	for _, t := range tracks {
		dup := false
		for _, sl := range p.slots {
			if sl.source == t.Source && (sl.reserved.Load() || sl.pub != nil) {
				dup = true
			}
		}
		for _, w := range want {
			if w.Source == t.Source {
				dup = true
			}
		}
		if !dup {
			want = append(want, t)
		}
	}
	if p.usedSlotsLocked()+len(want) > max {
		p.r.mu.Unlock()
		return fmt.Errorf("%w (limit %d)", ErrTooManyTracks, max)
	}
	var err error
	for _, t := range want {
		kind := webrtc.NewRTPCodecType(t.Kind)
		var free *slot
		for _, sl := range p.slots {
			if sl.kind == kind && !sl.reserved.Load() && sl.pub == nil {
				free = sl
				break
			}
		}
		if free == nil {
			tr, addErr := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
			if addErr != nil {
				err = fmt.Errorf("rtc: add %s slot: %w", t.Kind, addErr)
				break
			}
			free = &slot{tr: tr, kind: kind}
			p.slots = append(p.slots, free)
		}
		free.source = t.Source
		free.reserved.Store(true)
	}
	p.r.mu.Unlock()
	p.kickNegotiation()
	return err
}

// onTrack runs for each incoming track on its own goroutine (started by
// pion) and forwards it until it ends.
func (p *peer) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	s := p.r.sfu
	if !s.enter() {
		return
	}
	defer s.wg.Done()

	r := p.r
	r.mu.Lock()
	if p.closed {
		r.mu.Unlock()
		return
	}
	var sl *slot
	for _, x := range p.slots {
		if x.tr.Receiver() == receiver {
			sl = x
		}
	}
	refused := false
	if sl == nil {
		// A track that came through a client offer.
		for _, tr := range p.pc.GetTransceivers() {
			if tr.Receiver() == receiver {
				sl = &slot{tr: tr, kind: remote.Kind()}
			}
		}
		if sl == nil {
			r.mu.Unlock()
			return
		}
		sl.source = p.trackSources[remote.ID()]
		if !validSource(remote.Kind().String(), sl.source) {
			sl.source = defaultSource(remote.Kind().String())
		}
		if p.usedSlotsLocked() < s.cfg.MaxTracksPerPeer {
			sl.reserved.Store(true)
		} else {
			refused = true
		}
		p.slots = append(p.slots, sl)
	}
	if sl.running {
		// A second encoding on the same section (simulcast) is not forwarded.
		r.mu.Unlock()
		return
	}
	sl.running = true
	r.mu.Unlock()
	if refused {
		p.send(errorSignal(CodeTooManyTracks, fmt.Errorf("%w (limit %d)", ErrTooManyTracks, s.cfg.MaxTracksPerPeer)))
	}

	p.forward(sl, remote)

	r.mu.Lock()
	sl.running = false
	var kicks []*peer
	changed := false
	if sl.pub != nil {
		kicks = r.deactivateLocked(sl.pub)
		changed = true
	}
	after := r.changedLocked(kicks, changed)
	r.mu.Unlock()
	after.announce()
}

// subscribeLocked adds a publication to this peer (session.mu held) and
// reports whether the peer needs a negotiation.
func (p *peer) subscribeLocked(pub *publication) bool {
	if p.closed || pub.owner == p || p.subs[pub] != nil {
		return false
	}
	tr, err := p.pc.AddTransceiverFromTrack(pub.local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.r.sfu.log.Debug("rtc: subscribe", "member", p.member, "track", pub.id, "err", err)
		return false
	}
	sub := &subscription{pub: pub, tr: tr, sender: tr.Sender()}
	p.subs[pub] = sub
	p.r.sfu.goTracked(func() { p.readRTCP(sub) })
	return true
}

func (p *peer) onConnectionState(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		if !p.connected.Swap(true) {
			p.sigMu.Lock()
			again := p.dirty
			p.sigMu.Unlock()
			if again {
				p.kickNegotiation()
			}
		}
	case webrtc.PeerConnectionStateFailed:
		p.r.sfu.log.Info("rtc: peer connection failed", "room", p.r.code, "member", p.member)
		p.send(Signal{Type: TypeClosed, Message: "connection failed"})
		p.r.removePeer(p)
	case webrtc.PeerConnectionStateClosed:
		p.r.removePeer(p)
	}
}

func (p *peer) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != FramesLabel {
		return
	}
	if mr := dc.MaxRetransmits(); dc.Ordered() || mr == nil || *mr != 0 {
		p.send(Signal{Type: TypeError, Code: CodeBadSignal, Message: "the frames data channel must be unordered with maxRetransmits 0"})
		_ = dc.Close()
		return
	}
	s := p.r.sfu
	sink := newFrameSink(p.r.code, p.member, dc, uint64(s.cfg.FrameHighWater), &s.stat)
	dc.OnOpen(func() {
		p.r.mu.Lock()
		if p.closed {
			p.r.mu.Unlock()
			sink.close()
			return
		}
		old := p.frames
		p.frames = sink
		p.r.mu.Unlock()
		if old != nil {
			old.close()
		}
		if f := s.onFrame.Load(); f != nil {
			(*f)(sink)
		}
	})
	dc.OnClose(func() {
		sink.close()
		p.r.mu.Lock()
		if p.frames == sink {
			p.frames = nil
		}
		p.r.mu.Unlock()
	})
}

func (p *peer) frameSink() *FrameSink {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return p.frames
}
