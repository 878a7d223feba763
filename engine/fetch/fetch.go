// Package fetch is the one way the server fetches a URL that a member named.
// Frame sources use it today; anything else that reads a member's URL (ffmpeg,
// ffprobe, thumbnails) must use it too, and never hand the URL itself to
// another program.
//
// A Client holds to these rules, whatever the URL, its DNS answers and its
// redirects say:
//
//   - only http and https;
//   - every connection is checked on the address actually dialled, after DNS
//     and on every redirect, HLS playlist and segment: loopback, private,
//     link-local, shared (CGNAT), multicast, reserved and unspecified
//     addresses are refused unless Options.AllowPrivate is set
//     (stream.allow_private_urls). A host name that resolves to such an
//     address, a DNS answer that changes between two requests and a redirect
//     into the LAN all fail the same way, with ErrPrivateAddress;
//   - no proxy from the environment (the proxy would be the address checked);
//   - at most Options.MaxRedirects redirects, each to http or https;
//   - time limits on dialling, the TLS handshake and the response headers;
//     playlists are read whole within a deadline and a size limit, media
//     bodies are streamed and each HLS segment has a size limit;
//   - HLS playlists are followed here, in Go: a program given the result sees
//     the media bytes, never a playlist it could follow on its own.
//
// # Using it
//
// Code that needs an *http.Client (an HTTP API, the MJPEG reader) takes
// Client.HTTP. Code that reads a video takes OpenMedia: it fetches the URL,
// follows an HLS playlist, and returns a Media whose Body is the video itself
// and whose Kind and Format say what it is (MJPEG, or a container such as
// MPEG-TS, MP4 or Matroska), refusing anything else with ErrNotMedia.
//
// To let an external program read a member's media, give it the bytes, not
// the URL, and allow it no protocol but the pipe:
//
//	m, err := fetcher.OpenMedia(ctx, link)
//	cmd := exec.CommandContext(ctx, "ffprobe", "-protocol_whitelist", "pipe", "-i", "pipe:0", ...)
//	cmd.Stdin = m.Body // closed by the caller after cmd.Wait
//
// OpenCV gets the same treatment in engine/frames/source (OpenOpenCVMedia:
// a pipe, with FFmpeg's protocol whitelist set to "pipe").
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxRedirects     = 5
	DefaultDialTimeout      = 10 * time.Second
	DefaultTLSTimeout       = 10 * time.Second
	DefaultHeaderTimeout    = 15 * time.Second
	DefaultPlaylistTimeout  = 15 * time.Second
	DefaultMaxPlaylistBytes = 1 << 20
	DefaultMaxSegmentBytes  = 256 << 20
)

// Errors of the client. Every refusal wraps one of them.
var (
	ErrPrivateAddress = errors.New("fetch: URLs on loopback, private or link-local addresses are off on this server (stream.allow_private_urls)")
	ErrScheme         = errors.New("fetch: only http and https URLs can be fetched")
	ErrTooManyHops    = errors.New("fetch: too many redirects")
	ErrStatus         = errors.New("fetch: the server did not answer 200 OK")
	ErrTooLarge       = errors.New("fetch: response exceeds the size limit")
	ErrNotMedia       = errors.New("fetch: not a video this server can read (MJPEG, MPEG-TS, MP4, Matroska/WebM, AVI, FLV, or an HLS playlist of those)")
	ErrPlaylist       = errors.New("fetch: bad HLS playlist")
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// AllowPrivate lets the client reach every address (the admin's choice,
	// stream.allow_private_urls; the publish command on a member's own
	// computer).
	AllowPrivate bool
	// Permit, when set, replaces PublicAddr as the test of an address when
	// AllowPrivate is off. Tests use it to call one loopback address public.
	Permit           func(netip.Addr) bool
	MaxRedirects     int
	DialTimeout      time.Duration
	TLSTimeout       time.Duration
	HeaderTimeout    time.Duration
	PlaylistTimeout  time.Duration // reading one HLS playlist, headers to end
	MaxPlaylistBytes int64
	MaxSegmentBytes  int64 // one HLS segment
	UserAgent        string
}

