package web_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"watchparty/config"
	"watchparty/engine/app"
	"watchparty/engine/apptest"
	"watchparty/engine/rtc"
)

// rtcWait bounds every wait of these tests.
const rtcWait = 20 * time.Second

// eventually polls cond until it holds, failing the test after rtcWait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rtcWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startRTCServer runs the whole app with WebRTC on, its SFU on loopback.
func startRTCServer(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.StartServer(t, func(c *config.Config) {
		c.WebRTC.Enabled = true
		c.WebRTC.UDPPort = 0
	}, app.WithWebRTCLoopback())
}

func loopbackAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(2*time.Second, 4*time.Second, 500*time.Millisecond)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// rtcMember is a member on the room websocket with an in-process pion peer
// that signals through it, as the room page does.
type rtcMember struct {
	t    *testing.T
	name string
	ws   *websocket.Conn
	wmu  sync.Mutex
	pc   *webrtc.PeerConnection
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu       sync.Mutex
	msgs     []map[string]any // every non-rtc message, in order
	errs     []map[string]any
	answered bool
	cands    []webrtc.ICECandidateInit
	lastOff  rtc.Signal
	tracks   map[string]*gotTrack // by mid
	refs     int

	// publishing
	track   *webrtc.TrackLocalStaticRTP
	left    atomic.Bool // left or kicked: late offers may meet a closed peer
	plis    atomic.Int64
	sent    atomic.Int64
	wantKey atomic.Bool
}

type gotTrack struct {
	mid     string
	packets atomic.Int64
	marked  atomic.Int64 // packets carrying the publisher's counter
	ended   atomic.Bool
}

func newRTCMember(t *testing.T, srv *apptest.Server, u *apptest.User, code string) *rtcMember {
	t.Helper()
	ws, _, err := dialRoom(t, srv, u.Client, code, "http://"+srv.Addr)
	if err != nil {
		t.Fatalf("%s: dial: %v", u.Name, err)
	}
	pc, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	m := &rtcMember{t: t, name: u.Name, ws: ws, pc: pc, done: make(chan struct{}), tracks: map[string]*gotTrack{}}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		m.mu.Lock()
		if !m.answered {
			m.cands = append(m.cands, init)
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		m.signal(rtc.Signal{Type: rtc.TypeCandidate, Candidate: &init})
	})
	pc.OnTrack(m.onTrack)
	m.wg.Add(1)
	go m.read()
	t.Cleanup(m.close)
	return m
}

// send writes one client message.
func (m *rtcMember) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		m.t.Error(err)
		return
	}
	m.sendRaw(b)
}

func (m *rtcMember) sendRaw(b []byte) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = m.ws.WriteMessage(websocket.TextMessage, b)
}

// signal sends an rtc message and returns its ref.
func (m *rtcMember) signal(s rtc.Signal) string {
	m.mu.Lock()
	m.refs++
	ref := fmt.Sprintf("rtc%d", m.refs)
	m.mu.Unlock()
	m.send(map[string]any{"type": "rtc", "ref": ref, "signal": s})
	return ref
}

func (m *rtcMember) read() {
	defer m.wg.Done()
	for {
		_, data, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		for _, part := range strings.Split(string(data), "\n") {
			var env struct {
				Type   string      `json:"type"`
				Signal *rtc.Signal `json:"signal"`
			}
			var all map[string]any
			if json.Unmarshal([]byte(part), &env) != nil || json.Unmarshal([]byte(part), &all) != nil {
				m.t.Errorf("%s: bad frame %q", m.name, part)
				continue
			}
			if env.Type == "rtc" && env.Signal != nil {
				m.onSignal(*env.Signal)
				continue
			}
			m.mu.Lock()
			m.msgs = append(m.msgs, all)
			if env.Type == "error" {
				m.errs = append(m.errs, all)
			}
			m.mu.Unlock()
		}
	}
}

// failf reports a failure unless the member is shutting down.
func (m *rtcMember) failf(format string, args ...any) {
	select {
	case <-m.done:
	default:
		if !m.left.Load() {
			m.t.Errorf(m.name+": "+format, args...)
		}
	}
}

