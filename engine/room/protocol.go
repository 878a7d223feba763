package room

import (
	"encoding/json"
	"strconv"

	"watchparty/engine/playback"
)

// ProtocolVersion is sent in hello; see docs/protocol.md.
const ProtocolVersion = 1

// Error codes of the protocol's error message.
const (
	CodeBadMessage  = "bad_message"
	CodeTooLarge    = "too_large"
	CodeUnknownType = "unknown_type"
	CodeRateLimited = "rate_limited"
	CodeTooLong     = "too_long"
	CodeEmpty       = "empty"
	CodeBadLink     = "bad_link"
	CodeForbidden   = "forbidden"
	CodeNotFound    = "not_found"
	CodeUnavailable = "unavailable"
	CodeRoomFull    = "room_full"
	CodeNotMember   = "not_member"
	CodeTooManyConn = "too_many_connections"
)

// Reasons of the closed message, sent just before the server closes.
const (
	ReasonKicked   = "kicked"
	ReasonDeleted  = "deleted"
	ReasonTooLarge = "too_large"
	ReasonShutdown = "shutdown"
	ReasonRemoved  = "removed"
	ReasonFlood    = "flood"
	// ReasonLoggedOut: the session the connection came with ended (a
	// log-out elsewhere, a password change, a deleted account, expiry).
	ReasonLoggedOut = "logged_out"
)

// Presence of a member.
const (
	PresenceOnline  = "online"
	PresenceAway    = "away"
	PresenceOffline = "offline"
)

type wireYou struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Guest bool   `json:"guest,omitempty"`
	Role  Role   `json:"role"`
}

type wireRoom struct {
	Code     string   `json:"code"`
	Display  string   `json:"display"`
	Name     string   `json:"name"`
	Owner    string   `json:"owner"`
	Locked   bool     `json:"locked"`
	Invite   string   `json:"invite"`
	Settings Settings `json:"settings"`
}

type wireMember struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Guest    bool   `json:"guest,omitempty"`
	Role     Role   `json:"role"`
	Presence string `json:"presence"`
}

type wireLimits struct {
	ChatChars    int `json:"chat_chars"`
	MessageBytes int `json:"message_bytes"`
	ChatPer10s   int `json:"chat_per_10s"`
}

type wireHello struct {
	Type    string       `json:"type"`
	V       int          `json:"v"`
	You     wireYou      `json:"you"`
	Room    wireRoom     `json:"room"`
	Members []wireMember `json:"members"`
	// MembersTotal counts every member; Members holds the first
	// HelloMembers of them (owner, then online, then by name).
	MembersTotal int     `json:"members_total"`
	Chat         []*Line `json:"chat"`
	// HistoryMore: older kept lines can be fetched with "history".
	HistoryMore bool            `json:"history_more"`
	Video       *Video          `json:"video"`
	Time        int64           `json:"time"`
	Limits      wireLimits      `json:"limits"`
	Reactions   []string        `json:"reactions"`
	PingMS      int64           `json:"ping_ms"`
	Playback    *playback.State `json:"playback"`
	Queue       []QueueItem     `json:"queue"`
	Sync        *wireSyncHello  `json:"sync"`
	Stream      *StreamState    `json:"stream"`
	WebRTC      wireWebRTC      `json:"webrtc"`
	Share       []wireShare     `json:"share"`
}

type wireLine struct {
	Type string `json:"type"`
	*Line
	Ref string `json:"ref,omitempty"`
}

type wireReact struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq"`
	Emoji string `json:"emoji"`
	User  string `json:"user"`
	On    bool   `json:"on"`
}

type wireMemberMsg struct {
	Type   string     `json:"type"`
	Member wireMember `json:"member"`
}

type wireRemoved struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type wireTyping struct {
	Type string `json:"type"`
	User string `json:"user"`
	On   bool   `json:"on"`
}

type wireVideo struct {
	Type  string `json:"type"`
	Video *Video `json:"video"`
	Ref   string `json:"ref,omitempty"`
}

type wireRoomMsg struct {
	Type string   `json:"type"`
	Room wireRoom `json:"room"`
}

type wireError struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Text    string `json:"text"`
	Ref     string `json:"ref,omitempty"`
	RetryMS int64  `json:"retry_ms,omitempty"`
}

type wireClosed struct {
	Type string `json:"type"`
	Code string `json:"code"`
	Text string `json:"text"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the types above are marshalled; they cannot fail.
		return []byte(`{"type":"error","code":"internal","text":"encoding failed"}`)
	}
	return b
}

func errorMsg(code, text, ref string, retryMS int64) []byte {
	return mustJSON(wireError{Type: "error", Code: code, Text: text, Ref: ref, RetryMS: retryMS})
}

func closedMsg(code, text string) []byte {
	return mustJSON(wireClosed{Type: "closed", Code: code, Text: text})
}

// appendPong writes {"type":"pong","t":<t>,"s":<server ms>} without reflection.
func appendPong(b []byte, t float64, serverMS int64) []byte {
	b = append(b, `{"type":"pong","t":`...)
	b = strconv.AppendFloat(b, t, 'f', -1, 64)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, serverMS, 10)
	return append(b, '}')
}
