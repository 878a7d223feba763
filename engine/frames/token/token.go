// Package token issues and checks the signed, expiring tokens that admit a
// connection to a room's frame stream. A token is bound to one room and one
// role, names a subject (the member it was issued to) and carries the
// revocation epoch of that member in that room when it was issued: a caller
// that keeps epochs refuses tokens from before a revocation.
//
// Format: "2." + base64url(payload) + "." + base64url(HMAC-SHA256(key, label || payload))
// where payload is the room, role and subject as length-prefixed strings
// followed by the epoch and the expiry in unix seconds (8 bytes each, big
// endian). A token never lives longer than the signer's maximum lifetime:
// Issue clamps to it and Verify refuses a token whose expiry lies further
// ahead, so a token made with a stolen or restored key cannot be made to
// last.
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
const Version = "2"

// MinKeyLen is the shortest secret key NewSigner accepts.
const MinKeyLen = 16

// MaxLen is the longest token Verify looks at.
const MaxLen = 512

// MaxField is the longest room, role or subject a token can carry.
const MaxField = 128

// DefaultMaxTTL is the longest lifetime of a token when NewSigner is given
// none.
const DefaultMaxTTL = time.Hour

// clockSlack is how far beyond the maximum lifetime an expiry may lie, for
// clocks that stepped back a little since the token was issued.
const clockSlack = time.Minute

const label = "watchparty/frames/token/v2\x00"

// Errors returned by Verify. Every refusal wraps exactly one of them.
var (
	ErrBadToken   = errors.New("token: invalid token")
	ErrExpired    = errors.New("token: expired")
	ErrWrongRoom  = errors.New("token: issued for another room")
	ErrWrongRole  = errors.New("token: issued for another role")
	ErrBadVersion = errors.New("token: unsupported token version")
	ErrShortKey   = errors.New("token: key too short")
	ErrLifetime   = errors.New("token: expiry beyond the longest token lifetime")
)

// Claims are what a valid token says.
type Claims struct {
	Room    string
	Role    string
	Subject string
	Epoch   uint64
	Expires time.Time
}

// Signer issues and verifies tokens with one secret key. It is safe for
// concurrent use.
type Signer struct {
	key    []byte
	maxTTL time.Duration
	now    func() time.Time
}

// NewSigner returns a Signer for key, which must be at least MinKeyLen bytes
// (32 random bytes kept in the server's store is the intended use), whose
// tokens live at most maxTTL (DefaultMaxTTL when 0 or less). The key is
// copied.
func NewSigner(key []byte, maxTTL time.Duration) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("%w: %d bytes, need %d", ErrShortKey, len(key), MinKeyLen)
	}
	if maxTTL <= 0 {
		maxTTL = DefaultMaxTTL
	}
	return &Signer{key: append([]byte(nil), key...), maxTTL: maxTTL, now: time.Now}, nil
}

// MaxTTL returns the longest lifetime of the signer's tokens.
func (s *Signer) MaxTTL() time.Duration { return s.maxTTL }

// Issue returns a token admitting subject to room in role for ttl from now
// (at most the signer's maximum lifetime), carrying epoch. Fields longer
// than MaxField bytes are cut; such a token still verifies only for the cut
// room and role, so callers should pass valid room codes.
func (s *Signer) Issue(room, role, subject string, epoch uint64, ttl time.Duration) string {
	return s.issueAt(room, role, subject, epoch, s.now().Add(min(ttl, s.maxTTL)))
}

func (s *Signer) issueAt(room, role, subject string, epoch uint64, exp time.Time) string {
	payload := make([]byte, 0, 3+len(room)+len(role)+len(subject)+16)
	for _, f := range []string{room, role, subject} {
		if len(f) > MaxField {
			f = f[:MaxField]
		}
		payload = append(payload, byte(len(f)))
		payload = append(payload, f...)
	}
	payload = binary.BigEndian.AppendUint64(payload, epoch)
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

// Verify checks tok for room and role at time now and returns what it
// says. The signature is checked (in constant time) before any field is
// trusted, so a forged token only ever yields ErrBadToken. A token whose
// expiry lies further ahead than the signer's maximum lifetime is refused
// with ErrLifetime.
func (s *Signer) Verify(tok, room, role string, now time.Time) (Claims, error) {
	var no Claims
	if len(tok) > MaxLen {
		return no, fmt.Errorf("%w: too long", ErrBadToken)
	}
	ver, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return no, fmt.Errorf("%w: no version", ErrBadToken)
	}
	if ver != Version {
		return no, fmt.Errorf("%w: %q", ErrBadVersion, clip(ver))
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok {
		return no, fmt.Errorf("%w: missing signature", ErrBadToken)
	}
	// The decoder skips CR and LF even in strict mode: without this check
	// one token would have many spellings.
	if strings.ContainsAny(rest, "\r\n") {
		return no, fmt.Errorf("%w: line breaks", ErrBadToken)
	}
	enc := base64.RawURLEncoding.Strict()
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return no, fmt.Errorf("%w: payload encoding", ErrBadToken)
	}
	sig, err := enc.DecodeString(m64)
	if err != nil {
		return no, fmt.Errorf("%w: signature encoding", ErrBadToken)
	}
	if !hmac.Equal(sig, s.mac(payload)) {
		return no, fmt.Errorf("%w: signature mismatch", ErrBadToken)
	}
	var fields [3]string
	b := payload
	for i := range fields {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return no, fmt.Errorf("%w: truncated payload", ErrBadToken)
		}
		fields[i] = string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if len(b) != 16 {
		return no, fmt.Errorf("%w: bad payload length", ErrBadToken)
	}
	epoch := binary.BigEndian.Uint64(b)
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[8:])), 0)
	if fields[0] != room {
		return no, fmt.Errorf("%w: token room %q", ErrWrongRoom, fields[0])
	}
	if fields[1] != role {
		return no, fmt.Errorf("%w: token role %q", ErrWrongRole, fields[1])
	}
	if !now.Before(exp) {
		return no, fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if exp.Sub(now) > s.maxTTL+clockSlack {
		return no, fmt.Errorf("%w: expires %s, more than %s ahead", ErrLifetime, exp.UTC().Format(time.RFC3339), s.maxTTL)
	}
	return Claims{Room: fields[0], Role: fields[1], Subject: fields[2], Epoch: epoch, Expires: exp}, nil
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}