func (m *rtcMember) onSignal(s rtc.Signal) {
	switch s.Type {
	case rtc.TypeOffer:
		m.mu.Lock()
		m.lastOff = s
		m.mu.Unlock()
		if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			m.failf("set offer: %v", err)
			return
		}
		answer, err := m.pc.CreateAnswer(nil)
		if err != nil {
			m.failf("answer: %v", err)
			return
		}
		if err := m.pc.SetLocalDescription(answer); err != nil {
			m.failf("set answer: %v", err)
			return
		}
		m.signal(rtc.Signal{Type: rtc.TypeAnswer, SDP: answer.SDP})
		m.mu.Lock()
		m.answered = true
		cands := m.cands
		m.cands = nil
		m.mu.Unlock()
		for i := range cands {
			m.signal(rtc.Signal{Type: rtc.TypeCandidate, Candidate: &cands[i]})
		}
	case rtc.TypeError, rtc.TypeClosed:
		m.mu.Lock()
		m.errs = append(m.errs, map[string]any{"type": "rtc " + s.Type, "code": s.Code, "text": s.Message})
		m.mu.Unlock()
	}
}

func (m *rtcMember) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	g := &gotTrack{}
	for _, tr := range m.pc.GetTransceivers() {
		if tr.Receiver() == recv {
			g.mid = tr.Mid()
		}
	}
	m.mu.Lock()
	m.tracks[g.mid] = g
	m.mu.Unlock()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			g.ended.Store(true)
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		g.packets.Add(1)
		if len(p.Payload) >= 5 && p.Payload[0] <= 1 && binary.BigEndian.Uint32(p.Payload[1:5]) > 0 {
			g.marked.Add(1)
		}
	}
}

// trackOf returns the received track the last offer names for a member and
// source.
func (m *rtcMember) trackOf(member, source string) *gotTrack {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, info := range m.lastOff.Tracks {
		if info.Member == member && info.Source == source {
			return m.tracks[info.Mid]
		}
	}
	return nil
}

// publishVideo adds a VP8 track, asks to publish it as the camera and
// writes RTP every 10 ms (a keyframe flag after each PLI).
func (m *rtcMember) publishVideo() string {
	m.t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam-"+m.name, "stream-"+m.name)
	if err != nil {
		m.t.Fatal(err)
	}
	tr, err := m.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		m.t.Fatal(err)
	}
	m.track = track
	sender := tr.Sender()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					m.plis.Add(1)
					m.wantKey.Store(true)
				}
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 200)
		for i := uint32(1); ; i++ {
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
			payload[0] = 0
			if i == 1 || m.wantKey.Swap(false) {
				payload[0] = 1
			}
			binary.BigEndian.PutUint32(payload[1:5], i)
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: i * 3000, Marker: true}, Payload: payload}
			if track.WriteRTP(pkt) == nil {
				m.sent.Add(1)
			}
		}
	}()
	return m.signal(rtc.Signal{Type: rtc.TypePublish, Tracks: []rtc.TrackInfo{{Kind: "video", Source: rtc.SourceCamera}}})
}

// message returns the first message of this type received after index
// from that passes ok, waiting for it.
func (m *rtcMember) message(t *testing.T, typ string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	return m.messageFrom(t, 0, typ, ok)
}

// mark is the number of messages received so far, for messageFrom.
func (m *rtcMember) mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// messageFrom is message among the messages received after mark from.
func (m *rtcMember) messageFrom(t *testing.T, from int, typ string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, m.name+" receiving a "+typ+" message", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, msg := range m.msgs[from:] {
			if msg["type"] == typ && (ok == nil || ok(msg)) {
				found = msg
				return true
			}
		}
		return false
	})
	return found
}

// errorFor waits for the error answering ref.
func (m *rtcMember) errorFor(t *testing.T, ref string) map[string]any {
	t.Helper()
	return m.message(t, "error", func(e map[string]any) bool { return e["ref"] == ref })
}

