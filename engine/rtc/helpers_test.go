package rtc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const waitLong = 20 * time.Second

// current is the harness of the running test (tests here are not
// parallel); waitFor prints its state when it gives up.
var current *harness

// waitFor polls cond (bounded) and fails the test with what when it never
// holds.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			extra := ""
			if current != nil {
				extra = dump(current)
			}
			tb.Fatalf("gave up after %s waiting for %s\n%s", timeout, what, extra)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testConfig() Config {
	return Config{Loopback: true, Logger: quietLogger()}
}

// harness is a room of in-process pion clients signalling straight into
// the SFU, as the room's websocket will.
type harness struct {
	tb   testing.TB
	sfu  *SFU
	code string

	mu      sync.Mutex
	clients map[string]*client
	allowed map[string]bool
	states  []State
	lost    atomic.Int64
}

func newHarness(tb testing.TB, cfg Config) *harness {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	h := &harness{tb: tb, sfu: s, code: "room1", clients: map[string]*client{}, allowed: map[string]bool{}}
	err = s.OpenRoom(h.code, RoomHooks{
		Send: h.deliver,
		CanPublish: func(id string) bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.allowed[id]
		},
		OnState: func(st State) {
			h.mu.Lock()
			h.states = append(h.states, st)
			h.mu.Unlock()
		},
	})
	if err != nil {
		tb.Fatalf("OpenRoom: %v", err)
	}
	tb.Cleanup(h.close)
	current = h
	return h
}

func (h *harness) close() {
	h.mu.Lock()
	cs := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	_ = h.sfu.Close()
	if n := h.lost.Load(); n > 0 {
		h.tb.Errorf("%d server messages did not fit a client inbox", n)
	}
}

func (h *harness) allow(id string) {
	h.mu.Lock()
	h.allowed[id] = true
	h.mu.Unlock()
}

func (h *harness) lastState() (State, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.states) == 0 {
		return State{}, false
	}
	return h.states[len(h.states)-1], true
}

// deliver is RoomHooks.Send: a non-blocking enqueue, like a websocket
// outbox.
func (h *harness) deliver(id string, msg Signal) {
	h.mu.Lock()
	c := h.clients[id]
	h.mu.Unlock()

	if c == nil {
		return
	}
	select {
	case c.inbox <- msg:
	default:
		h.lost.Add(1)
	}
}

func (h *harness) handle(id string, msg Signal) error {

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	return h.sfu.Handle(ctx, h.code, id, msg)
}

func clientAPI(tb testing.TB) *webrtc.API {
	tb.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		tb.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		tb.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(2*time.Second, 4*time.Second, 500*time.Millisecond)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// received is one forwarded track as a client sees it.
type received struct {
	remote    *webrtc.TrackRemote
	mid       string
	packets   atomic.Int64
	bytes     atomic.Int64
	badSSRC   atomic.Int64
	badPT     atomic.Int64
	keyframes atomic.Int64
	lastCount atomic.Uint32
	ended     atomic.Bool
	firstAt   atomic.Int64
	inWindow  atomic.Int64
	window    *[2]atomic.Uint32
}

// client is an in-process member: it answers the server's offers and
// trickles its candidates after its answer, as a browser would.
type client struct {
	h      *harness
	id     string
	pc     *webrtc.PeerConnection
	inbox  chan Signal
	cands  chan webrtc.ICECandidateInit
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
	manual bool
	// window, when set before the track arrives, counts packets whose
	// counter is in [window[0], window[1]].
	window *[2]atomic.Uint32
	// beforeAnswer, when set, runs after the client has applied its answer
	// to an offer and before the server gets it.
	beforeAnswer atomic.Pointer[func(offer Signal)]

	mu        sync.Mutex
	tracks    []*received
	lastOffer Signal
	offers    int
	errs      []Signal
	answers   []Signal

	// publishing
	pubTrack *webrtc.TrackLocalStaticRTP
	pubSend  *webrtc.RTPSender
	plis     atomic.Int64
	sent     atomic.Int64
	wantKey  atomic.Bool
	counter  atomic.Uint32
	writing  atomic.Bool
	writerWG sync.WaitGroup
}

func (h *harness) join(id string) *client {
	h.tb.Helper()
	c := h.newClient(id, false)
	if err := h.handle(id, Signal{Type: TypeJoin}); err != nil {
		h.tb.Fatalf("join %s: %v", id, err)
	}
	return c
}

func (h *harness) newClient(id string, manual bool) *client {
	h.tb.Helper()
	pc, err := clientAPI(h.tb).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		h.tb.Fatal(err)
	}
	c := &client{
		h: h, id: id, pc: pc, manual: manual,
		inbox:  make(chan Signal, 256),
		cands:  make(chan webrtc.ICECandidateInit, 64),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		select {
		case c.cands <- cand.ToJSON():
		case <-c.done:
		}
	})
	pc.OnTrack(c.onTrack)
	h.mu.Lock()
	h.clients[id] = c
	h.mu.Unlock()
	if !manual {
		go c.loop()
	} else {
		close(c.exited)
	}
	return c
}

