package rtc

import (
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
)

// session is the WebRTC side of one room. Lock order: session.mu, then
// SFU.mu; peer.sigMu is taken before session.mu, never after.
type session struct {
	sfu  *SFU
	code string

	mu     sync.Mutex
	hooks  RoomHooks
	peers  map[string]*peer
	pubs   []*publication
	nextID uint64
	closed bool
}

func (r *session) peer(member string) *peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers[member]
}

func (r *session) currentHooks() RoomHooks {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hooks
}

func (r *session) canPublish(member string) bool {
	h := r.currentHooks()
	return h.CanPublish == nil || h.CanPublish(member)
}

// join creates the member's PeerConnection (replacing an older one), adds
// every published track to it and starts the first negotiation.
func (r *session) join(member string) error {
	max := r.sfu.cfg.MaxPeersPerRoom
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrNoRoom
	}
	old := r.peers[member]
	n := len(r.peers)
	if old != nil {
		n--
	}
	r.mu.Unlock()
	if n >= max {
		return fmt.Errorf("%w (limit %d)", ErrTooManyPeers, max)
	}
	if old != nil {
		r.removePeer(old)
	}
	p, err := newPeer(r, member)
	if err != nil {
		return err
	}
	r.mu.Lock()
	switch {
	case r.closed:
		err = ErrNoRoom
	case r.peers[member] != nil || len(r.peers) >= max:
		err = fmt.Errorf("%w (limit %d)", ErrTooManyPeers, max)
	}
	if err != nil {
		r.mu.Unlock()
		p.shutdown()
		return err
	}
	r.peers[member] = p
	for _, pub := range r.pubs {
		p.subscribeLocked(pub)
	}
	r.mu.Unlock()
	if !r.sfu.goTracked(p.run) {
		r.removePeer(p)
		return ErrClosed
	}
	p.kickNegotiation()
	return nil
}

// removePeer closes a member's peer and withdraws its tracks from everyone.
func (r *session) removePeer(p *peer) {
	r.mu.Lock()
	if r.peers[p.member] != p {
		r.mu.Unlock()
		p.shutdown()
		return
	}
	delete(r.peers, p.member)
	p.closed = true
	var kicks []*peer
	changed := false
	for _, sl := range p.slots {
		if sl.pub != nil {
			kicks = append(kicks, r.deactivateLocked(sl.pub)...)
			changed = true
		}
		sl.reserved.Store(false)
	}
	frames := p.frames
	p.frames = nil
	after := r.changedLocked(kicks, changed)
	r.mu.Unlock()

	if frames != nil {
		frames.close()
	}
	p.shutdown()
	after.announce()
}

// unpublish stops the member's tracks named by source or id (all when
// tracks is empty), including slots still waiting for media.
func (r *session) unpublish(p *peer, tracks []TrackInfo) {
	match := func(sl *slot) bool {
		if len(tracks) == 0 {
			return true
		}
		for _, t := range tracks {
			if t.Source != "" && t.Source == sl.source {
				return true
			}
			if t.ID != "" && sl.pub != nil && t.ID == sl.pub.id {
				return true
			}
			if t.Mid != "" && t.Mid == sl.tr.Mid() {
				return true
			}
		}
		return false
	}
	r.mu.Lock()
	var kicks []*peer
	changed := false
	for _, sl := range p.slots {
		if !match(sl) {
			continue
		}
		if sl.pub != nil {
			kicks = append(kicks, r.deactivateLocked(sl.pub)...)
			changed = true
		}
		sl.reserved.Store(false)
	}
	after := r.changedLocked(kicks, changed)
	r.mu.Unlock()
	after.announce()
}