func (m *rtcMember) connected() bool {
	return m.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// closeSocket ends the websocket only (as a closed tab would): the member
// is leaving, so its peer failing from then on is expected.
func (m *rtcMember) closeSocket() {
	m.left.Store(true)
	m.wmu.Lock()
	_ = m.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	m.wmu.Unlock()
	_ = m.ws.Close()
}

func (m *rtcMember) close() {
	m.once.Do(func() {
		close(m.done)
		_ = m.ws.Close()
		_ = m.pc.Close()
		m.wg.Wait()
	})
}

// shareSays reports whether a share message lists exactly these
// member/source pairs.
func shareSays(want ...string) func(map[string]any) bool {
	return func(msg map[string]any) bool {
		list, _ := msg["share"].([]any)
		if len(list) != len(want) {
			return false
		}
		for i, x := range list {
			s, _ := x.(map[string]any)
			if fmt.Sprint(s["name"], "/", s["source"]) != want[i] {
				return false
			}
		}
		return true
	}
}

func chatSays(text string) func(map[string]any) bool {
	return func(msg map[string]any) bool { return msg["system"] == true && msg["text"] == text }
}

func setSettings(t *testing.T, c *apptest.Client, code string, vals url.Values) {
	t.Helper()
	if resp, body := c.PostForm(t, "/r/"+code+"/settings", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s %s", resp.Status, body)
	}
}

// TestRoomWebRTCSignalling: members signal with the SFU over the room
// websocket. Ann publishes a VP8 track and Bob, then a late Carl, receive
// the forwarded RTP; the room's share state and chat follow; Bob may not
// share; a role that drops stops a share; members leaving clean up; no
// goroutine outlives the server.
func TestRoomWebRTCSignalling(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv := startRTCServer(t)
	sfu := srv.App.SFU
	if sfu == nil {
		t.Fatal("webrtc.enabled built no SFU")
	}
	ann := srv.SignUp(t, "Ann")
	bob := srv.SignUp(t, "Bob")
	carl := srv.SignUp(t, "Carl")
	code := createRoom(t, ann.Client, "Screens")
	for _, u := range []*apptest.User{bob, carl} {
		if resp, _ := u.Client.PostForm(t, "/rooms/join", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s joins: %s", u.Name, resp.Status)
		}
	}
	// Only moderators (and the owner) may share video; voice chat is off.
	setSettings(t, ann.Client, code, url.Values{"control": {"everyone"}, "change_video": {"moderators"}, "manage_queue": {"everyone"}})

	a := newRTCMember(t, srv, ann, code)
	hello := a.message(t, "hello", nil)
	w, _ := hello["webrtc"].(map[string]any)
	if w["enabled"] != true || w["message_bytes"] != float64(64<<10) {
		t.Fatalf("hello webrtc = %v", hello["webrtc"])
	}
	if s, ok := hello["share"].([]any); !ok || len(s) != 0 {
		t.Fatalf("hello share = %v", hello["share"])
	}
	b := newRTCMember(t, srv, bob, code)
	b.message(t, "hello", nil)

	// Signals before join are refused.
	ref := b.signal(rtc.Signal{Type: rtc.TypeAnswer, SDP: "v=0"})
	if e := b.errorFor(t, ref); e["code"] != "not_joined" {
		t.Fatalf("answer before join: %v", e)
	}

	a.signal(rtc.Signal{Type: rtc.TypeJoin})
	b.signal(rtc.Signal{Type: rtc.TypeJoin})
	eventually(t, "Ann and Bob connected", func() bool { return a.connected() && b.connected() })

	a.publishVideo()
	a.message(t, "share", shareSays("Ann/camera"))
	b.message(t, "share", shareSays("Ann/camera"))
	b.message(t, "chat", chatSays("Ann is sharing a camera."))
	eventually(t, "Bob receiving Ann's video", func() bool {
		g := b.trackOf(ann.ID, rtc.SourceCamera)
		return g != nil && g.marked.Load() > 50
	})

	// Bob is a plain member: publishing is refused, and nothing is shared.
	ref = b.signal(rtc.Signal{Type: rtc.TypePublish, Tracks: []rtc.TrackInfo{{Kind: "video", Source: rtc.SourceScreen}}})
	if e := b.errorFor(t, ref); e["code"] != rtc.CodeNotAllowed {
		t.Fatalf("Bob's publish: %v", e)
	}
	ref = b.signal(rtc.Signal{Type: rtc.TypePublish, Tracks: []rtc.TrackInfo{{Kind: "audio", Source: rtc.SourceMicrophone}}})
	if e := b.errorFor(t, ref); e["code"] != rtc.CodeNotAllowed {
		t.Fatalf("Bob's microphone without voice chat: %v", e)
	}

	// An SDP-sized rtc message passes the 8 KiB limit of other messages
	// (this one is refused by the SFU, and the connection stays up)...
	ref = b.signal(rtc.Signal{Type: rtc.TypeOffer, SDP: "v=0\r\n" + strings.Repeat("a=x-padding:0123456789\r\n", 1000)})
	if e := b.errorFor(t, ref); e["code"] != rtc.CodeNotAllowed {
		t.Fatalf("Bob's large offer: %v", e)
	}

	// A late subscriber gets the track too, and the publisher a keyframe request.
	c := newRTCMember(t, srv, carl, code)
	c.message(t, "hello", func(h map[string]any) bool { return shareSays("Ann/camera")(h) })
	plis := a.plis.Load()
	c.signal(rtc.Signal{Type: rtc.TypeJoin})
	eventually(t, "Carl receiving Ann's video", func() bool {
		g := c.trackOf(ann.ID, rtc.SourceCamera)
		return g != nil && g.marked.Load() > 50
	})
	eventually(t, "a keyframe request for Carl", func() bool { return a.plis.Load() > plis })

	// Carl becomes a moderator and shares; when he is demoted his share
	// stops. The role is in force once the form's answer is back.
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/role", url.Values{"user": {carl.ID}, "role": {"moderator"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("promote Carl: %s", resp.Status)
	}
	c.publishVideo()
	b.message(t, "share", shareSays("Ann/camera", "Carl/camera"))
	eventually(t, "Bob receiving Carl's video", func() bool {
		g := b.trackOf(carl.ID, rtc.SourceCamera)
		return g != nil && g.marked.Load() > 20
	})
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/role", url.Values{"user": {carl.ID}, "role": {"member"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demote Carl: %s", resp.Status)
	}
	b.message(t, "chat", chatSays("Carl stopped sharing."))
	eventually(t, "Carl's share withdrawn", func() bool { return sfu.Stats().Tracks == 1 })

	// Ann's tab closes: her peer and her track go away.
	a.closeSocket()
	b.message(t, "chat", chatSays("Ann stopped sharing."))
	b.message(t, "share", shareSays())
	eventually(t, "Ann's peer closed", func() bool { st := sfu.Stats(); return st.Peers == 2 && st.Tracks == 0 })

	// Bob leaves WebRTC by message; Carl is kicked.
	b.left.Store(true)
	b.signal(rtc.Signal{Type: rtc.TypeLeave})
	eventually(t, "Bob's peer closed", func() bool { return sfu.Stats().Peers == 1 })
	// A kick ends Carl's peer from the server's side: pion closes his
	// PeerConnection on the DTLS close-notify, so an offer still in flight
	// meets a closed peer, as for a member who left.
	c.left.Store(true)
	if resp, _ := ann.Client.PostForm(t, "/r/"+code+"/kick", url.Values{"user": {carl.ID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("kick Carl: %s", resp.Status)
	}
	eventually(t, "Carl's peer closed", func() bool { return sfu.Stats().Peers == 0 })
	if errs := append(a.rtcErrors(), b.rtcErrors()...); len(errs) > 0 {
		t.Errorf("asynchronous SFU errors: %v", errs)
	}
	// Carl's media still flowing when he lost the right may earn him a
	// not_allowed from the SFU, nothing else.
	for _, e := range c.rtcErrors() {
		if e["code"] != rtc.CodeNotAllowed {
			t.Errorf("Carl got an asynchronous SFU error: %v", e)
		}
	}

	a.close()
	b.close()
	c.close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Server).Serve"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).getCh"),
		// fasthttp's compression keeps a small pool of workers for the
		// process's lifetime, started by the first compressed response.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

