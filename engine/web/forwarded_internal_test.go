package web

import "testing"

func TestClientFromForwarded(t *testing.T) {
	ps := parseProxies([]string{"127.0.0.1", "10.0.0.0/8", "::1"})
	tests := []struct {
		name, header, want string
	}{
		{"one hop", "203.0.113.9", "203.0.113.9"},
		{"forged left of the real client", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
		{"our proxies on the right are skipped", "6.6.6.6, 203.0.113.9, 10.1.2.3, 127.0.0.1", "203.0.113.9"},
		{"only our proxies: the leftmost of them", "10.0.0.5, 127.0.0.1", "10.0.0.5"},
		{"malformed hop stops the walk", "203.0.113.9, junk, 10.1.2.3", "10.1.2.3"},
		{"spaces and v4-mapped", " ::ffff:198.51.100.7 ", "198.51.100.7"},
		{"v6 client", "2001:db8::7, ::1", "2001:db8::7"},
		{"nothing usable", "junk", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ps.clientFromForwarded(tt.header); got != tt.want {
				t.Errorf("clientFromForwarded(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