func (c *client) loop() {
	defer close(c.exited)
	for {
		select {
		case <-c.done:
			return
		case cand := <-c.cands:
			if err := c.h.handle(c.id, Signal{Type: TypeCandidate, Candidate: &cand}); err != nil && !errors.Is(err, ErrNoPeer) {
				c.errorf("%s: candidate: %v", c.id, err)
			}
		case msg := <-c.inbox:
			c.onSignal(msg)
		}
	}
}

func (c *client) onSignal(msg Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	switch msg.Type {
	case TypeOffer:
		c.mu.Lock()
		c.lastOffer = msg
		c.offers++
		c.mu.Unlock()
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: msg.SDP}); err != nil {
			c.errorf("%s: set offer: %v", c.id, err)
			return
		}
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil {
			c.errorf("%s: answer: %v", c.id, err)
			return
		}
		if err := c.pc.SetLocalDescription(answer); err != nil {
			c.errorf("%s: set answer: %v", c.id, err)
			return
		}
		if f := c.beforeAnswer.Load(); f != nil {
			(*f)(msg)
		}
		if err := c.h.handle(c.id, Signal{Type: TypeAnswer, SDP: answer.SDP}); err != nil && !errors.Is(err, ErrNoPeer) {
			c.errorf("%s: send answer: %v", c.id, err)
		}
	case TypeAnswer:
		c.mu.Lock()
		c.answers = append(c.answers, msg)
		c.mu.Unlock()
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: msg.SDP}); err != nil {
			c.errorf("%s: set answer: %v", c.id, err)
		}
	case TypeError, TypeClosed:
		c.mu.Lock()
		c.errs = append(c.errs, msg)
		c.mu.Unlock()
	}
}

// errorf reports a failure unless the client is being torn down.
func (c *client) errorf(format string, args ...any) {
	select {
	case <-c.done:
		return
	default:
	}
	if c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return
	}
	c.h.tb.Errorf(format, args...)
}

func (c *client) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	rt := &received{remote: remote, window: c.window}
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Receiver() == recv {
			rt.mid = tr.Mid()
		}
	}
	c.mu.Lock()
	c.tracks = append(c.tracks, rt)
	c.mu.Unlock()
	var p rtp.Packet
	buf := make([]byte, 1500)
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			rt.ended.Store(true)
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if rt.packets.Add(1) == 1 {
			rt.firstAt.Store(time.Now().UnixNano())
		}
		rt.bytes.Add(int64(n))
		if p.SSRC != uint32(remote.SSRC()) {
			rt.badSSRC.Add(1)
		}
		if p.PayloadType != uint8(remote.PayloadType()) {
			rt.badPT.Add(1)
		}
		if len(p.Payload) >= 5 {
			if p.Payload[0] == 1 {
				rt.keyframes.Add(1)
			}
			n := binary.BigEndian.Uint32(p.Payload[1:5])
			rt.lastCount.Store(n)
			if w := rt.window; w != nil && n >= w[0].Load() && n <= w[1].Load() {
				rt.inWindow.Add(1)
			}
		}
	}
}

