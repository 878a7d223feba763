package web

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// proxies is the set of trusted reverse proxies (config trusted_proxies).
type proxies []netip.Prefix

func parseProxies(list []string) proxies {
	var out proxies
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// ProxyTrust reports, for an address, whether it is one of the trusted
// reverse proxies of list (trusted_proxies: addresses and prefixes).
func ProxyTrust(list []string) func(netip.Addr) bool { return parseProxies(list).trusted }

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientFromForwarded picks the client's address out of an X-Forwarded-For
// chain: the rightmost address that is not one of our own proxies. Proxies
// append what they saw, so everything left of that address came from the
// client and may be forged. It returns "" when the header names no address.
func (ps proxies) clientFromForwarded(header string) string {
	parts := strings.Split(header, ",")
	last := ""
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		last = a.Unmap().String()
		if !ps.trusted(a) {
			return last
		}
	}
	return last
}

// forwardedFor rewrites X-Forwarded-For, for requests from a trusted proxy,
// to the one address clientFromForwarded picks, so that c.IP() (which reads
// the header's first address) names the real client even behind a proxy
// that appends to a header the client sent.
func (s *Server) forwardedFor(c *fiber.Ctx) error {
	if !c.IsProxyTrusted() {
		return c.Next()
	}
	h := c.Get(fiber.HeaderXForwardedFor)
	if h == "" {
		return c.Next()
	}
	if ip := s.proxies.clientFromForwarded(h); ip != "" {
		c.Request().Header.Set(fiber.HeaderXForwardedFor, ip)
	} else {
		c.Request().Header.Del(fiber.HeaderXForwardedFor)
	}
	return c.Next()
}
