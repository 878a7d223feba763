package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"watchparty/config"
	"watchparty/engine/metrics"
	"watchparty/engine/rtc"
)

func init() { features = append(features, "webrtc") }

// rtcMetricsEvery is how often the SFU's counters are copied into the
// Prometheus instruments.
const rtcMetricsEvery = 2 * time.Second

// WithWebRTCLoopback runs the SFU (when webrtc.enabled is on) in its test
// mode: loopback interface only, IPv4, loopback candidates, short ICE
// timeouts. Tests that connect peers on one machine use it.
func WithWebRTCLoopback() Option {
	return func(o *serverOptions) { o.rtcLoopback = true }
}

// newSFU builds the SFU when webrtc.enabled is on (nil, nil when it is off).
func newSFU(cfg *config.Config, log *slog.Logger, so serverOptions) (*rtc.SFU, error) {
	if !cfg.WebRTC.Enabled {
		return nil, nil
	}
	w := cfg.WebRTC
	s, err := rtc.New(rtc.Config{
		UDPPort:          w.UDPPort,
		PublicIPs:        w.PublicIPs,
		STUNServers:      w.STUNServers,
		TURNServers:      w.TURNServers,
		TURNUsername:     w.TURNUsername,
		TURNPassword:     w.TURNPassword,
		MaxPeersPerRoom:  w.MaxPeersPerRoom,
		MaxTracksPerPeer: w.MaxTracksPerPeer,
		Loopback:         so.rtcLoopback,
		Logger:           log.With("component", "webrtc"),
	})
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	return s, nil
}

// runSFU keeps the WebRTC metrics up to date until ctx ends, then closes
// the SFU (every peer connection and the UDP port).
func (s *Server) runSFU(ctx context.Context) error {
	t := time.NewTicker(rtcMetricsEvery)
	defer t.Stop()
	var last rtc.Stats
	for {
		select {
		case <-ctx.Done():
			err := s.SFU.Close()
			feedRTCMetrics(s.SFU.Stats(), &last)
			return err
		case <-t.C:
			feedRTCMetrics(s.SFU.Stats(), &last)
		}
	}
}

// feedRTCMetrics moves the instruments by what changed since last.
func feedRTCMetrics(st rtc.Stats, last *rtc.Stats) {
	metrics.WebRTCPeers.Set(float64(st.Peers))
	if st.BytesIn >= last.BytesIn {
		metrics.WebRTCBytesIn.Add(float64(st.BytesIn - last.BytesIn))
	}
	if st.BytesOut >= last.BytesOut {
		metrics.WebRTCBytesOut.Add(float64(st.BytesOut - last.BytesOut))
	}
	*last = st
}