// liveTracks returns the tracks that have not ended.
func (c *client) liveTracks() []*received {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*received
	for _, t := range c.tracks {
		if !t.ended.Load() {
			out = append(out, t)
		}
	}
	return out
}

func (c *client) allTracks() []*received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*received(nil), c.tracks...)
}

func (c *client) offer() (Signal, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastOffer, c.offers
}

func (c *client) connected() bool {
	return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// waitConnected waits for the client's connection and then for the
// server's peer of it: the server's side may see it up a little later
// (much later on a loaded machine), and refuses a client's offer until then.
func (h *harness) waitConnected(tb testing.TB, c *client) {
	tb.Helper()
	waitFor(tb, waitLong, c.id+" connected", c.connected)
	r, err := h.sfu.room(h.code)
	if err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, waitLong, "the server's peer of "+c.id+" connected", func() bool {
		p := r.peer(c.id)
		return p != nil && p.connected.Load()
	})
}

// addVideo adds a sendonly VP8 track and reads its RTCP, counting PLIs.
func (c *client) addVideo() {
	c.h.tb.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam-"+c.id, "stream-"+c.id)
	if err != nil {
		c.h.tb.Fatal(err)
	}
	tr, err := c.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		c.h.tb.Fatal(err)
	}
	c.pubTrack, c.pubSend = track, tr.Sender()
	c.writerWG.Add(1)
	go func() {
		defer c.writerWG.Done()
		for {
			pkts, _, err := c.pubSend.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					c.plis.Add(1)
					c.wantKey.Store(true)
				}
			}
		}
	}()
}

// publishVideo adds a video track, asks to publish it and starts writing
// RTP at the given packet interval and size.
func (c *client) publishVideo(interval time.Duration, size int) {
	c.h.tb.Helper()
	c.addVideo()
	if err := c.h.handle(c.id, Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceCamera}}}); err != nil {
		c.h.tb.Fatalf("%s publish: %v", c.id, err)
	}
	c.startWriter(interval, size, 0)
}

// startWriter writes packets whose payload carries a keyframe flag (set
// after a PLI) and a counter. limit 0 means until close.
func (c *client) startWriter(interval time.Duration, size, limit int) {
	c.writing.Store(true)
	c.writerWG.Add(1)
	go func() {
		defer c.writerWG.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		payload := make([]byte, size)
		var seq uint16
		for i := 1; limit == 0 || i <= limit; i++ {
			select {
			case <-c.done:
				return
			case <-tick.C:
			}
			if !c.writing.Load() {
				continue
			}
			payload[0] = 0
			if c.wantKey.Swap(false) || i == 1 {
				payload[0] = 1
			}
			binary.BigEndian.PutUint32(payload[1:5], uint32(i))
			c.counter.Store(uint32(i))
			seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(i) * 3000, Marker: true}, Payload: payload}
			if err := c.pubTrack.WriteRTP(pkt); err == nil {
				c.sent.Add(1)
			}
		}
	}()
}

func (c *client) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.pc.Close()
		<-c.exited
		c.writerWG.Wait()
	})
}

// trackFrom returns the live track whose offer info names member and source.
func (c *client) trackFrom(member, source string) *received {
	off, _ := c.offer()
	for _, info := range off.Tracks {
		if info.Member != member || info.Source != source {
			continue
		}
		for _, t := range c.liveTracks() {
			if t.mid == info.Mid {
				return t
			}
		}
	}
	return nil
}

func (c *client) String() string { return fmt.Sprintf("client %s", c.id) }
