package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"watchparty/config"
	"watchparty/engine/frames"
	"watchparty/engine/metrics"
	"watchparty/engine/rtc"
)

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
			feedRTCMetrics(s.rtcMetrics, s.SFU.Stats(), &last)
			return err
		case <-t.C:
			feedRTCMetrics(s.rtcMetrics, s.SFU.Stats(), &last)
		}
	}
}

// feedRTCMetrics moves m by what changed since last.
func feedRTCMetrics(m metrics.WebRTC, st rtc.Stats, last *rtc.Stats) {
	m.Peers.Set(float64(st.Peers))
	if st.BytesIn >= last.BytesIn {
		m.BytesIn.Add(float64(st.BytesIn - last.BytesIn))
	}
	if st.BytesOut >= last.BytesOut {
		m.BytesOut.Add(float64(st.BytesOut - last.BytesOut))
	}
	*last = st
}

// frameChannel makes a member's "frames" data channel a viewer of its
// room's frame stream (docs/webrtc.md), drained by the frames drain loop
// like every other viewer: a write waits while the channel is congested,
// up to the hub's stall timeout, and the viewer's queue keeps the newest
// frames meanwhile. When a stream ends, or the channel stalled, the channel
// waits for what the room streams next; it stops when the channel or the
// hub closes.
func (fs *frameStreams) frameChannel(sink *rtc.FrameSink) {
	opts := frames.ViewerOptions{Name: "webrtc " + sink.Member(), Member: sink.Member()}
	v, err := fs.hub.Subscribe(sink.Room(), opts)
	if err != nil {
		fs.log.Debug("frames data channel refused", "room", sink.Room(), "member", sink.Member(), "err", err)
		return
	}
	out := channelSink{sink: sink, timeout: fs.hub.Options().StallTimeout}
	go func() {
		for {
			_ = v.Drain(out, frames.DrainOptions{Stop: sink.Done()}) // the reason is v.Err()
			v.Close()
			if reason := v.Err(); !errors.Is(reason, frames.ErrStreamEnded) && !errors.Is(reason, frames.ErrStalled) {
				return // the channel or the hub closed, or the viewer was revoked
			}
			if v, err = fs.hub.Subscribe(sink.Room(), opts); err != nil {
				return
			}
		}
	}()
}

// channelSink writes frames to a data channel, each within the stall
// timeout.
type channelSink struct {
	sink    *rtc.FrameSink
	timeout time.Duration
}

func (c channelSink) WriteFrame(p *frames.Packet) error {
	return c.sink.WriteFrame(p.Payload(), time.Now().Add(c.timeout))
}