// activate turns a reserved slot whose media started flowing into a
// publication forwarded to every other peer.
func (r *session) activate(p *peer, sl *slot, remote *webrtc.TrackRemote) *publication {
	if !r.canPublish(p.member) {
		sl.reserved.Store(false)
		p.send(errorSignal(CodeNotAllowed, ErrNotAllowed))
		return nil
	}
	r.mu.Lock()
	if p.closed || r.closed || !sl.reserved.Load() {
		r.mu.Unlock()
		return nil
	}
	if sl.pub != nil {
		r.mu.Unlock()
		return sl.pub
	}
	r.nextID++
	pub := &publication{
		id:     fmt.Sprintf("%s-%s-%d", p.member, sl.source, r.nextID),
		owner:  p,
		slot:   sl,
		source: sl.source,
		kind:   remote.Kind().String(),
		ssrc:   uint32(remote.SSRC()),
		stat:   &r.sfu.stat,
	}
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, pub.id, streamID(p.member, sl.source))
	if err != nil {
		r.mu.Unlock()
		r.sfu.log.Warn("rtc: cannot forward track", "room", r.code, "member", p.member, "err", err)
		return nil
	}
	pub.local = &fwdTrack{TrackLocalStaticRTP: local, pub: pub}
	sl.pub = pub
	sl.active.Store(pub)
	r.pubs = append(r.pubs, pub)
	var kicks []*peer
	for _, q := range r.peers {
		if q != p && q.subscribeLocked(pub) {
			kicks = append(kicks, q)
		}
	}
	after := r.changedLocked(kicks, true)
	r.mu.Unlock()
	r.sfu.log.Debug("rtc: track published", "room", r.code, "member", p.member, "source", pub.source, "id", pub.id)
	after.announce()
	return pub
}

// deactivateLocked withdraws a publication from every subscriber and
// returns the peers that need a new negotiation.
func (r *session) deactivateLocked(pub *publication) []*peer {
	sl := pub.slot
	sl.active.Store(nil)
	sl.pub = nil
	for i, q := range r.pubs {
		if q == pub {
			r.pubs = append(r.pubs[:i], r.pubs[i+1:]...)
			break
		}
	}
	var kicks []*peer
	for _, q := range r.peers {
		if sub := q.subs[pub]; sub != nil {
			delete(q.subs, pub)
			if err := q.pc.RemoveTrack(sub.sender); err != nil {
				r.sfu.log.Debug("rtc: remove track", "member", q.member, "err", err)
			}
			kicks = append(kicks, q)
		}
	}
	return kicks
}

// aftermath is what a change to the session leaves to do once r.mu is
// released: ask the kicked peers to renegotiate and, when what is shared
// changed, tell the room the new state.
type aftermath struct {
	kicks   []*peer
	changed bool
	state   State
	hooks   RoomHooks
}

// changedLocked records the aftermath of a change (r.mu held).
func (r *session) changedLocked(kicks []*peer, changed bool) aftermath {
	return aftermath{kicks: kicks, changed: changed, state: r.stateLocked(), hooks: r.hooks}
}

// announce does what a change left to do; r.mu must not be held.
func (a aftermath) announce() {
	for _, q := range a.kicks {
		q.kickNegotiation()
	}
	if a.changed && a.hooks.OnState != nil {
		a.hooks.OnState(a.state)
	}
}

func (r *session) stateLocked() State {
	st := State{Room: r.code, Tracks: make([]TrackInfo, 0, len(r.pubs))}
	for _, pub := range r.pubs {
		st.Tracks = append(st.Tracks, TrackInfo{ID: pub.id, Member: pub.owner.member, Source: pub.source, Kind: pub.kind})
	}
	return st
}

// close shuts every peer of the room without further notifications.
func (r *session) close() {
	r.mu.Lock()
	r.closed = true
	peers := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		p.closed = true
		for _, sl := range p.slots {
			sl.active.Store(nil)
			sl.pub = nil
			sl.reserved.Store(false)
		}
		if p.frames != nil {
			p.frames.close()
			p.frames = nil
		}
		peers = append(peers, p)
	}
	r.peers = map[string]*peer{}
	r.pubs = nil
	r.mu.Unlock()
	for _, p := range peers {
		p.shutdown()
	}
}

// streamID groups a screen with its audio and a camera with its microphone
// into one MediaStream on the subscriber.
func streamID(member, source string) string {
	switch source {
	case SourceScreen, SourceScreenAudio:
		return member + "-screen"
	}
	return member + "-camera"
}
