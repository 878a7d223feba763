package app

import (
	"net/netip"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		public bool
	}{
		{"public v4", "93.184.216.34", true},
		{"public v6", "2606:2800:220:1:248:1893:25c8:1946", true},
		{"loopback v4", "127.0.0.1", false},
		{"loopback range", "127.8.9.10", false},
		{"loopback v6", "::1", false},
		{"private 10/8", "10.1.2.3", false},
		{"private 172.16/12", "172.20.0.1", false},
		{"private 192.168/16", "192.168.1.1", false},
		{"link-local v4 (cloud metadata)", "169.254.169.254", false},
		{"link-local v6", "fe80::1", false},
		{"unique local v6", "fd00::1", false},
		{"carrier-grade NAT", "100.64.0.1", false},
		{"unspecified", "0.0.0.0", false},
		{"this network", "0.1.2.3", false},
		{"multicast", "224.0.0.1", false},
		{"v4-mapped loopback", "::ffff:127.0.0.1", false},
		{"v4-mapped public", "::ffff:93.184.216.34", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publicAddr(netip.MustParseAddr(tt.addr)); got != tt.public {
				t.Errorf("publicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
			}
		})
	}
}
