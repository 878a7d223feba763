// Package room is the heart of watchparty: rooms, their members, chat and
// shared video. Each live room is owned by one goroutine (its actor); every
// change reaches it as a message and leaves it as a message, so no lock is
// held while sending and no two changes race. Rooms are persisted in the
// store and reloaded on demand; an empty room's actor stops.
package room

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors a user can be shown.
var (
	ErrNotFound      = errors.New("no room has this code")
	ErrNotMember     = errors.New("you are not a member of this room")
	ErrLocked        = errors.New("this room is locked: no new members may join")
	ErrBanned        = errors.New("you were removed from this room by its owner")
	ErrForbidden     = errors.New("only the room owner can do this")
	ErrGuestsOff     = errors.New("this room does not let guests in")
	ErrInvite        = errors.New("this invite link is invalid or was replaced by a new one")
	ErrTooManyRooms  = errors.New("you own as many rooms as this server allows; delete one first")
	ErrRoomFull      = errors.New("this room is full")
	ErrInvalidName   = errors.New("the room name must be at most 80 characters, without control characters")
	ErrOwnerLeave    = errors.New("the owner cannot leave the room; delete it instead")
	ErrGuestRoom     = errors.New("a guest can only be in the room they were invited to")
	ErrClosed        = errors.New("the room service is shutting down")
	ErrInvalidTarget = errors.New("no such member in this room")
	ErrTooManyTabs   = errors.New("this room is open in too many of your tabs and devices; close one")
	ErrTooManyGuests = errors.New("this room has as many guests as it may take; ask its owner to let you in another way")
)

// User is who acts on a room: an account or a guest.
type User struct {
	ID    string
	Name  string
	Guest bool
	// Native: the connection is a native player's (Syncplay protocol);
	// the member's People entry carries a badge while one is connected.
	Native bool
	// Addr is the client address a guest joins from (its limit.AddrKey):
	// removing a guest keeps that address from coming back as a new guest.
	Addr string
	// Session is the id of the log-in session a connection came with
	// (account.SessionID) and Expires when it ends: the connection ends
	// with the session (engine/revoke).
	Session string
	Expires time.Time
}

// Role is a member's standing in a room.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner     Role = "owner"
	RoleModerator Role = "moderator"
	RoleMember    Role = "member"
)

// Level says who may do something in a room.
type Level string

// Levels for room settings.
const (
	LevelEveryone   Level = "everyone"
	LevelModerators Level = "moderators"
	LevelOwner      Level = "owner"
)

func (l Level) valid() bool {
	return l == LevelEveryone || l == LevelModerators || l == LevelOwner
}

// Allows reports whether a member with role r passes level l.
func (l Level) Allows(r Role) bool {
	switch l {
	case LevelOwner:
		return r == RoleOwner
	case LevelModerators:
		return r == RoleOwner || r == RoleModerator
	default:
		return r == RoleOwner || r == RoleModerator || r == RoleMember
	}
}

// Settings are a room's options.
type Settings struct {
	// GuestsAllowed lets people without an account in by the invite link.
	GuestsAllowed bool `json:"guests_allowed"`
	// Control: who may play, pause, seek and change the rate.
	Control Level `json:"control"`
	// ChangeVideo: who may switch the video.
	ChangeVideo Level `json:"change_video"`
	// ManageQueue: who may add, reorder and remove queued videos.
	ManageQueue Level `json:"manage_queue"`
	// WaitForAll holds playback until every member is ready.
	WaitForAll bool `json:"wait_for_all"`
	// Voice lets every member turn on a microphone (voice chat over WebRTC).
	Voice bool `json:"voice"`
	// Invite: who sees the invite link and may pass it on. Guests never do.
	Invite Level `json:"invite"`
}

// DefaultSettings are the settings of a new room: an invite link lets
// people without an account in (the server's guests.allowed still decides
// whether guests exist at all).
func DefaultSettings() Settings {
	return Settings{GuestsAllowed: true, Control: LevelEveryone, ChangeVideo: LevelEveryone, ManageQueue: LevelEveryone, Invite: LevelEveryone}
}

func (s *Settings) fix() {
	if !s.Control.valid() {
		s.Control = LevelEveryone
	}
	if !s.ChangeVideo.valid() {
		s.ChangeVideo = LevelEveryone
	}
	if !s.ManageQueue.valid() {
		s.ManageQueue = LevelEveryone
	}
	if !s.Invite.valid() {
		s.Invite = LevelEveryone
	}
}

