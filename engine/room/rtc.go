package room

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"watchparty/engine/room/proto"
	"watchparty/engine/rtc"
)

// The room's side of WebRTC (docs/webrtc.md, docs/protocol.md): members
// signal with the SFU through "rtc" messages on their room connection, the
// SFU's messages come back through its transport, and who shares what
// becomes the room's "share" state.
//
// A signalling message is handled on the reader goroutine of the
// connection that sent it, so one member's messages stay in order and a slow
// SDP exchange never holds the room's actor. Only "join" goes through the
// actor, which checks the membership, records which connection owns the
// member's peer and creates the peer in one step (a kick cannot slip in
// between). The member's rights are copied into rtcLink so that the SFU's
// goroutines (CanPublish) and the readers can check them without the actor.

// rtcTimeout bounds one call into the SFU.
const rtcTimeout = 10 * time.Second

// rtcLink joins one room to the SFU. mu guards peers and pending, which the
// readers and the SFU's goroutines use; the other fields belong to the actor.
type rtcLink struct {
	sfu  *rtc.SFU
	code string
	wake chan struct{} // a new SFU state waits in pending

	mu      sync.Mutex
	peers   map[string]*rtcPeer // member id -> the connection that joined
	pending *rtc.State

	// Owned by the actor.
	open  bool
	share []wireShare
}

// rtcPeer is a member's WebRTC connection as the room sees it.
type rtcPeer struct {
	c *Conn
	// video: may share a screen or a camera (the room's change-video
	// level); mic: may send a microphone (video, or voice chat is on).
	video, mic bool
}

// rtcConn is what a connection's reader keeps about its signalling.
type rtcConn struct {
	joined bool
}

