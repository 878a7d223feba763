package rtc

import (
	"errors"

	"github.com/pion/webrtc/v4"
)

// Sentinel errors returned by Handle. The room turns them into its own error
// message (code and text) for the member.
var (
	ErrTooManyPeers  = errors.New("rtc: too many WebRTC peers in this room")
	ErrTooManyTracks = errors.New("rtc: too many published tracks for this member")
	ErrNotAllowed    = errors.New("rtc: this member may not publish")
	ErrNoRoom        = errors.New("rtc: room has no WebRTC session")
	ErrNoPeer        = errors.New("rtc: member has not joined WebRTC")
	ErrBadSignal     = errors.New("rtc: malformed signalling message")
	ErrClosed        = errors.New("rtc: SFU is closed")
)

// Signal types. Client to server: join, offer, answer, candidate, publish,
// unpublish, leave. Server to client: offer, answer, state, error, closed.
// See docs/webrtc.md.
const (
	TypeJoin      = "join"
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypePublish   = "publish"
	TypeUnpublish = "unpublish"
	TypeLeave     = "leave"
	TypeState     = "state"
	TypeError     = "error"
	TypeClosed    = "closed"
)

// Track sources a member may publish.
const (
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
)

// Error codes carried by an error Signal.
const (
	CodeNotAllowed    = "not_allowed"
	CodeTooManyPeers  = "too_many_peers"
	CodeTooManyTracks = "too_many_tracks"
	CodeBadSignal     = "bad_signal"
	CodeFailed        = "failed"
)

// Signal is one signalling message in either direction. It is JSON-friendly:
// the room embeds it in its websocket message as it is.
type Signal struct {
	Type string `json:"type"`
	// SDP of an offer or answer.
	SDP string `json:"sdp,omitempty"`
	// Candidate is a trickled ICE candidate (client to server only; the
	// server puts its candidates in its SDP). Nil or an empty candidate string
	// means end of candidates.
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	// Tracks: in publish, the tracks the member wants to send; in unpublish,
	// the ones to stop (by source or id, none means all); in a server offer,
	// Publish lists the receive slots (mid per source) and Tracks the forwarded
	// tracks (mid per publication); in state, every publication of the room.
	Tracks  []TrackInfo `json:"tracks,omitempty"`
	Publish []TrackInfo `json:"publish,omitempty"`
	// Code and Message of an error Signal.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// TrackInfo describes one track.
type TrackInfo struct {
	// ID is the publication's id, the same for every subscriber.
	ID string `json:"id,omitempty"`
	// Mid is the media section of the receiving member's PeerConnection.
	Mid string `json:"mid,omitempty"`
	// Member published the track.
	Member string `json:"member,omitempty"`
	Source string `json:"source,omitempty"`
	// Kind is "video" or "audio".
	Kind string `json:"kind,omitempty"`
	// TrackID is the sender's MediaStreamTrack id, used to name the source of
	// tracks that arrive through a client offer.
	TrackID string `json:"track_id,omitempty"`
}

// State is the room's view of who shares what, passed to RoomHooks.OnState.
type State struct {
	Room   string      `json:"room"`
	Tracks []TrackInfo `json:"tracks"`
}

func errorSignal(code string, err error) Signal {
	return Signal{Type: TypeError, Code: code, Message: err.Error()}
}

// CodeOf maps an error of Handle to the error code a client sees.
func CodeOf(err error) string {
	switch {
	case errors.Is(err, ErrNotAllowed):
		return CodeNotAllowed
	case errors.Is(err, ErrTooManyPeers):
		return CodeTooManyPeers
	case errors.Is(err, ErrTooManyTracks):
		return CodeTooManyTracks
	case errors.Is(err, ErrBadSignal):
		return CodeBadSignal
	}
	return CodeFailed
}

func validSource(kind, source string) bool {
	switch source {
	case SourceScreen, SourceCamera:
		return kind == "video"
	case SourceScreenAudio, SourceMicrophone:
		return kind == "audio"
	}
	return false
}

func defaultSource(kind string) string {
	if kind == "audio" {
		return SourceMicrophone
	}
	return SourceCamera
}
