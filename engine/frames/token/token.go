// Package token issues and checks the signed, expiring tokens that admit a
// connection to a room's frame stream. A token is bound to one room and one
// role and names a subject (the member it was issued to).
//
// Format: "1." + base64url(payload) + "." + base64url(HMAC-SHA256(key, label || payload))
// where payload is the room, role and subject as length-prefixed strings
// followed by the expiry in unix seconds (8 bytes, big endian).
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the token format version written by Issue.
const Version = "1"

// MinKeyLen is the shortest secret key NewSigner accepts.
const MinKeyLen = 16

// MaxLen is the longest token Verify looks at.
const MaxLen = 512

// MaxField is the longest room, role or subject a token can carry.
const MaxField = 128

const label = "watchparty/frames/token/v1\x00"

// Errors returned by Verify. Every refusal wraps exactly one of them.
var (
	ErrBadToken   = errors.New("token: invalid token")
	ErrExpired    = errors.New("token: expired")
	ErrWrongRoom  = errors.New("token: issued for another room")
	ErrWrongRole  = errors.New("token: issued for another role")
	ErrBadVersion = errors.New("token: unsupported token version")
	ErrShortKey   = errors.New("token: key too short")
)

// Signer issues and verifies tokens with one secret key. It is safe for
// concurrent use.
type Signer struct {
	key []byte
	now func() time.Time
}

// NewSigner returns a Signer for key, which must be at least MinKeyLen bytes
// (32 random bytes kept in the server's store is the intended use). The key
// is copied.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("%w: %d bytes, need %d", ErrShortKey, len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...), now: time.Now}, nil
}

// Issue returns a token admitting subject to room in role for ttl from now.
// Fields longer than MaxField bytes are cut; such a token still verifies only
// for the cut room and role, so callers should pass valid room codes.
func (s *Signer) Issue(room, role, subject string, ttl time.Duration) string {
	return s.issueAt(room, role, subject, s.now().Add(ttl))
}

func (s *Signer) issueAt(room, role, subject string, exp time.Time) string {
	payload := make([]byte, 0, 3+len(room)+len(role)+len(subject)+8)
	for _, f := range []string{room, role, subject} {
		if len(f) > MaxField {
			f = f[:MaxField]
		}
		payload = append(payload, byte(len(f)))
		payload = append(payload, f...)
	}
	payload = binary.BigEndian.AppendUint64(payload, uint64(exp.Unix()))
	enc := base64.RawURLEncoding.Strict()
	return Version + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	m.Write(payload)
	return m.Sum(nil)
}

// Verify checks tok for room and role at time now and returns the subject it
// was issued to. The signature is checked (in constant time) before any field
// is trusted, so a forged token only ever yields ErrBadToken.
func (s *Signer) Verify(tok, room, role string, now time.Time) (string, error) {
	if len(tok) > MaxLen {
		return "", fmt.Errorf("%w: too long", ErrBadToken)
	}
	ver, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return "", fmt.Errorf("%w: no version", ErrBadToken)
	}
	if ver != Version {
		return "", fmt.Errorf("%w: %q", ErrBadVersion, clip(ver))
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok {
		return "", fmt.Errorf("%w: missing signature", ErrBadToken)
	}
	// The decoder skips CR and LF even in strict mode: without this check
	// one token would have many spellings.
	if strings.ContainsAny(rest, "\r\n") {
		return "", fmt.Errorf("%w: line breaks", ErrBadToken)
	}
	enc := base64.RawURLEncoding.Strict()
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return "", fmt.Errorf("%w: payload encoding", ErrBadToken)
	}
	sig, err := enc.DecodeString(m64)
	if err != nil {
		return "", fmt.Errorf("%w: signature encoding", ErrBadToken)
	}
	if !hmac.Equal(sig, s.mac(payload)) {
		return "", fmt.Errorf("%w: signature mismatch", ErrBadToken)
	}
	var fields [3]string
	b := payload
	for i := range fields {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return "", fmt.Errorf("%w: truncated payload", ErrBadToken)
		}
		fields[i] = string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if len(b) != 8 {
		return "", fmt.Errorf("%w: bad payload length", ErrBadToken)
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	if fields[0] != room {
		return "", fmt.Errorf("%w: token room %q", ErrWrongRoom, fields[0])
	}
	if fields[1] != role {
		return "", fmt.Errorf("%w: token role %q", ErrWrongRole, fields[1])
	}
	if !now.Before(exp) {
		return "", fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	return fields[2], nil
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}