type wireShare struct {
	ID     string `json:"id"`
	Member string `json:"member"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Kind   string `json:"kind"`
}

type wireShareMsg struct {
	Share []wireShare `json:"share"`
}

type wireRTC struct {
	Signal rtc.Signal `json:"signal"`
}

type wireWebRTC struct {
	Enabled      bool            `json:"enabled"`
	ICEServers   []rtc.ICEServer `json:"ice_servers,omitempty"`
	MessageBytes int             `json:"message_bytes,omitempty"`
}

// rtcIn is an rtc message from a client.
type rtcIn struct {
	Ref    string      `json:"ref"`
	Signal *rtc.Signal `json:"signal"`
}

func newRTCLink(s *rtc.SFU, code string) *rtcLink {
	if s == nil {
		return nil
	}
	return &rtcLink{sfu: s, code: code, wake: make(chan struct{}, 1), peers: map[string]*rtcPeer{}}
}

// send is RoomHooks.Send: it only enqueues (client.send never blocks).
func (l *rtcLink) send(member string, sig rtc.Signal) {
	l.mu.Lock()
	p := l.peers[member]
	l.mu.Unlock()
	if p != nil {
		p.c.send(encode(proto.RTC, wireRTC{Signal: sig}))
	}
}

// canPublish is RoomHooks.CanPublish; which sources a member may send is
// checked on its publish messages.
func (l *rtcLink) canPublish(member string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[member]
	return p != nil && (p.video || p.mic)
}

// onState is RoomHooks.OnState: keep the newest state and wake the actor.
func (l *rtcLink) onState(st rtc.State) {
	l.mu.Lock()
	l.pending = &st
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *rtcLink) peer(member string) *rtcPeer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[member]
}

// ---- actor side ----

// rtcWake is ready when the SFU's state changed (nil without WebRTC).
func (a *actor) rtcWake() <-chan struct{} {
	if a.rtc == nil {
		return nil
	}
	return a.rtc.wake
}

// rtcRights says what a member may send.
func (a *actor) rtcRights(m *memberState) (video, mic bool) {
	video = a.info.Settings.ChangeVideo.Allows(m.Role)
	return video, video || a.info.Settings.Voice
}

// rtcJoin makes c the connection of its member's peer and creates the peer.
func (a *actor) rtcJoin(c *Conn) error {
	m, ok := a.members[c.user.ID]
	if !ok {
		return ErrNotMember
	}
	l := a.rtc
	if !l.open {
		err := l.sfu.OpenRoom(a.code, rtc.RoomHooks{Send: l.send, CanPublish: l.canPublish, OnState: l.onState})
		if err != nil {
			return err
		}
		l.open = true
	}
	video, mic := a.rtcRights(m)
	l.mu.Lock()
	old := l.peers[m.ID]
	l.peers[m.ID] = &rtcPeer{c: c, video: video, mic: mic}
	l.mu.Unlock()
	if old != nil && old.c != c {
		old.c.send(encode(proto.RTC, wireRTC{Signal: rtc.Signal{Type: rtc.TypeClosed, Code: "replaced",
			Message: "WebRTC moved to another window of yours"}}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), rtcTimeout)
	defer cancel()
	err := l.sfu.Handle(ctx, a.code, m.ID, rtc.Signal{Type: rtc.TypeJoin})
	if err != nil {
		l.mu.Lock()
		if p := l.peers[m.ID]; p != nil && p.c == c {
			delete(l.peers, m.ID)
		}
		l.mu.Unlock()
	}
	return err
}

// rtcRefresh copies the members' rights after a change of roles, settings
// or membership: a member that lost a right stops sending what it covered,
// and a member that left the room leaves WebRTC.
func (a *actor) rtcRefresh() {
	l := a.rtc
	if l == nil || !l.open {
		return
	}
	type change struct {
		id          string
		gone        bool
		video, both bool
	}
	var changes []change
	l.mu.Lock()
	for id, p := range l.peers {
		m, ok := a.members[id]
		if !ok {
			delete(l.peers, id)
			changes = append(changes, change{id: id, gone: true})
			continue
		}
		video, mic := a.rtcRights(m)
		lostVideo, lostMic := p.video && !video, p.mic && !mic
		p.video, p.mic = video, mic
		if lostVideo || lostMic {
			changes = append(changes, change{id: id, video: lostVideo, both: lostMic})
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), rtcTimeout)
	defer cancel()
	for _, ch := range changes {
		switch {
		case ch.gone:
			l.sfu.Leave(a.code, ch.id)
		case ch.both:
			l.sfu.Unpublish(a.code, ch.id)
		case ch.video:
			_ = l.sfu.Handle(ctx, a.code, ch.id, rtc.Signal{Type: rtc.TypeUnpublish, Tracks: []rtc.TrackInfo{
				{Source: rtc.SourceScreen}, {Source: rtc.SourceScreenAudio}, {Source: rtc.SourceCamera}}})
		}
	}
}

// rtcClose ends the room's WebRTC session (room stopped or deleted).
func (a *actor) rtcClose() {
	l := a.rtc
	if l == nil || !l.open {
		return
	}
	l.open = false
	l.mu.Lock()
	l.peers = map[string]*rtcPeer{}
	l.pending = nil
	l.mu.Unlock()
	l.sfu.CloseRoom(a.code)
	if len(l.share) > 0 {
		l.share = nil
		a.broadcast(encode(proto.Share, wireShareMsg{Share: []wireShare{}}), "")
	}
}

// rtcState applies the SFU's newest state: a share message for everyone
// (publications in the order they started) and a chat line when a member
// starts or stops sharing video.
func (a *actor) rtcState() {
	l := a.rtc
	l.mu.Lock()
	st := l.pending
	l.pending = nil
	l.mu.Unlock()
	if st == nil || !l.open {
		return
	}
	share := make([]wireShare, 0, len(st.Tracks))
	for _, t := range st.Tracks {
		name := ""
		if m := a.members[t.Member]; m != nil {
			name = m.Name
		}
		share = append(share, wireShare{ID: t.ID, Member: t.Member, Name: name, Source: t.Source, Kind: t.Kind})
	}
	before, after := videoSources(l.share), videoSources(share)
	l.share = share
	a.broadcast(encode(proto.Share, wireShareMsg{Share: share}), "")
	ids := make([]string, 0, len(after)+len(before))
	for id := range after {
		ids = append(ids, id)
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := a.members[id]
		if m == nil {
			continue
		}
		now, was := after[id], before[id]
		switch {
		case now == was:
		case now == rtc.SourceScreen:
			a.system("share_screen", "name", m.Name)
		case now == rtc.SourceCamera:
			a.system("share_camera", "name", m.Name)
		case now == "":
			a.system("share_stopped", "name", m.Name)
		}
	}
}

// videoSources maps each member sharing video to its source (a screen
// wins over a camera).
func videoSources(share []wireShare) map[string]string {
	out := map[string]string{}
	for _, s := range share {
		if s.Kind != "video" {
			continue
		}
		if out[s.Member] != rtc.SourceScreen {
			out[s.Member] = s.Source
		}
	}
	return out
}

func (a *actor) rtcHello() (wireWebRTC, []wireShare) {
	if a.rtc == nil {
		return wireWebRTC{}, []wireShare{}
	}
	share := a.rtc.share
	if share == nil {
		share = []wireShare{}
	}
	ice := a.rtc.sfu.ICEServers()
	if ice == nil {
		ice = []rtc.ICEServer{}
	}
	return wireWebRTC{Enabled: true, ICEServers: ice, MessageBytes: proto.MaxRTCMessageSize}, share
}

// ---- reader side ----

// rtcMessage handles one rtc message on c's reader goroutine. It returns
// false when the room is gone and the reader should stop.
func (s *Service) rtcMessage(a *actor, c *Conn, rc *rtcConn, cm *proto.ClientMessage) bool {
	if a.rtc == nil {
		c.sendError(proto.CodeWebRTCDisabled, "screen and camera sharing (WebRTC) is not enabled on this server", cm.Ref, 0)
		return true
	}
	var in rtcIn
	if err := json.Unmarshal(cm.Raw, &in); err != nil || in.Signal == nil {
		c.sendError(rtc.CodeBadSignal, "an rtc message needs a signal object", cm.Ref, 0)
		return true
	}
	sig := *in.Signal
	member := c.user.ID
	if sig.Type == rtc.TypeJoin {
		done := make(chan error, 1)
		if !a.post(msg{op: opExec, fn: func(a *actor) error { return a.rtcJoin(c) }, done: done}) {
			return false
		}
		var err error
		select {
		case err = <-done:
		case <-s.quit:
			return false
		}
		if err != nil {
			rtcError(c, cm.Ref, err)
			return true
		}
		rc.joined = true
		return true
	}
	p := a.rtc.peer(member)
	if !rc.joined || p == nil || p.c != c {
		if sig.Type == rtc.TypeLeave || sig.Type == rtc.TypeCandidate {
			return true // late: the peer is already gone or moved
		}
		c.sendError(proto.CodeNotJoined, "send an rtc join first", cm.Ref, 0)
		return true
	}
	switch sig.Type {
	case rtc.TypePublish:
		for _, t := range sig.Tracks {
			ok := p.video
			if t.Source == rtc.SourceMicrophone {
				ok = p.mic
			}
			if !ok {
				what := "share a screen or a camera"
				if t.Source == rtc.SourceMicrophone {
					what = "turn on a microphone (voice chat is off)"
				}
				c.sendError(rtc.CodeNotAllowed, "you may not "+what+" in this room", cm.Ref, 0)
				return true
			}
		}
	case rtc.TypeOffer:
		// A client offer may carry media of any source: only members who
		// may share video may make one.
		if !p.video {
			c.sendError(rtc.CodeNotAllowed, "use publish to send a microphone", cm.Ref, 0)
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), rtcTimeout)
	err := a.rtc.sfu.Handle(ctx, a.code, member, sig)
	cancel()
	if sig.Type == rtc.TypeLeave {
		a.rtc.mu.Lock()
		if q := a.rtc.peers[member]; q != nil && q.c == c {
			delete(a.rtc.peers, member)
		}
		a.rtc.mu.Unlock()
		rc.joined = false
	}
	if err != nil {
		if sig.Type == rtc.TypeCandidate && errors.Is(err, rtc.ErrNoPeer) {
			return true
		}
		rtcError(c, cm.Ref, err)
	}
	return true
}

// rtcGone runs when c's reader ends: the member leaves WebRTC unless
// another of its connections has joined since.
func (s *Service) rtcGone(a *actor, c *Conn, rc *rtcConn) {
	if a.rtc == nil || !rc.joined {
		return
	}
	member := c.user.ID
	a.rtc.mu.Lock()
	p := a.rtc.peers[member]
	mine := p == nil || p.c == c
	if p != nil && p.c == c {
		delete(a.rtc.peers, member)
	}
	a.rtc.mu.Unlock()
	if mine {
		a.rtc.sfu.Leave(a.code, member)
	}
}

func rtcError(c *Conn, ref string, err error) {
	code := rtc.CodeOf(err)
	switch {
	case errors.Is(err, rtc.ErrNoPeer):
		code = proto.CodeNotJoined
	case errors.Is(err, ErrNotMember), errors.Is(err, ErrNotFound):
		code = proto.CodeNotMember
	}
	c.sendError(code, err.Error(), ref, 0)
}