func (o Options) withDefaults() Options {
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.TLSTimeout <= 0 {
		o.TLSTimeout = DefaultTLSTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.PlaylistTimeout <= 0 {
		o.PlaylistTimeout = DefaultPlaylistTimeout
	}
	if o.MaxPlaylistBytes <= 0 {
		o.MaxPlaylistBytes = DefaultMaxPlaylistBytes
	}
	if o.MaxSegmentBytes <= 0 {
		o.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if o.UserAgent == "" {
		o.UserAgent = "watchparty"
	}
	return o
}

// Client fetches URLs under the rules of the package. It is safe for
// concurrent use.
type Client struct {
	opts Options
	hc   *http.Client
}

// New returns a client.
func New(o Options) *Client {
	o = o.withDefaults()
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		permit := o.Permit
		if permit == nil {
			permit = PublicAddr
		}
		// Control runs on the address being dialled, after DNS: the only
		// place a check cannot be talked around.
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !permit(ap.Addr().Unmap()) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   o.TLSTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		MaxIdleConns:          8,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	c := &Client{opts: o}
	c.hc = &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > o.MaxRedirects {
			return fmt.Errorf("%w (more than %d)", ErrTooManyHops, o.MaxRedirects)
		}
		if err := checkScheme(req.URL); err != nil {
			return err
		}
		return nil
	}}
	return c
}

// HTTP returns the guarded *http.Client, for code that needs one. Requests
// made with it follow the address and redirect rules; reading their bodies
// within limits is the caller's job.
func (c *Client) HTTP() *http.Client { return c.hc }

// AllowsPrivate reports whether the client may reach non-public addresses.
func (c *Client) AllowsPrivate() bool { return c.opts.AllowPrivate }

func checkScheme(u *url.URL) error {
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("%w (not %q)", ErrScheme, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: no host in the URL", ErrScheme)
	}
	return nil
}

// ParseURL parses raw as an absolute http(s) URL.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScheme, err)
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	return u, nil
}

// Get requests raw and returns the response once it answered 200 OK (any
// other status is ErrStatus). The request lives until the body is closed,
// not until ctx ends: ctx bounds only the wait for the response headers.
// The caller closes the body.
func (c *Client) Get(ctx context.Context, raw string) (*http.Response, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	resp, err := c.do(rctx, u)
	if !stop() && err == nil {
		resp.Body.Close()
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func (c *Client) do(ctx context.Context, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", redact(u), unwrapURLError(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered %s", ErrStatus, redact(u), resp.Status)
	}
	return resp, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL,
// and keeps the chain for errors.Is.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact returns u without user info, query and fragment, for messages.
func redact(u *url.URL) string {
	r := *u
	r.User, r.RawQuery, r.Fragment = nil, "", ""
	return r.String()
}

// cancelBody ends the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// readAll reads a whole bounded response body (playlists).
func readAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
	}
	return b, nil
}

// limitedBody fails with ErrTooLarge once more than n bytes were read.
type limitedBody struct {
	rc io.ReadCloser
	n  int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("%w: HLS segment", ErrTooLarge)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.rc.Read(p)
	l.n -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// nonPublic returns the IPv4 and IPv6 ranges that are not reachable on the
// public internet or must not be reached from a server, beyond what
// netip.Addr's own predicates catch.
func nonPublic() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
		netip.MustParsePrefix("100::/64"),        // discard
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("2001::/32"),       // Teredo (embeds another address)
		netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	}
}

// nat64 embeds IPv4 addresses in IPv6 (RFC 6052).
func nat64() netip.Prefix { return netip.MustParsePrefix("64:ff9b::/96") }

// sixTo4 embeds IPv4 addresses in IPv6 (RFC 3056).
func sixTo4() netip.Prefix { return netip.MustParsePrefix("2002::/16") }

// PublicAddr reports whether ip is a globally routable unicast address that
// a server may connect to on a member's behalf. IPv6 addresses that embed an
// IPv4 address (mapped, NAT64, 6to4) are judged by that address.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64().Contains(ip):
			return PublicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixTo4().Contains(ip):
			return PublicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
