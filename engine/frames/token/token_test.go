package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := NewSigner(key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSigner([]byte("fedcba9876543210fedcba9876543210"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := s.Issue("ROOM1", "viewer", "alice", 7, time.Minute)
	// A token signed with the right key but an expiry 70 years ahead, as
	// an old build or a restored backup's key could have made (issue 11.16).
	forever := s.issueAt("ROOM1", "viewer", "alice", 7, now.Add(70*365*24*time.Hour))
	// Issue never signs one longer than the lifetime.
	clamped := s.Issue("ROOM1", "viewer", "alice", 7, 70*365*24*time.Hour)
	tests := []struct {
		name  string
		tok   string
		room  string
		role  string
		now   time.Time
		want  error
		subj  string
		valid bool
	}{
		{name: "good", tok: good, room: "ROOM1", role: "viewer", now: now, subj: "alice", valid: true},
		{name: "clamped to the lifetime", tok: clamped, room: "ROOM1", role: "viewer", now: now, subj: "alice", valid: true},
		{name: "clamped one expires", tok: clamped, room: "ROOM1", role: "viewer", now: now.Add(time.Hour + time.Second), want: ErrExpired},
		{name: "70-year expiry", tok: forever, room: "ROOM1", role: "viewer", now: now, want: ErrLifetime},
		{name: "expired", tok: good, room: "ROOM1", role: "viewer", now: now.Add(2 * time.Minute), want: ErrExpired},
		{name: "wrong room", tok: good, room: "ROOM2", role: "viewer", now: now, want: ErrWrongRoom},
		{name: "wrong role", tok: good, room: "ROOM1", role: "publisher", now: now, want: ErrWrongRole},
		{name: "other key", tok: other.Issue("ROOM1", "viewer", "alice", 7, time.Minute), room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
		{name: "bad version", tok: "1" + good[1:], room: "ROOM1", role: "viewer", now: now, want: ErrBadVersion},
		{name: "garbage", tok: "hello", room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
		{name: "empty", tok: "", room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
		{name: "flipped signature", tok: flipLast(good), room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
		{name: "too long", tok: "2." + strings.Repeat("A", MaxLen), room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
		{name: "no signature", tok: strings.Join(strings.Split(good, ".")[:2], "."), room: "ROOM1", role: "viewer", now: now, want: ErrBadToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Verify(tc.tok, tc.room, tc.role, tc.now)
			if tc.valid {
				if err != nil || c.Subject != tc.subj || c.Epoch != 7 || c.Room != tc.room || c.Role != tc.role {
					t.Fatalf("Verify = %+v, %v; want subject %q, epoch 7", c, err, tc.subj)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

// flipLast changes the last character of the signature in every bit: with
// strict decoding the token must be refused whatever the change.
func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'w' {
		b[len(b)-1] = 'g'
	} else {
		b[len(b)-1] = 'w'
	}
	return string(b)
}

func TestShortKey(t *testing.T) {
	if _, err := NewSigner([]byte("short"), 0); !errors.Is(err, ErrShortKey) {
		t.Fatalf("NewSigner(short) error = %v", err)
	}
}

func TestTokenFitsHandshake(t *testing.T) {
	s, err := NewSigner(make([]byte, 32), 0)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Issue(strings.Repeat("r", 64), "publisher", strings.Repeat("s", MaxField), ^uint64(0), time.Hour)
	if len(tok) > MaxLen {
		t.Fatalf("token of %d bytes exceeds %d", len(tok), MaxLen)
	}
	for _, c := range tok {
		if c <= ' ' || c >= 0x7f {
			t.Fatalf("token has byte %q", c)
		}
	}
}
