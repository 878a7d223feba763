// Package rtc is the WebRTC side of a room: a selective forwarding unit
// built on pion that forwards each published track (screen, camera,
// microphone) to every other member of the room, and carries the frame
// streamer's JPEG frames over data channels.
//
// The package knows nothing about websockets: the room feeds client messages
// to SFU.Handle and receives the server's messages through RoomHooks.Send.
// The protocol is described in docs/webrtc.md.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// RoomHooks connect one room to the SFU. Every hook is called from pion or
// SFU goroutines and must return promptly without calling back into the SFU.
type RoomHooks struct {
	// Send delivers a server message to a member, typically by a
	// non-blocking enqueue into its websocket outbox. Required.
	Send func(memberID string, msg Signal)
	// CanPublish reports whether a member may send media (its role allows
	// changing the video, or voice chat is on). Nil allows everyone.
	CanPublish func(memberID string) bool
	// OnState is told, after every change, which tracks are published.
	OnState func(State)
}

// Stats are cumulative counters (plus current gauges) of the SFU.
type Stats struct {
	Rooms  int
	Peers  int
	Tracks int

	// RTP read from publishers, and written towards subscribers.
	PacketsIn  uint64
	BytesIn    uint64
	PacketsOut uint64
	BytesOut   uint64
	// PacketsDropped counts RTP that was not forwarded (unparsable, or
	// arriving for a track that is not published).
	PacketsDropped uint64
	// KeyframeRequests counts PLIs sent to publishers.
	KeyframeRequests uint64

	FramesSent    uint64
	FramesDropped uint64
	FrameBytes    uint64
}

type counters struct {
	packetsIn, bytesIn, packetsOut, bytesOut, packetsDropped, keyframes atomic.Uint64
	framesSent, framesDropped, frameBytes                               atomic.Uint64
}

// SFU is the one WebRTC forwarder of the server; rooms open sessions on it.
type SFU struct {
	cfg  Config
	log  *slog.Logger
	mux  *ice.MultiUDPMuxDefault
	api  *webrtc.API
	stat counters

	onFrame atomic.Pointer[func(*FrameSink)]

	mu     sync.Mutex
	rooms  map[string]*session
	closed bool
	wg     sync.WaitGroup
}

// New opens the shared UDP port and prepares the pion API.
func New(cfg Config) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, cfg.muxOptions()...)
	if err != nil {
		return nil, fmt.Errorf("rtc: open UDP port %d: %w", cfg.UDPPort, err)
	}
	api, err := cfg.newAPI(mux)
	if err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	return &SFU{cfg: cfg, log: cfg.Logger, mux: mux, api: api, rooms: map[string]*session{}}, nil
}

// StartupSummary says in one line how peers will reach the server; the app
// logs it at start-up.
func (s *SFU) StartupSummary() string { return s.cfg.summary(s.mux.GetListenAddresses()) }

// ICEServers returns the STUN/TURN servers (with credentials) to put in the
// browser's RTCPeerConnection configuration.
func (s *SFU) ICEServers() []ICEServer { return s.cfg.ICEServers() }

// UDPAddrs are the local addresses of the shared UDP port.
func (s *SFU) UDPAddrs() []net.Addr { return s.mux.GetListenAddresses() }

// OnFrameChannel sets the function told about every open "frames" data
// channel; the frame hub registers the sink as a viewer and drops it when
// sink.Done() is closed. It is called from a pion goroutine.
func (s *SFU) OnFrameChannel(f func(*FrameSink)) {
	if f == nil {
		s.onFrame.Store(nil)
		return
	}
	s.onFrame.Store(&f)
}