// rtcErrors lists the SFU's asynchronous error and closed signals.
func (m *rtcMember) rtcErrors() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []map[string]any
	for _, e := range m.errs {
		if t, _ := e["type"].(string); strings.HasPrefix(t, "rtc ") {
			out = append(out, e)
		}
	}
	return out
}

// TestRoomWebRTCDisabled: without webrtc.enabled, hello says so and rtc
// messages get a clear error; other messages keep their 8 KiB limit.
func TestRoomWebRTCDisabled(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	if srv.App.SFU != nil {
		t.Fatal("an SFU was built with webrtc.enabled off")
	}
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "No screens")
	a := newRTCMember(t, srv, ann, code)
	hello := a.message(t, "hello", nil)
	if w, _ := hello["webrtc"].(map[string]any); w["enabled"] != false || w["ice_servers"] != nil {
		t.Fatalf("hello webrtc = %v", hello["webrtc"])
	}
	ref := a.signal(rtc.Signal{Type: rtc.TypeJoin})
	if e := a.errorFor(t, ref); e["code"] != "webrtc_disabled" {
		t.Fatalf("join without WebRTC: %v", e)
	}
	a.send(map[string]any{"type": "rtc", "signal": map[string]any{"type": "offer", "sdp": strings.Repeat("x", 9000)}})
	a.message(t, "error", func(e map[string]any) bool { return e["code"] == "too_large" })
}

