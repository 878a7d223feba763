// Package syncplay lets native players (mpv, VLC, MPC-HC, IINA) join a room
// through the Syncplay protocol: the stock Syncplay client connects over
// TCP, names the room by its code and gives a member's access token as the
// password; the package maps its messages onto the room's own (a transport
// like engine/room/ws). docs/syncplay.md describes what maps to what.
//
// The protocol is newline-delimited JSON: each line is one object whose keys
// are commands (Hello, Set, State, List, Chat, Error, TLS). This file decodes
// what a client sends and encodes what the server answers; nothing here
// trusts the client.
package syncplay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// ProtocolVersion is the Syncplay version whose protocol the server speaks
// (Debian's client is 1.6.9).
const ProtocolVersion = "1.6.9"

// Field limits. A field over its limit is refused, not cut.
const (
	MaxNameLen     = 150 // user name (bytes)
	MaxRoomLen     = 64  // room name: a room code is 10 characters
	MaxPasswordLen = 512 // an access token
	MaxFileNameLen = 250
	MaxChatLen     = 4096 // the room applies its own, smaller limit
	MaxFiles       = 64   // playlistChange entries
	maxVersionLen  = 32
	maxPosition    = 1e9 // seconds; anything beyond is not a position
)

// Errors of the codec.
var (
	ErrLineTooLong = errors.New("syncplay: line too long")
	ErrBadMessage  = errors.New("syncplay: malformed message")
)

// ClientMessage is one decoded client line. A field is nil when the line
// did not carry that command.
type ClientMessage struct {
	Hello *Hello
	Set   *Set
	State *State
	List  bool
	Chat  *string
	Error *string
	TLS   *string // the startTLS value ("send")
}

// Hello is the client's greeting.
type Hello struct {
	Username string
	Password string
	Room     string
	Version  string // realversion when given, else version
	Features map[string]any
}

// Set carries the settings a client changes.
type Set struct {
	Room           *string // switch to another room
	File           *File
	Ready          *Ready
	PlaylistFiles  []string // playlistChange
	Playlist       bool     // playlistChange was present
	PlaylistIndex  *int
	ControllerAuth bool
	Features       bool
}

// File is what a client says it plays. Name may be a hash and Size a hash
// or a number, depending on the client's privacy settings.
type File struct {
	Name     string  `json:"name"`
	Duration float64 `json:"duration"`
	Size     any     `json:"size"`
}

// Ready is a readiness change.
type Ready struct {
	IsReady           bool
	ManuallyInitiated bool
}

// State is a client's periodic report: its player's position and pause
// state, the latency fields, and the on-the-fly ignore counters.
type State struct {
	HasPlaystate bool
	Position     float64
	Paused       bool
	DoSeek       bool

	// LatencyCalculation echoes the server's timestamp (seconds);
	// ClientLatencyCalculation is the client's own, to echo back.
	LatencyCalculation       float64
	ClientLatencyCalculation float64
	ClientRTT                float64

	IgnoreServer int // ignoringOnTheFly.server: the server count it saw
	IgnoreClient int // ignoringOnTheFly.client: the client's own count
}

// DecodeClient parses one line a client sent (without its line ending).
// Every command must have the shape the protocol gives it; unknown commands
// are refused, as the stock server does.
func DecodeClient(line []byte) (*ClientMessage, error) {
	if !utf8.Valid(line) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrBadMessage)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil || top == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadMessage)
	}
	if len(top) == 0 {
		return nil, fmt.Errorf("%w: no command", ErrBadMessage)
	}
	m := &ClientMessage{}
	for k, raw := range top {
		var err error
		switch k {
		case "Hello":
			m.Hello, err = decodeHello(raw)
		case "Set":
			m.Set, err = decodeSet(raw)
		case "State":
			m.State, err = decodeState(raw)
		case "List":
			m.List = true
		case "Chat":
			m.Chat, err = decodeString(raw, MaxChatLen)
		case "Error":
			var e struct {
				Message *string `json:"message"`
			}
			if err = strict(raw, &e); err == nil {
				s := clip(deref(e.Message), 512)
				m.Error = &s
			}
		case "TLS":
			var t struct {
				StartTLS *string `json:"startTLS"`
			}
			if err = strict(raw, &t); err == nil {
				if t.StartTLS == nil {
					err = errors.New("TLS without startTLS")
				}
				m.TLS = t.StartTLS
			}
		default:
			return nil, fmt.Errorf("%w: unknown command %q", ErrBadMessage, clip(k, 32))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadMessage, k, err)
		}
	}
	return m, nil
}

// strict decodes raw into v; null leaves v as it is.
func strict(raw json.RawMessage, v any) error {
	return json.Unmarshal(raw, v)
}

func decodeString(raw json.RawMessage, n int) (*string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("expected a string")
	}
	if len(s) > n {
		return nil, fmt.Errorf("longer than %d bytes", n)
	}
	return &s, nil
}