// Video is what a room is watching.
type Video struct {
	Kind  string  `json:"kind"`            // "youtube" or "file"
	URL   string  `json:"url"`             // canonical URL
	ID    string  `json:"id,omitempty"`    // YouTube video id
	Start float64 `json:"start,omitempty"` // seconds into the video to start at
	Title string  `json:"title,omitempty"`
	By    string  `json:"by,omitempty"` // user id of who set it
	At    int64   `json:"at,omitempty"` // unix ms when it was set
}

// Info is a room's persisted record.
type Info struct {
	Code      string            `json:"code"`
	Name      string            `json:"name"`
	Owner     string            `json:"owner"`
	OwnerName string            `json:"owner_name"`
	Created   time.Time         `json:"created"`
	Locked    bool              `json:"locked"`
	Invite    string            `json:"invite"`
	Settings  Settings          `json:"settings"`
	Video     *Video            `json:"video,omitempty"`
	Banned    map[string]string `json:"banned,omitempty"` // user id -> name at the time
	// GuestBans keeps removed guests' addresses from joining as new guests
	// for a day: address hash -> the ban.
	GuestBans map[string]GuestBan `json:"guest_bans,omitempty"`
}

// GuestBan is a removed guest's address, banned until a time.
type GuestBan struct {
	ID    string `json:"id"`    // the removed guest
	Until int64  `json:"until"` // unix ms
}

// DisplayCode is the code grouped for reading.
func (i *Info) DisplayCode() string { return FormatCode(i.Code) }

// MayInvite reports whether member m sees the invite link: a guest never
// does (a removed guest must not come back with it, and a link passed on by
// a guest is out of the owner's hands), others as the room's invite setting
// says.
func (i *Info) MayInvite(m *Member) bool { return !m.Guest && i.Settings.Invite.Allows(m.Role) }

// Title is the room's name, or its code when unnamed.
func (i *Info) Title() string {
	if i.Name != "" {
		return i.Name
	}
	return FormatCode(i.Code)
}

// Member is a user's membership of a room.
type Member struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Guest  bool      `json:"guest,omitempty"`
	Role   Role      `json:"role"`
	Joined time.Time `json:"joined"`
	// Expires ends a guest's membership with the guest's session: a guest
	// cannot come back once the session is gone.
	Expires time.Time `json:"expires,omitzero"`
	// AddrHash is a hash of the address a guest joined from.
	AddrHash string `json:"addr,omitempty"`
}

// Line is one chat line: a member's message or a system line.
type Line struct {
	Seq       uint64              `json:"seq"`
	User      string              `json:"user,omitempty"`
	Name      string              `json:"name,omitempty"`
	Guest     bool                `json:"guest,omitempty"`
	System    bool                `json:"system,omitempty"`
	Text      string              `json:"text"`
	Time      int64               `json:"time"` // unix ms
	Reactions map[string][]string `json:"reactions,omitempty"`
	// Key names a system line's kind and Args its values, so that pages
	// can show it in their own language (Text is the English).
	Key  string `json:"key,omitempty"`
	Args Args   `json:"args,omitempty"`
}

// Args are a system line's values, name then value, sorted by name (a
// JSON object on the wire and in the store). A room keeps hundreds of
// lines: a slice costs a few bytes where a map cost hundreds.
type Args []string

// MarshalJSON writes the object {"name":"value",...}.
func (a Args) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m[a[i]] = a[i+1]
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a JSON object of strings.
func (a *Args) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a = newArgs(m)
	return nil
}

// newArgs is m as Args; nil when m is empty.
func newArgs(m map[string]string) Args {
	if len(m) == 0 {
		return nil
	}
	out := make(Args, 0, 2*len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k, m[k])
	}
	return out
}

// Summary is a room as listed on the home page.
type Summary struct {
	Code    string
	Name    string
	Owner   bool
	Visited time.Time
}

// DisplayCode is the code grouped for reading.
func (s Summary) DisplayCode() string { return FormatCode(s.Code) }

// Title is the room's name, or its code when unnamed.
func (s Summary) Title() string {
	if s.Name != "" {
		return s.Name
	}
	return FormatCode(s.Code)
}

// Limits of the chat.
const (
	MaxChatRunes = 2000
	HistoryLines = 200
	MaxNameRunes = 80
)

// Reactions returns the fixed set of emoji members may react with.
func Reactions() []string { return []string{"👍", "❤️", "😂", "😮", "😢", "🎉"} }

func validReaction(e string) bool { return slices.Contains(Reactions(), e) }

// CleanName validates a room name (empty is allowed).
func CleanName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if utf8.RuneCountInString(n) > MaxNameRunes || !utf8.ValidString(n) {
		return "", ErrInvalidName
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", ErrInvalidName
		}
	}
	return n, nil
}
