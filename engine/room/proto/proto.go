// Package proto is the room protocol's catalogue: every message type, error
// code, close reason and presence value, defined once. The server (engine/room
// and its transports) uses these constants; the browser gets the same list as
// the generated module embed/static/js/protocol.js (go generate), and a test
// fails when the two drift apart. docs/protocol.md describes each message.
//
// The package holds no state and imports no transport: a websocket, a
// Syncplay client or a remote node's proxy all speak through it.
package proto

//go:generate go test -run TestJSModule . -args -update

// Version is the protocol version, sent as v in hello.
const Version = 1

// Type is a message's type, its "type" field.
type Type string

// Message types a client sends.
const (
	Chat        Type = "chat"         // a chat line
	Typing      Type = "typing"       // started or stopped typing
	Presence    Type = "presence"     // online or away
	React       Type = "react"        // a reaction on a chat line
	Video       Type = "video"        // switch the video
	Ping        Type = "ping"         // clock synchronisation, answered with pong
	StreamStart Type = "stream_start" // start the room's frame stream
	StreamStop  Type = "stream_stop"  // stop it
	Members     Type = "members"      // the next page of the member list
	History     Type = "history"      // older chat lines
	Play        Type = "play"         // playback commands
	Pause       Type = "pause"
	Seek        Type = "seek"
	Rate        Type = "rate"
	Buffering   Type = "buffering" // player reports
	Drift       Type = "drift"
	Duration    Type = "duration"
	Ended       Type = "ended"
	QueueAdd    Type = "queue_add" // queue commands
	QueueRemove Type = "queue_remove"
	QueueMove   Type = "queue_move"
	QueueClear  Type = "queue_clear"
	QueueNext   Type = "queue_next"
	RTC         Type = "rtc" // WebRTC signalling, both ways
)

// Message types the server sends (chat, typing, react, video, members,
// history and rtc above go both ways).
const (
	Hello         Type = "hello"
	Member        Type = "member"
	MemberRemoved Type = "member_removed"
	Room          Type = "room"
	Pong          Type = "pong"
	Stream        Type = "stream"
	Playback      Type = "playback"
	SyncMembers   Type = "sync_members"
	QueueChange   Type = "queue_change"
	Share         Type = "share"
	Error         Type = "error"
	Closed        Type = "closed"
)

// Error codes of the error message.
const (
	CodeBadMessage         = "bad_message"
	CodeTooLarge           = "too_large"
	CodeUnknownType        = "unknown_type"
	CodeRateLimited        = "rate_limited"
	CodeTooLong            = "too_long"
	CodeEmpty              = "empty"
	CodeBadLink            = "bad_link"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeUnavailable        = "unavailable"
	CodeRoomFull           = "room_full"
	CodeNotMember          = "not_member"
	CodeTooManyConnections = "too_many_connections"
	CodeNoVideo            = "no_video"     // a playback command before any video
	CodeBadCommand         = "bad_command"  // a playback or queue command out of range
	CodeBadSource          = "bad_source"   // the stream source was refused or could not be opened
	CodeStreamBusy         = "stream_busy"  // the room already has a stream
	CodeStreamLimit        = "stream_limit" // the server or the member runs as many streams as allowed
	CodeNoStream           = "no_stream"    // stream_stop without a stream
	CodeWebRTCDisabled     = "webrtc_disabled"
	CodeNotJoined          = "not_joined" // an rtc message before rtc join
)

// Reasons of the closed message, sent just before the server closes a
// connection on purpose.
const (
	ReasonRemoved   = "removed" // the member left the room (from another tab)
	ReasonKicked    = "kicked"
	ReasonLoggedOut = "logged_out" // the session the connection came with ended
	ReasonDeleted   = "deleted"
	ReasonTooLarge  = "too_large"
	ReasonShutdown  = "shutdown"
	ReasonFlood     = "flood"
)

// Presence of a member.
const (
	PresenceOnline  = "online"
	PresenceAway    = "away"
	PresenceOffline = "offline"
)

// Close codes of a websocket closed on purpose (RFC 6455 and the 4000
// range for the room's own reasons).
const (
	CloseGoingAway = 1001 // the server is shutting down
	ClosePolicy    = 1008 // refused at connect, or flood
	CloseTooBig    = 1009 // a message over the size limit
	CloseRemoved   = 4000
	CloseKicked    = 4001
	CloseLoggedOut = 4003
	CloseDeleted   = 4004
)

// CloseCode is the websocket close code that goes with a closed message's
// reason. Codes 4000-4004 tell a page to stop for good; the others to
// reconnect.
func CloseCode(reason string) int {
	switch reason {
	case ReasonRemoved:
		return CloseRemoved
	case ReasonKicked:
		return CloseKicked
	case ReasonLoggedOut:
		return CloseLoggedOut
	case ReasonDeleted:
		return CloseDeleted
	case ReasonTooLarge:
		return CloseTooBig
	case ReasonShutdown:
		return CloseGoingAway
	}
	return ClosePolicy
}

// Limits of the protocol.
const (
	// MaxMessageSize bounds a client message; MaxRTCMessageSize an rtc
	// message when WebRTC is on (SDP runs to several KiB).
	MaxMessageSize    = 8 << 10
	MaxRTCMessageSize = 64 << 10
	// MaxLoadedRanges bounds the ranges of loaded media a drift report
	// lists; the room keeps the first ones.
	MaxLoadedRanges = 8
)