// OpenRoom starts (or re-hooks) the WebRTC session of a room.
func (s *SFU) OpenRoom(code string, hooks RoomHooks) error {
	if hooks.Send == nil {
		return errors.New("rtc: RoomHooks.Send is required")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	r := s.rooms[code]
	if r == nil {
		s.rooms[code] = &session{sfu: s, code: code, hooks: hooks, peers: map[string]*peer{}}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// Lock order is session then SFU; never hold s.mu while taking r.mu.
	r.mu.Lock()
	r.hooks = hooks
	r.mu.Unlock()
	return nil
}

// CloseRoom closes every peer of a room and forgets it.
func (s *SFU) CloseRoom(code string) {
	s.mu.Lock()
	r := s.rooms[code]
	delete(s.rooms, code)
	s.mu.Unlock()
	if r != nil {
		r.close()
	}
}

func (s *SFU) room(code string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := s.rooms[code]
	if r == nil {
		return nil, ErrNoRoom
	}
	return r, nil
}

// Handle processes one client message of a member. Errors wrap the sentinel
// errors of this package; the room reports them to the member.
func (s *SFU) Handle(ctx context.Context, room, memberID string, msg Signal) error {
	r, err := s.room(room)
	if err != nil {
		return err
	}
	if msg.Type == TypeJoin {
		return r.join(memberID)
	}
	p := r.peer(memberID)
	if p == nil {
		if msg.Type == TypeLeave {
			return nil
		}
		return ErrNoPeer
	}
	switch msg.Type {
	case TypeAnswer:
		return p.handleAnswer(msg.SDP)
	case TypeOffer:
		return p.handleOffer(ctx, msg)
	case TypeCandidate:
		return p.handleCandidate(msg.Candidate)
	case TypePublish:
		return p.publish(msg.Tracks)
	case TypeUnpublish:
		r.unpublish(p, msg.Tracks)
		return nil
	case TypeLeave:
		r.removePeer(p)
		return nil
	}
	return fmt.Errorf("%w: unknown type %q", ErrBadSignal, msg.Type)
}

// Leave closes a member's peer (its websocket went away).
func (s *SFU) Leave(room, memberID string) {
	r, err := s.room(room)
	if err != nil {
		return
	}
	if p := r.peer(memberID); p != nil {
		r.removePeer(p)
	}
}

// Unpublish stops every track of a member, for instance after its role
// changed.
func (s *SFU) Unpublish(room, memberID string) {
	r, err := s.room(room)
	if err != nil {
		return
	}
	if p := r.peer(memberID); p != nil {
		r.unpublish(p, nil)
	}
}

// FrameChannel returns the open frames sink of a member, or nil.
func (s *SFU) FrameChannel(room, memberID string) *FrameSink {
	r, err := s.room(room)
	if err != nil {
		return nil
	}
	p := r.peer(memberID)
	if p == nil {
		return nil
	}
	return p.frameSink()
}

// State returns the publications of a room.
func (s *SFU) State(room string) State {
	r, err := s.room(room)
	if err != nil {
		return State{Room: room}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateLocked()
}

// Stats returns the counters.
func (s *SFU) Stats() Stats {
	st := Stats{
		PacketsIn:        s.stat.packetsIn.Load(),
		BytesIn:          s.stat.bytesIn.Load(),
		PacketsOut:       s.stat.packetsOut.Load(),
		BytesOut:         s.stat.bytesOut.Load(),
		PacketsDropped:   s.stat.packetsDropped.Load(),
		KeyframeRequests: s.stat.keyframes.Load(),
		FramesSent:       s.stat.framesSent.Load(),
		FramesDropped:    s.stat.framesDropped.Load(),
		FrameBytes:       s.stat.frameBytes.Load(),
	}
	s.mu.Lock()
	rooms := make([]*session, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	st.Rooms = len(rooms)
	for _, r := range rooms {
		r.mu.Lock()
		st.Peers += len(r.peers)
		st.Tracks += len(r.pubs)
		r.mu.Unlock()
	}
	return st
}

// Run waits for ctx to end, then closes the SFU.
func (s *SFU) Run(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}

// Close closes every PeerConnection and the UDP port, and waits for the
// SFU's goroutines to end.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := s.rooms
	s.rooms = map[string]*session{}
	s.mu.Unlock()
	for _, r := range rooms {
		r.close()
	}
	s.wg.Wait()
	return s.mux.Close()
}

// enter registers a goroutine Close waits for (call s.wg.Done when it
// ends); false once the SFU is closed.
func (s *SFU) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goTracked runs f on a goroutine that Close waits for; it reports false
// (and does not run f) once the SFU is closed.
func (s *SFU) goTracked(f func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}
