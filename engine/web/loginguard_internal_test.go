package web

import (
	"strings"
	"testing"
)

// FuzzDeviceCookie: a device cookie from a client never panics the server
// and is never taken for a known device unless it carries the MAC the
// server made for that email and id.
func FuzzDeviceCookie(f *testing.F) {
	s := &Server{secret: []byte("0123456789abcdef0123456789abcdef")}
	good := "AAAAAAAAAAAAAAAAAAAAAA." + s.deviceMAC("ann@example.org", "AAAAAAAAAAAAAAAAAAAAAA")
	for _, v := range []string{good, good + "~" + good, "x.y", "~", "", strings.Repeat("a.", 150), "AAAAAAAAAAAAAAAAAAAAAA.forged"} {
		f.Add(v, "ann@example.org")
	}
	f.Fuzz(func(t *testing.T, v, email string) {
		id, ok := deviceFor(v, email, s.deviceMAC)
		if !ok {
			return
		}
		if !strings.Contains(v, id+"."+s.deviceMAC(email, id)) {
			t.Fatalf("%q accepted for %q without the server's MAC", v, email)
		}
	})
}
