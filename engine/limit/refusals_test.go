package limit

import (
	"testing"
	"time"
)

func TestRefusalsLogOncePerWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	r := &Refusals{Now: func() time.Time { return now }}
	tests := []struct {
		name      string
		advance   time.Duration
		key       string
		wantLog   bool
		wantTally int
	}{
		{name: "first", key: "csrf 1.2.3.4", wantLog: true},
		{name: "repeat", key: "csrf 1.2.3.4"},
		{name: "repeat again", advance: 30 * time.Second, key: "csrf 1.2.3.4"},
		{name: "other kind", key: "login 1.2.3.4", wantLog: true},
		{name: "other address", key: "csrf 5.6.7.8", wantLog: true},
		{name: "after the window", advance: 31 * time.Second, key: "csrf 1.2.3.4", wantLog: true, wantTally: 2},
		{name: "quiet again", key: "csrf 1.2.3.4"},
	}
	for _, tc := range tests {
		now = now.Add(tc.advance)
		ok, n := r.Take(tc.key)
		if ok != tc.wantLog || n != tc.wantTally {
			t.Fatalf("%s: Take = %v, %d; want %v, %d", tc.name, ok, n, tc.wantLog, tc.wantTally)
		}
	}
	// The table is bounded.
	for i := range MaxRefusalKeys + 10 {
		r.Take(string(rune(i)))
	}
	if len(r.seen) > MaxRefusalKeys {
		t.Fatalf("%d keys kept, want at most %d", len(r.seen), MaxRefusalKeys)
	}
}