func decodeHello(raw json.RawMessage) (*Hello, error) {
	var h struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
		Room     *struct {
			Name *string `json:"name"`
		} `json:"room"`
		Version     *string        `json:"version"`
		RealVersion *string        `json:"realversion"`
		Features    map[string]any `json:"features"`
	}
	if err := strict(raw, &h); err != nil {
		return nil, errors.New("fields of the wrong type")
	}
	out := &Hello{Username: deref(h.Username), Password: deref(h.Password), Version: deref(h.Version), Features: h.Features}
	if h.RealVersion != nil {
		out.Version = *h.RealVersion
	}
	if h.Room != nil {
		out.Room = deref(h.Room.Name)
	}
	switch {
	case len(out.Username) > MaxNameLen:
		return nil, errors.New("user name too long")
	case len(out.Password) > MaxPasswordLen:
		return nil, errors.New("password too long")
	case len(out.Room) > MaxRoomLen:
		return nil, errors.New("room name too long")
	case len(out.Version) > maxVersionLen:
		return nil, errors.New("version too long")
	case len(h.Features) > 64:
		return nil, errors.New("too many features")
	}
	return out, nil
}

func decodeSet(raw json.RawMessage) (*Set, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, errors.New("expected an object")
	}
	s := &Set{}
	for k, v := range top {
		switch k {
		case "room":
			var r struct {
				Name *string `json:"name"`
			}
			if err := strict(v, &r); err != nil || r.Name == nil || len(*r.Name) > MaxRoomLen {
				return nil, errors.New("room: expected a name")
			}
			s.Room = r.Name
		case "file":
			var f File
			if err := strict(v, &f); err != nil {
				return nil, errors.New("file: fields of the wrong type")
			}
			switch f.Size.(type) {
			case nil, float64, string:
			default:
				return nil, errors.New("file: size must be a number or a string")
			}
			if str, ok := f.Size.(string); ok && len(str) > 128 {
				return nil, errors.New("file: size too long")
			}
			if len(f.Name) > MaxFileNameLen*4 || !finite(f.Duration) {
				return nil, errors.New("file: name too long or bad duration")
			}
			f.Name = clip(f.Name, MaxFileNameLen)
			s.File = &f
		case "ready":
			var r struct {
				IsReady           *bool `json:"isReady"`
				ManuallyInitiated *bool `json:"manuallyInitiated"`
			}
			if err := strict(v, &r); err != nil {
				return nil, errors.New("ready: fields of the wrong type")
			}
			s.Ready = &Ready{IsReady: r.IsReady != nil && *r.IsReady, ManuallyInitiated: r.ManuallyInitiated != nil && *r.ManuallyInitiated}
		case "playlistChange":
			var p struct {
				Files []string `json:"files"`
			}
			if err := strict(v, &p); err != nil || len(p.Files) > MaxFiles {
				return nil, errors.New("playlistChange: expected at most 64 file names")
			}
			for i, f := range p.Files {
				p.Files[i] = clip(f, MaxFileNameLen)
			}
			s.PlaylistFiles, s.Playlist = p.Files, true
		case "playlistIndex":
			var p struct {
				Index *int `json:"index"`
			}
			if err := strict(v, &p); err != nil {
				return nil, errors.New("playlistIndex: expected an index")
			}
			s.PlaylistIndex = p.Index
		case "controllerAuth":
			s.ControllerAuth = true
		case "features":
			s.Features = true
		default:
			return nil, fmt.Errorf("unknown setting %q", clip(k, 32))
		}
	}
	return s, nil
}

