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
	s, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	good := s.issueAt("ABCDEFGHJK", "viewer", "u_1", 3, now.Add(time.Minute))
	forever := s.issueAt("ABCDEFGHJK", "viewer", "u_1", 3, now.Add(70*365*24*time.Hour))
	f.Add(good, "ABCDEFGHJK", "viewer")
	f.Add(good, "ABCDEFGHJK", "publisher")
	f.Add(good+"x", "ABCDEFGHJK", "viewer")
	f.Add(strings.Replace(good, ".", "", 1), "ABCDEFGHJK", "viewer")
	f.Add(forever, "ABCDEFGHJK", "viewer")
	f.Add("", "", "")
	f.Add("v1.", "R", "viewer")
	f.Add("v9.AAAA.BBBB", "R", "viewer")
	f.Add(strings.Repeat("A", 5000), "R", "viewer")
	f.Fuzz(func(t *testing.T, tok, room, role string) {
		c, err := s.Verify(tok, room, role, now)
		if err == nil {
			if tok != good || room != "ABCDEFGHJK" || role != "viewer" || c.Subject != "u_1" || c.Epoch != 3 {
				t.Fatalf("accepted %q for room %q role %q (%+v)", tok, room, role, c)
			}
			return
		}
		for _, want := range []error{ErrBadToken, ErrExpired, ErrWrongRoom, ErrWrongRole, ErrBadVersion, ErrLifetime} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}
