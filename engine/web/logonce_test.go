package web

import (
	"testing"
	"time"
)

func TestRefusalsLogOncePerWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	r := &refusals{now: func() time.Time { return now }}
	tests := []struct {
		name      string
		advance   time.Duration
		kind, ip  string
		wantLog   bool
		wantTally int
	}{
		{name: "first", kind: "csrf", ip: "1.2.3.4", wantLog: true},
		{name: "repeat", kind: "csrf", ip: "1.2.3.4"},
		{name: "repeat again", advance: 30 * time.Second, kind: "csrf", ip: "1.2.3.4"},
		{name: "other kind", kind: "login", ip: "1.2.3.4", wantLog: true},
		{name: "other address", kind: "csrf", ip: "5.6.7.8", wantLog: true},
		{name: "after the window", advance: 31 * time.Second, kind: "csrf", ip: "1.2.3.4", wantLog: true, wantTally: 2},
		{name: "quiet again", kind: "csrf", ip: "1.2.3.4"},
	}
	for _, tc := range tests {
		now = now.Add(tc.advance)
		ok, n := r.take(tc.kind, tc.ip)
		if ok != tc.wantLog || n != tc.wantTally {
			t.Fatalf("%s: take = %v, %d; want %v, %d", tc.name, ok, n, tc.wantLog, tc.wantTally)
		}
	}
	// The table is bounded.
	for i := range maxRefusalKeys + 10 {
		r.take("flood", string(rune(i)))
	}
	if len(r.seen) > maxRefusalKeys {
		t.Fatalf("%d keys kept, want at most %d", len(r.seen), maxRefusalKeys)
	}
}
