package rtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Defaults applied by Config.withDefaults when a field is left at zero.
const (
	DefaultMaxPeersPerRoom  = 25
	DefaultMaxTracksPerPeer = 4
	// DefaultFrameHighWater is the buffered amount (bytes) of a frames data
	// channel above which new frames are held back (only the newest is kept).
	DefaultFrameHighWater = 1 << 20
)

// Config holds what the SFU needs from the application's settings
// (config key prefix webrtc.*).
type Config struct {
	// UDPPort is the one UDP port every peer uses (webrtc.udp_port).
	// Zero picks a free port, useful only in tests.
	UDPPort int
	// PublicIPs are announced in place of the host addresses (NAT 1:1), for a
	// server behind a router that forwards UDPPort to it.
	PublicIPs []string
	// STUNServers and TURNServers are URLs handed to browsers; the server
	// itself gathers host candidates only (plus PublicIPs).
	STUNServers  []string
	TURNServers  []string
	TURNUsername string
	TURNPassword string

	MaxPeersPerRoom  int
	MaxTracksPerPeer int

	// FrameHighWater is the back-pressure threshold of frames data channels.
	FrameHighWater int

	// Loopback is the test mode: only the loopback interface, UDP over IPv4,
	// loopback candidates included and short ICE timeouts.
	Loopback bool

	// Logger receives the SFU's own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// ICEServer is one entry of RTCConfiguration.iceServers, in the JSON shape
// browsers take as is.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

func (c Config) withDefaults() Config {
	if c.MaxPeersPerRoom <= 0 {
		c.MaxPeersPerRoom = DefaultMaxPeersPerRoom
	}
	if c.MaxTracksPerPeer <= 0 {
		c.MaxTracksPerPeer = DefaultMaxTracksPerPeer
	}
	if c.FrameHighWater <= 0 {
		c.FrameHighWater = DefaultFrameHighWater
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports settings the SFU cannot work with.
func (c Config) Validate() error {
	var errs []error
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		errs = append(errs, fmt.Errorf("webrtc.udp_port %d is not a port", c.UDPPort))
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("webrtc.public_ips: %q is not an IP address", ip))
		}
	}
	for _, u := range c.STUNServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			errs = append(errs, fmt.Errorf("webrtc.stun_servers: %q does not start with stun: or stuns:", u))
		}
	}
	for _, u := range c.TURNServers {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			errs = append(errs, fmt.Errorf("webrtc.turn_servers: %q does not start with turn: or turns:", u))
		}
	}
	if len(c.TURNServers) > 0 && (c.TURNUsername == "" || c.TURNPassword == "") {
		errs = append(errs, errors.New("webrtc.turn_servers needs webrtc.turn_username and webrtc.turn_password"))
	}
	return errors.Join(errs...)
}

// ICEServers returns the STUN and TURN servers for browsers, with the TURN
// credentials. The room sends them to a member before it creates its
// RTCPeerConnection.
func (c Config) ICEServers() []ICEServer {
	var out []ICEServer
	if len(c.STUNServers) > 0 {
		out = append(out, ICEServer{URLs: append([]string(nil), c.STUNServers...)})
	}
	if len(c.TURNServers) > 0 {
		out = append(out, ICEServer{
			URLs:       append([]string(nil), c.TURNServers...),
			Username:   c.TURNUsername,
			Credential: c.TURNPassword,
		})
	}
	return out
}

func isLoopbackName(name string) bool { return name == "lo" }

// muxOptions are the options of the shared UDP socket(s).
func (c Config) muxOptions() []ice.UDPMuxFromPortOption {
	if c.Loopback {
		return []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithLoopback(),
			ice.UDPMuxFromPortWithInterfaceFilter(isLoopbackName),
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		}
	}
	return []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6),
	}
}

// newAPI builds the pion API every server-side PeerConnection is made from.
func (c Config) newAPI(mux ice.UDPMux) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := registerInterceptors(me, reg); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if c.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(isLoopbackName)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICETimeouts(2*time.Second, 4*time.Second, 500*time.Millisecond)
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	if len(c.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        append([]string(nil), c.PublicIPs...),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("public IPs: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// registerInterceptors is webrtc.RegisterDefaultInterceptors (NACK, RTCP
// reports, stats, transport-wide congestion control) without the simulcast
// RTP header extensions (mid, rtp-stream-id, repaired-rtp-stream-id).
//
// The SFU does not take simulcast, and with those extensions pion treats
// media on an SSRC that no description declares yet as a simulcast probe: a
// publisher that starts sending on a new slot before the server has applied
// its answer loses the first packets to that probe (it reads up to 11
// packets looking for a RID, then gives up and unbinds the SSRC's
// interceptors). Without them pion keeps such a stream untouched until the
// answer declares its SSRC, and the receiver then reads it from the first
// packet.
func registerInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry) error {
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return err
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return err
	}
	if err := webrtc.ConfigureStatsInterceptor(reg); err != nil {
		return err
	}
	return webrtc.ConfigureTWCCSender(me, reg)
}

// summary describes how peers reach the server; see SFU.StartupSummary.
func (c Config) summary(addrs []net.Addr) string {
	var b strings.Builder
	ports := map[string]bool{}
	var listen []string
	for _, a := range addrs {
		listen = append(listen, a.String())
		if ua, ok := a.(*net.UDPAddr); ok {
			ports[fmt.Sprint(ua.Port)] = true
		}
	}
	port := fmt.Sprint(c.UDPPort)
	if len(ports) == 1 {
		for p := range ports {
			port = p
		}
	}
	fmt.Fprintf(&b, "webrtc: media on UDP port %s", port)
	switch {
	case c.Loopback:
		b.WriteString(" (loopback only, test mode)")
	case len(c.PublicIPs) > 0:
		fmt.Fprintf(&b, "; peers are told to reach %s:%s (NAT 1:1, forward UDP %s to this host)",
			strings.Join(c.PublicIPs, ","), port, port)
	default:
		fmt.Fprintf(&b, "; peers reach the host addresses directly (no webrtc.public_ips: behind NAT only LAN peers or TURN will connect)")
	}
	fmt.Fprintf(&b, "; listening on %d address(es)", len(listen))
	if len(listen) > 0 && len(listen) <= 4 {
		fmt.Fprintf(&b, " [%s]", strings.Join(listen, " "))
	}
	switch {
	case len(c.TURNServers) > 0:
		fmt.Fprintf(&b, "; browsers get STUN %v and TURN %v (user %q)", c.STUNServers, c.TURNServers, c.TURNUsername)
	case len(c.STUNServers) > 0:
		fmt.Fprintf(&b, "; browsers get STUN %v, no TURN", c.STUNServers)
	default:
		b.WriteString("; no STUN/TURN for browsers")
	}
	fmt.Fprintf(&b, "; limits %d peers/room, %d tracks/peer", c.MaxPeersPerRoom, c.MaxTracksPerPeer)
	return b.String()
}
