package room

import (
	"encoding/json"

	"watchparty/engine/playback"
	"watchparty/engine/room/proto"
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
	Native   bool   `json:"native,omitempty"`
}

type wireLimits struct {
	ChatChars    int `json:"chat_chars"`
	MessageBytes int `json:"message_bytes"`
	ChatPer10s   int `json:"chat_per_10s"`
}

type wireHello struct {
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
	*Line
	Ref string `json:"ref,omitempty"`
}

type wireReact struct {
	Seq   uint64 `json:"seq"`
	Emoji string `json:"emoji"`
	User  string `json:"user"`
	On    bool   `json:"on"`
}

type wireMemberMsg struct {
	Member wireMember `json:"member"`
}

type wireRemoved struct {
	ID string `json:"id"`
}

type wireTyping struct {
	User string `json:"user"`
	On   bool   `json:"on"`
}

type wireVideo struct {
	Video *Video `json:"video"`
	Ref   string `json:"ref,omitempty"`
}

type wireRoomMsg struct {
	Room wireRoom `json:"room"`
}

// out is one encoded server message and its type, as a Transport gets it.
type out struct {
	typ proto.Type
	b   []byte
}

// encode makes the message {"type": typ, ...v's fields}: the type comes
// from the catalogue at the call site, v (a wire struct) holds the rest.
// Marshalled once, the message is shared by every member it goes to.
func encode(typ proto.Type, v any) out {
	b, err := json.Marshal(v)
	if err != nil || len(b) < 2 || b[0] != '{' {
		// Only the wire structs are encoded; they cannot fail.
		return out{proto.Error, proto.ErrorMessage("internal", "encoding failed", "", 0)}
	}
	buf := make([]byte, 0, len(b)+len(typ)+11)
	buf = append(buf, `{"type":"`...)
	buf = append(buf, typ...)
	buf = append(buf, '"')
	if len(b) > 2 {
		buf = append(buf, ',')
	}
	return out{typ, append(buf, b[1:]...)}
}
