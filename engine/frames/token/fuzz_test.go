package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: Verify never panics on any string, accepts only tokens this
// signer issued, and refuses everything else with one of the package's
// errors.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	good := s.issueAt("ABCDEFGHJK", "viewer", "u_1", now.Add(time.Minute))
	f.Add(good, "ABCDEFGHJK", "viewer")
	f.Add(good, "ABCDEFGHJK", "publisher")
	f.Add(good+"x", "ABCDEFGHJK", "viewer")
	f.Add(strings.Replace(good, ".", "", 1), "ABCDEFGHJK", "viewer")
	f.Add("", "", "")
	f.Add("v1.", "R", "viewer")
	f.Add("v9.AAAA.BBBB", "R", "viewer")
	f.Add(strings.Repeat("A", 5000), "R", "viewer")
	f.Fuzz(func(t *testing.T, tok, room, role string) {
		subject, err := s.Verify(tok, room, role, now)
		if err == nil {
			if tok != good || room != "ABCDEFGHJK" || role != "viewer" || subject != "u_1" {
				t.Fatalf("accepted %q for room %q role %q (subject %q)", tok, room, role, subject)
			}
			return
		}
		for _, want := range []error{ErrBadToken, ErrExpired, ErrWrongRoom, ErrWrongRole, ErrBadVersion} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}
