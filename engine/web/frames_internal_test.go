package web

import "testing"

func TestPublicFrameAddr(t *testing.T) {
	tests := []struct {
		name, listen, host, want string
	}{
		{name: "off", listen: "", host: "example.org", want: ""},
		{name: "every interface", listen: ":9100", host: "watch.example.org", want: "watch.example.org:9100"},
		{name: "every interface, host with port", listen: "0.0.0.0:9100", host: "watch.example.org:8080", want: "watch.example.org:9100"},
		{name: "IPv6 any, IPv6 host", listen: "[::]:9100", host: "[2001:db8::1]:443", want: "[2001:db8::1]:9100"},
		{name: "a set address stays", listen: "127.0.0.1:9100", host: "watch.example.org", want: "127.0.0.1:9100"},
		{name: "a set name stays", listen: "frames.example.org:9100", host: "watch.example.org", want: "frames.example.org:9100"},
		{name: "no request host", listen: ":9100", host: "", want: ":9100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := publicFrameAddr(tc.listen, tc.host); got != tc.want {
				t.Errorf("publicFrameAddr(%q, %q) = %q, want %q", tc.listen, tc.host, got, tc.want)
			}
		})
	}
}