// TestRoomWebRTCFramesChannel: with WebRTC on, a member's "frames" data
// channel receives the room's frame stream (JPEG frames chunked as in
// docs/webrtc.md), including a stream started after a previous one ended.
func TestRoomWebRTCFramesChannel(t *testing.T) {
	srv := startRTCServer(t)
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "Frames")
	a := newRTCMember(t, srv, ann, code)
	a.message(t, "hello", nil)
	a.signal(rtc.Signal{Type: rtc.TypeJoin})
	eventually(t, "Ann connected", a.connected)

	zero := uint16(0)
	dc, err := a.pc.CreateDataChannel(rtc.FramesLabel, &webrtc.DataChannelInit{Ordered: new(bool), MaxRetransmits: &zero})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		re     rtc.Reassembler
		frames int
		bad    int
	)
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		mu.Lock()
		defer mu.Unlock()
		if f, _, ok := re.Push(msg.Data); ok {
			if len(f) < 4 || f[0] != 0xFF || f[1] != 0xD8 {
				bad++
			} else {
				frames++
			}
		}
	})
	got := func() int {
		mu.Lock()
		defer mu.Unlock()
		return frames
	}
	eventually(t, "the frames channel open", func() bool { return dc.ReadyState() == webrtc.DataChannelStateOpen })

	for round := 1; round <= 2; round++ {
		before := got()
		a.send(map[string]any{"type": "stream_start", "source": "pattern:160x120", "ref": fmt.Sprint("s", round)})
		eventually(t, fmt.Sprintf("JPEG frames over the data channel (stream %d)", round), func() bool { return got() > before+10 })
		from := a.mark()
		a.send(map[string]any{"type": "stream_stop"})
		a.messageFrom(t, from, "stream", func(m map[string]any) bool {
			s, _ := m["stream"].(map[string]any)
			return s["active"] == false && s["reason"] == "stopped"
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if bad > 0 {
		t.Errorf("%d frames over the data channel were not JPEG", bad)
	}
	if st := srv.App.SFU.Stats(); st.FramesSent == 0 {
		t.Errorf("SFU stats count no frames sent: %+v", st)
	}
}
