package rtc

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval bounds how often subscribers' own keyframe requests are
// passed on to a publisher. Requests caused by a new subscriber are always
// passed on.
const keyframeInterval = 300 * time.Millisecond

// slot is a receiving media section of a publisher's PeerConnection. A slot
// is reserved by a publish intent (or a client offer), becomes a
// publication when its media flows, and is reused by the next publish of the
// same kind after an unpublish.
type slot struct {
	tr   *webrtc.RTPTransceiver
	kind webrtc.RTPCodecType

	// Guarded by session.mu.
	source  string
	pub     *publication
	running bool

	reserved atomic.Bool
	active   atomic.Pointer[publication]
}

// publication is a forwarded track.
type publication struct {
	id     string
	owner  *peer
	slot   *slot
	source string
	kind   string
	ssrc   uint32
	local  *fwdTrack
	stat   *counters

	subscribers atomic.Int64
	lastPLI     atomic.Int64
	// packets counts the RTP packets read from the publisher.
	packets atomic.Uint64
}

// subscription is a publication sent to one member.
type subscription struct {
	pub    *publication
	tr     *webrtc.RTPTransceiver
	sender *webrtc.RTPSender
}

// fwdTrack is the track every subscriber of a publication is bound to; a
// new binding (a subscriber whose sender started) asks the publisher for a
// keyframe so the newcomer can start decoding at once.
type fwdTrack struct {
	*webrtc.TrackLocalStaticRTP
	pub *publication
}

func (t *fwdTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		t.pub.subscribers.Add(1)
		t.pub.keyframe(true)
	}
	return c, err
}

func (t *fwdTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	err := t.TrackLocalStaticRTP.Unbind(ctx)
	if err == nil {
		t.pub.subscribers.Add(-1)
	}
	return err
}

// keyframe sends a PLI to the publisher of a video track.
func (pub *publication) keyframe(force bool) {
	if pub.kind != webrtc.RTPCodecTypeVideo.String() {
		return
	}
	now := time.Now().UnixNano()
	if !force && now-pub.lastPLI.Load() < int64(keyframeInterval) {
		return
	}
	pub.lastPLI.Store(now)
	err := pub.owner.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: pub.ssrc}})
	if err == nil {
		pub.stat.keyframes.Add(1)
	}
}

// forward copies a publisher's RTP to its publication until the track ends.
// Header extensions are dropped: their ids were negotiated with the
// publisher, not with the subscribers.
func (p *peer) forward(sl *slot, remote *webrtc.TrackRemote) {
	stat := &p.r.sfu.stat
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		pub := sl.active.Load()
		if pub == nil {
			if !sl.reserved.Load() {
				stat.packetsDropped.Add(1)
				continue
			}
			if pub = p.r.activate(p, sl, remote); pub == nil {
				stat.packetsDropped.Add(1)
				continue
			}
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			stat.packetsDropped.Add(1)
			continue
		}
		pkt.Header.Extension = false
		pkt.Header.ExtensionProfile = 0
		pkt.Header.Extensions = nil
		stat.packetsIn.Add(1)
		stat.bytesIn.Add(uint64(n))
		pub.packets.Add(1)
		if err := pub.local.WriteRTP(&pkt); err != nil {
			stat.packetsDropped.Add(1)
			continue
		}
		if subs := pub.subscribers.Load(); subs > 0 {
			stat.packetsOut.Add(uint64(subs))
			stat.bytesOut.Add(uint64(subs) * uint64(n))
		}
	}
}

// readRTCP drains a subscriber's sender (which also runs the NACK and report
// interceptors) and passes keyframe requests on to the publisher.
//
// The first RTCP from a subscriber also asks for a keyframe: the request
// made when the sender started may have been answered before the
// subscriber's end of DTLS was ready to decrypt it.
func (p *peer) readRTCP(sub *subscription) {
	first := true
	for {
		pkts, _, err := sub.sender.ReadRTCP()
		if err != nil {
			return
		}
		if first {
			first = false
			sub.pub.keyframe(true)
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				sub.pub.keyframe(false)
			}
		}
	}
}