func decodeState(raw json.RawMessage) (*State, error) {
	var st struct {
		Playstate *struct {
			Position *float64 `json:"position"`
			Paused   *bool    `json:"paused"`
			DoSeek   *bool    `json:"doSeek"`
		} `json:"playstate"`
		Ping *struct {
			LatencyCalculation       *float64 `json:"latencyCalculation"`
			ClientLatencyCalculation *float64 `json:"clientLatencyCalculation"`
			ClientRTT                *float64 `json:"clientRtt"`
		} `json:"ping"`
		Ignoring *struct {
			Server *int `json:"server"`
			Client *int `json:"client"`
		} `json:"ignoringOnTheFly"`
	}
	if err := strict(raw, &st); err != nil {
		return nil, errors.New("fields of the wrong type")
	}
	s := &State{}
	if p := st.Playstate; p != nil && p.Position != nil && p.Paused != nil {
		s.HasPlaystate = true
		s.Position, s.Paused = *p.Position, *p.Paused
		s.DoSeek = p.DoSeek != nil && *p.DoSeek
		if !finite(s.Position) || s.Position < -1 || s.Position > maxPosition {
			return nil, errors.New("position out of range")
		}
		s.Position = max(s.Position, 0)
	}
	if p := st.Ping; p != nil {
		s.LatencyCalculation = derefF(p.LatencyCalculation)
		s.ClientLatencyCalculation = derefF(p.ClientLatencyCalculation)
		s.ClientRTT = derefF(p.ClientRTT)
		if !finite(s.LatencyCalculation) || !finite(s.ClientLatencyCalculation) || !finite(s.ClientRTT) {
			return nil, errors.New("ping out of range")
		}
	}
	if ig := st.Ignoring; ig != nil {
		if ig.Server != nil {
			s.IgnoreServer = *ig.Server
		}
		if ig.Client != nil {
			s.IgnoreClient = *ig.Client
		}
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefF(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// finite reports whether f is a usable number (JSON cannot carry NaN, but
// 1e400 decodes to an error and 1e308 to a number that overflows sums).
func finite(f float64) bool { return !math.IsNaN(f) && math.Abs(f) < 1e15 }

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ---- lines ----

// LineReader reads newline-terminated lines of at most max bytes. A longer
// line is an error (ErrLineTooLong), never buffered whole.
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewLineReader reads lines of at most limit bytes from r.
func NewLineReader(r io.Reader, limit int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 4096), max: limit}
}

// ReadLine returns the next line without its "\n" or "\r\n". The slice is
// valid until the next call.
func (l *LineReader) ReadLine() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(l.buf)+len(chunk) > l.max+2 {
			return nil, ErrLineTooLong
		}
		l.buf = append(l.buf, chunk...)
		switch {
		case err == nil:
			line := bytes.TrimSuffix(l.buf[:len(l.buf)-1], []byte{'\r'})
			if len(line) > l.max {
				return nil, ErrLineTooLong
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(l.buf) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// ---- server messages ----

// Encode marshals one server message as a protocol line ("\r\n"
// terminated: the client splits on it).
func Encode(cmd string, v any) []byte {
	b, err := json.Marshal(map[string]any{cmd: v})
	if err != nil {
		b, _ = json.Marshal(map[string]any{"Error": map[string]string{"message": "the server could not encode a message"}})
	}
	return append(b, '\r', '\n')
}

// ServerHello is the server's answer to Hello.
type ServerHello struct {
	Username    string         `json:"username"`
	Room        RoomName       `json:"room"`
	Version     string         `json:"version"`
	RealVersion string         `json:"realversion"`
	MOTD        string         `json:"motd"`
	Features    ServerFeatures `json:"features"`
}

// RoomName is the protocol's {"name": ...}.
type RoomName struct {
	Name string `json:"name"`
}

// ServerFeatures tells the client what the server supports.
type ServerFeatures struct {
	IsolateRooms         bool `json:"isolateRooms"`
	SharedPlaylists      bool `json:"sharedPlaylists"`
	Readiness            bool `json:"readiness"`
	ManagedRooms         bool `json:"managedRooms"`
	Chat                 bool `json:"chat"`
	MaxChatMessageLength int  `json:"maxChatMessageLength"`
	MaxUsernameLength    int  `json:"maxUsernameLength"`
	MaxRoomNameLength    int  `json:"maxRoomNameLength"`
	MaxFilenameLength    int  `json:"maxFilenameLength"`
}

// ServerState is the server's State.
type ServerState struct {
	Playstate Playstate         `json:"playstate"`
	Ping      Ping              `json:"ping"`
	Ignoring  *IgnoringOnTheFly `json:"ignoringOnTheFly,omitempty"`
}

// Playstate is the room's playback as the protocol expresses it.
type Playstate struct {
	Position float64 `json:"position"`
	Paused   bool    `json:"paused"`
	DoSeek   bool    `json:"doSeek"`
	SetBy    *string `json:"setBy"`
}

// Ping carries the latency fields: the server's timestamp for the client
// to echo, the server's round-trip estimate, and the client's timestamp
// echoed back (plus the time the server held it).
type Ping struct {
	LatencyCalculation       float64  `json:"latencyCalculation"`
	ServerRTT                float64  `json:"serverRtt"`
	ClientLatencyCalculation *float64 `json:"clientLatencyCalculation,omitempty"`
}

// IgnoringOnTheFly are the counters that let both sides ignore reports
// sent before a forced change reached the other side.
type IgnoringOnTheFly struct {
	Server int `json:"server,omitempty"`
	Client int `json:"client,omitempty"`
}

// ListUser is one user in the List answer.
type ListUser struct {
	Position   float64        `json:"position"`
	File       any            `json:"file"`
	Controller bool           `json:"controller"`
	IsReady    bool           `json:"isReady"`
	Features   map[string]any `json:"features"`
}

// UserEvent is the Set "user" entry announcing a join, a leave or a file.
type UserEvent struct {
	Room  RoomName        `json:"room"`
	File  *File           `json:"file,omitempty"`
	Event map[string]bool `json:"event,omitempty"`
}

// ChatOut is a chat line the server sends.
type ChatOut struct {
	Username string `json:"username"`
	Message  string `json:"message"`
}

// ErrorLine encodes an Error message; the client shows it and disconnects.
func ErrorLine(text string) []byte {
	return Encode("Error", map[string]string{"message": text})
}
