package media

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"watchparty/engine/fetch"
)

// LinkRules are a server's rules for the direct links members share, which
// every member's browser then fetches.
type LinkRules struct {
	// AllowPrivateHosts lets direct links name loopback, private,
	// link-local and other non-public addresses, and local names
	// (localhost, *.local, *.lan, single-label names). Off, a member
	// cannot make every other member's browser fetch from its own network
	// (a router's admin page, a NAS).
	AllowPrivateHosts bool
	// Lookup resolves a host name to its addresses; a name resolving to
	// any non-public address is then refused as well. Nil: names are only
	// judged by their form.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ParseLinkWith is ParseLink with a server's rules for direct links.
func ParseLinkWith(raw string, rules LinkRules) (Source, error) {
	src, err := ParseLink(raw)
	if err != nil || rules.AllowPrivateHosts || (src.Kind != KindFile && src.Kind != KindHLS) {
		return src, err
	}
	host := hostOf(src.URL)
	if why := privateHost(host); why != "" {
		return Source{}, fmt.Errorf("%w: %s", ErrUnsupportedLink, privateRefusal(why))
	}
	if rules.Lookup != nil {
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			addrs, err := rules.Lookup(ctx, host)
			cancel()
			if err != nil || len(addrs) == 0 {
				return Source{}, fmt.Errorf("%w: the server could not look up %s to check that it is a public address", ErrUnsupportedLink, host)
			}
			for _, a := range addrs {
				if !PublicAddr(a) {
					return Source{}, fmt.Errorf("%w: %s", ErrUnsupportedLink, privateRefusal(host+" is "+a.Unmap().String()))
				}
			}
		}
	}
	return src, nil
}

func privateRefusal(why string) string {
	return "links to the server's or members' own network (" + why + ") are off on this server (links.allow_private_hosts)"
}

// hostOf is the host name of a canonical http(s) URL, without port.
func hostOf(u string) string {
	rest := u[strings.Index(u, "://")+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.Index(rest, "]"); i >= 0 {
			return rest[:i+1]
		}
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSuffix(strings.ToLower(rest), ".")
}

// privateHost says why host (from a URL, IPv6 in brackets) is not a public
// host, or "" when it may be one. It reads IPv4 addresses the way browsers
// do (127.1, 0x7f000001, 2130706433 and 0177.0.0.1 are all loopback).
func privateHost(host string) string {
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || !PublicAddr(a) {
			return host
		}
		return ""
	}
	if a, ok := browserIPv4(host); ok {
		if !PublicAddr(a) {
			return a.String()
		}
		return ""
	}
	if host == "localhost" || !strings.Contains(host, ".") {
		return host
	}
	// name endings that only mean something on a local network
	for _, s := range []string{".localhost", ".local", ".lan", ".home", ".home.arpa", ".internal", ".intranet", ".corp", ".localdomain"} {
		if strings.HasSuffix(host, s) {
			return host
		}
	}
	return ""
}

// browserIPv4 parses host as the WHATWG URL standard parses IPv4 hosts: one
// to four dot-separated parts, each decimal, 0x-hex or 0-octal, the last
// filling the remaining bytes. ok is false for hosts that are names. A host
// whose last part is a number but that does not parse is reported as
// 0.0.0.0 (browsers refuse it; so do we).
func browserIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if _, ok := ipv4Part(last); !ok && !allDigits(last) {
		return netip.Addr{}, false
	}
	bad := netip.AddrFrom4([4]byte{})
	if len(parts) > 4 {
		return bad, true
	}
	var n uint64
	for i, p := range parts {
		v, ok := ipv4Part(p)
		if !ok {
			return bad, true
		}
		if i < len(parts)-1 {
			if v > 255 {
				return bad, true
			}
			n = n<<8 | v
			continue
		}
		rest := uint(5 - len(parts))
		if v >= 1<<(8*rest) {
			return bad, true
		}
		n = n<<(8*rest) | v
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func ipv4Part(p string) (uint64, bool) {
	if p == "" || len(p) > 32 {
		return 0, false
	}
	base := 10
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true
		}
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	}
	v, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// PublicAddr reports whether a is a globally routable unicast address: the
// same rule the server's own fetches follow (fetch.PublicAddr), so that a
// link every member's browser fetches is held to it too.
func PublicAddr(a netip.Addr) bool { return fetch.PublicAddr(a) }
