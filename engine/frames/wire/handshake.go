package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Role is what a connection does in a room's stream.
type Role string

// Roles.
const (
	RoleViewer    Role = "viewer"
	RolePublisher Role = "publisher"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleViewer || r == RolePublisher }

// Limits of handshake fields.
const (
	MaxRoomLen  = 64
	MaxTokenLen = 512
)

// Refusal codes sent in an "ERR code reason" handshake reply.
const (
	RefuseBadRequest     = "bad-request"
	RefuseBadVersion     = "bad-version"
	RefuseLineTooLong    = "line-too-long"
	RefuseTimeout        = "timeout"
	RefuseBadToken       = "bad-token"
	RefuseExpired        = "expired"
	RefuseWrongRoom      = "wrong-room"
	RefuseWrongRole      = "wrong-role"
	RefuseFull           = "full"
	RefuseBusy           = "busy"
	RefuseTooManyConns   = "too-many-connections"
	RefuseUnavailable    = "unavailable"
	RefuseRevoked        = "revoked"
	RefuseForbidden      = "forbidden"
	RefuseTooManyStreams = "too-many-streams"
	RefuseInternal       = "internal"
)

// ErrRefused matches every RefusedError with errors.Is.
var ErrRefused = errors.New("wire: handshake refused")

// RefusedError is a server's "ERR" reply as seen by a client.
type RefusedError struct {
	Code   string
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "refused: " + e.Code
	}
	return "refused: " + e.Code + ": " + e.Reason
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Hello is the client's handshake line:
//
//	WPFRAMES/<version> SP <role> SP <room> SP <token> LF
type Hello struct {
	Version int
	Role    Role
	Room    string
	Token   string
}

// String returns the handshake line including its newline.
func (h Hello) String() string {
	return Magic + "/" + strconv.Itoa(h.Version) + " " + string(h.Role) + " " + h.Room + " " + h.Token + "\n"
}

// Check validates the fields of h for this version of the protocol.
func (h Hello) Check() error {
	if h.Version != Version {
		return fmt.Errorf("%w: %d", ErrBadVersion, h.Version)
	}
	if !h.Role.Valid() {
		return fmt.Errorf("%w: %q", ErrBadRole, clip(string(h.Role), 32))
	}
	if !ValidRoom(h.Room) {
		return ErrBadRoom
	}
	if !validToken(h.Token) {
		return fmt.Errorf("%w: bad token field", ErrBadHandshake)
	}
	return nil
}

// ValidRoom reports whether room is a usable room code: 1 to MaxRoomLen
// characters from A-Z, a-z, 0-9, '-' and '_'.
func ValidRoom(room string) bool {
	if room == "" || len(room) > MaxRoomLen {
		return false
	}
	for i := 0; i < len(room); i++ {
		c := room[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validToken(tok string) bool {
	if tok == "" || len(tok) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] >= 0x7f {
			return false
		}
	}
	return true
}

// ParseHello parses a handshake line (without or with its trailing newline).
// A line that names another protocol version yields ErrBadVersion with the
// version filled in, so the server can answer "ERR bad-version".
func ParseHello(line []byte) (Hello, error) {
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	fields := strings.Split(s, " ")
	var h Hello
	proto, ver, ok := strings.Cut(fields[0], "/")
	if !ok || proto != Magic {
		return h, fmt.Errorf("%w: does not start with %s/", ErrBadHandshake, Magic)
	}
	v, err := strconv.Atoi(ver)
	if err != nil || v < 0 || len(ver) > 4 {
		return h, fmt.Errorf("%w: version %q", ErrBadHandshake, clip(ver, 16))
	}
	h.Version = v
	if v != Version {
		return h, fmt.Errorf("%w: %d", ErrBadVersion, v)
	}
	if len(fields) != 4 {
		return h, fmt.Errorf("%w: want 4 fields, got %d", ErrBadHandshake, len(fields))
	}
	h.Role, h.Room, h.Token = Role(fields[1]), fields[2], fields[3]
	return h, h.Check()
}

// ReadLine reads one line of at most limit bytes (newline included) and
// returns it without the newline. It never buffers more than the reader's own
// buffer; a longer line yields ErrLineTooLong.
func ReadLine(r *bufio.Reader, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = MaxHandshakeLine
	}
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			return nil, ErrLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, unexpected(err)
		}
	}
}

// Reply is the server's answer to a handshake: "OK" with key=value
// parameters, or "ERR code reason".
type Reply struct {
	OK     bool
	Params map[string]string // OK only
	Code   string            // ERR only
	Reason string            // ERR only
}

// Reply parameter names.
const (
	ParamHeartbeatMS = "heartbeat_ms"
	ParamMaxPayload  = "max_payload"
	ParamTimeoutMS   = "timeout_ms"
)

// WriteOK writes "OK WPFRAMES/1 k=v ...\n" with the keys sorted.
func WriteOK(w io.Writer, params map[string]string) error {
	var b strings.Builder
	b.WriteString("OK ")
	b.WriteString(Magic + "/" + strconv.Itoa(Version))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(" " + k + "=" + params[k])
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, clip(b.String(), MaxHandshakeLine))
	return err
}

// WriteErr writes "ERR code reason\n". The reason is made single-line and
// clipped so the line fits MaxHandshakeLine.
func WriteErr(w io.Writer, code, reason string) error {
	reason = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, reason)
	line := clip("ERR "+code+" "+reason, MaxHandshakeLine-1) + "\n"
	_, err := io.WriteString(w, line)
	return err
}

// ParseReply parses a server reply line. An ERR reply is returned both as
// the Reply and as a *RefusedError.
func ParseReply(line []byte) (Reply, error) {
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	head, rest, _ := strings.Cut(s, " ")
	switch head {
	case "OK":
		fields := strings.Fields(rest)
		if len(fields) == 0 || fields[0] != Magic+"/"+strconv.Itoa(Version) {
			return Reply{}, fmt.Errorf("%w: reply names another version", ErrBadVersion)
		}
		r := Reply{OK: true, Params: make(map[string]string, len(fields)-1)}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			r.Params[k] = v
		}
		return r, nil
	case "ERR":
		code, reason, _ := strings.Cut(rest, " ")
		if code == "" {
			return Reply{}, fmt.Errorf("%w: ERR without a code", ErrBadHandshake)
		}
		r := Reply{Code: code, Reason: reason}
		return r, &RefusedError{Code: code, Reason: reason}
	default:
		return Reply{}, fmt.Errorf("%w: reply %q", ErrBadHandshake, clip(s, 32))
	}
}

// ParamInt returns an integer parameter of an OK reply, or def.
func (r Reply) ParamInt(name string, def int) int {
	v, err := strconv.Atoi(r.Params[name])
	if err != nil || v < 0 {
		return def
	}
	return v
}
