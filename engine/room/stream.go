package room

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"watchparty/engine/room/proto"
)

// Reasons a stream stopped, in StreamState.Reason.
const (
	StreamEnded    = "ended"    // the source reached its end or the publisher left
	StreamStopped  = "stopped"  // a member stopped it
	StreamFailed   = "failed"   // the source failed
	StreamShutdown = "shutdown" // the server is stopping
	StreamIdle     = "idle"     // nobody watched a stream the server ran
)

// MaxStreamSource bounds the source field of stream_start.
const MaxStreamSource = 2048

// streamOpenTimeout bounds opening a source (an HTTP camera may not answer).
const streamOpenTimeout = 20 * time.Second

// StreamState is a room's frame stream as its members see it: the stream
// field of hello and of the stream message (docs/protocol.md).
type StreamState struct {
	Active    bool    `json:"active"`
	Source    string  `json:"source,omitempty"`    // what feeds it, for people
	By        string  `json:"by,omitempty"`        // user id of the member who started or publishes it
	Publisher string  `json:"publisher,omitempty"` // that member's name
	FPS       float64 `json:"fps,omitempty"`       // frame rate (declared, or measured once known)
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	Viewers   int     `json:"viewers"`
	Started   int64   `json:"started,omitempty"` // unix ms
	Reason    string  `json:"reason,omitempty"`  // once stopped: ended, stopped, failed or shutdown
}

// Streamer runs the rooms' frame streams. The room service asks it to start
// and stop streams; it reports every start and stop back through
// Service.StreamChanged. The app backs it with the frames hub.
type Streamer interface {
	// Start opens source and streams it into the room, on behalf of by.
	// It returns once frames flow or the source failed to open; the error
	// text is shown to the member.
	Start(ctx context.Context, room, source string, by User) error
	// Stop ends the room's stream, reporting whether one was running.
	Stop(room string) bool
	// State is the room's stream now.
	State(room string) StreamState
}

// Errors a Streamer returns from Start.
var (
	// ErrStreamBusy: the room already streams.
	ErrStreamBusy = errors.New("this room is already streaming; stop the stream first")
	// ErrStreamLimit: a limit on streams (per server, per user) is reached.
	ErrStreamLimit = errors.New("the stream could not start")
)

// streamSlot carries stream changes from the hub to the room's actor: the
// newest state only, and a wake-up that never blocks the sender.
type streamSlot struct {
	wake chan struct{}
	mu   sync.Mutex
	next *StreamState
}

func newStreamSlot() streamSlot { return streamSlot{wake: make(chan struct{}, 1)} }

// StreamChanged tells the room that its stream started or stopped. It never
// blocks: a room whose actor is not running learns the state at its next
// hello, and changes that come faster than the actor reads them collapse into
// the newest.
func (s *Service) StreamChanged(code string, st StreamState) {
	s.mu.Lock()
	a := s.rooms[code]
	s.mu.Unlock()
	if a == nil {
		return
	}
	a.stream.mu.Lock()
	a.stream.next = &st
	a.stream.mu.Unlock()
	select {
	case a.stream.wake <- struct{}{}:
	default:
	}
}

// streamChanged runs in the actor after StreamChanged.
func (a *actor) streamChanged() {
	a.stream.mu.Lock()
	st := a.stream.next
	a.stream.next = nil
	a.stream.mu.Unlock()
	if st == nil || a.err != nil {
		return
	}
	a.nameStream(st)
	a.broadcast(encode(proto.Stream, wireStream{Stream: st}), "")
	if st.Active && st.Publisher == "" {
		a.system("stream_started_anon", "source", st.Source)
	} else if st.Active {
		a.system("stream_started", "name", st.Publisher, "source", st.Source)
	} else if st.Reason == StreamEnded || st.Reason == StreamFailed || st.Reason == StreamIdle {
		a.system("stream_ended")
	} else if st.Reason == StreamStopped {
		a.system("stream_stopped")
	}
}

// nameStream fills in the publisher's name from the member list.
func (a *actor) nameStream(st *StreamState) {
	if m, ok := a.members[st.By]; ok {
		st.Publisher = m.Name
	}
}

// streamHello is the stream field of hello.
func (a *actor) streamHello() *StreamState {
	if a.s.opt.Streams == nil {
		return &StreamState{}
	}
	st := a.s.opt.Streams.State(a.code)
	if st.Active {
		a.nameStream(&st)
	}
	return &st
}

type wireStream struct {
	Stream *StreamState `json:"stream"`
	Ref    string       `json:"ref,omitempty"`
}

// streamMsg handles stream_start {source} and stream_stop.
func (a *actor) streamMsg(c *Conn, m *memberState, cm *proto.ClientMessage) {
	streams := a.s.opt.Streams
	if streams == nil {
		c.sendError(proto.CodeUnavailable, "this server does not stream frames", cm.Ref, 0)
		return
	}
	switch cm.Type {
	case proto.StreamStart:
		if !a.may(c, m, cm, a.info.Settings.ChangeVideo, "start a stream") {
			return
		}
		var body struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal(cm.Raw, &body); err != nil {
			c.sendError(proto.CodeBadMessage, "source must be a string", cm.Ref, 0)
			return
		}
		if body.Source == "" || len(body.Source) > MaxStreamSource {
			c.sendError(proto.CodeBadSource, "name a source: media:FILE, an http(s) MJPEG URL, pattern:WIDTHxHEIGHT or camera:N", cm.Ref, 0)
			return
		}
		if streams.State(a.code).Active {
			c.sendError(proto.CodeStreamBusy, ErrStreamBusy.Error(), cm.Ref, 0)
			return
		}
		if !a.allow(c, m, cm) {
			return
		}
		a.startStream(c, m.User(), body.Source, cm.Ref)
	case proto.StreamStop:
		st := streams.State(a.code)
		if !st.Active {
			c.sendError(proto.CodeNoStream, "there is no stream to stop", cm.Ref, 0)
			return
		}
		if st.By != m.ID && m.Role != RoleOwner && m.Role != RoleModerator {
			c.sendError(proto.CodeForbidden, "only who started the stream, a moderator or the owner may stop it", cm.Ref, 0)
			return
		}
		streams.Stop(a.code)
	}
}

// startStream opens the source outside the actor (opening may wait on the
// network) and answers the member only if it fails: success reaches
// everyone as a stream message.
func (a *actor) startStream(c *Conn, by User, source, ref string) {
	streams, s, code := a.s.opt.Streams, a.s, a.code
	ctx, cancel := context.WithTimeout(context.Background(), streamOpenTimeout)
	s.actors.Add(1) // Close waits for the open to finish
	go func() {
		defer s.actors.Done()
		defer cancel()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-s.quit:
				cancel()
			case <-stop:
			}
		}()
		if err := streams.Start(ctx, code, source, by); err != nil {
			errCode := proto.CodeBadSource
			switch {
			case errors.Is(err, ErrStreamBusy):
				errCode = proto.CodeStreamBusy
			case errors.Is(err, ErrStreamLimit):
				errCode = proto.CodeStreamLimit
			}
			c.sendError(errCode, err.Error(), ref, 0)
		}
	}()
}

// User returns the member as a User.
func (m *memberState) User() User { return User{ID: m.ID, Name: m.Name, Guest: m.Guest} }
