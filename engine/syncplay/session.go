package syncplay

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/engine/playback"
	"watchparty/engine/room"
	"watchparty/engine/room/proto"
)

// noticeName is the user name the server's own notices appear under in the
// client's chat.
const noticeName = "watchparty"

// roomQueue bounds the room messages waiting for a session's loop; a
// client that cannot take them is dropped, as a slow websocket is.
const roomQueue = 512

// session is one native player in a room. It is the room's Transport: the
// room's messages arrive through Send and are translated by the session's
// loop, which owns all of the fields below the channels and is the only
// writer to the connection.
type session struct {
	s     *Server
	conn  net.Conn
	raw   net.Conn // the TCP connection under conn
	lr    *LineReader
	code  string
	hello *Hello

	roomIn    chan []byte
	closeCh   chan string
	closeOnce sync.Once
	dead      atomic.Bool

	broken atomic.Bool // a write failed: nothing more can be sent

	rc      *room.Conn
	me      string // member id
	myName  string
	names   map[string]string // member id -> name shown to the client
	taken   map[string]string // name -> member id
	members map[string]*peer

	state     playback.State
	haveState bool
	by        string // who made the last change
	roomHeld  bool   // the room holds its start for members who are not ready
	video     *room.Video
	file      *File
	ready     bool

	rtt        float64   // seconds, the last round trip measured
	rtts       []float64 // the recent ones, for their minimum
	clientLC   float64   // the client's timestamp to echo
	clientLCAt time.Time
	// The client's own latency estimate, mirrored from what it reports:
	// it adds its "forward delay" to every playing position it gets.
	cliAvg, cliRTT, sentRTT float64

	// held keeps chat lines until the client's player is up (the stock
	// client fails on a chat line before that).
	held     [][]byte
	playerUp bool

	serverIgnoring int // forced states the client has not confirmed
	clientIgnoring int // the client's count to echo once

	pending     bool // a forced state waits for its instant
	pendingSeek bool
	timer       *time.Timer

	// commanded is the pause state the session last asked the room for,
	// until the room answers (or commandedUntil passes).
	commanded      *bool
	commandedUntil time.Time
	drift          float64 // ms, the last measurement
	over           int     // successive measurements beyond the threshold
	correctAfter   time.Time
}

type peer struct {
	name   string
	online bool
	ready  bool
	native bool
}

func newSession(s *Server, c net.Conn, lr *LineReader, code string, h *Hello) *session {
	return &session{s: s, conn: c, lr: lr, code: code, hello: h,
		roomIn: make(chan []byte, roomQueue), closeCh: make(chan string, 1),
		names: map[string]string{}, taken: map[string]string{}, members: map[string]*peer{}}
}

// ---- room.Transport ----

// Send queues the room's messages for the loop; it never blocks.
func (se *session) Send(typ proto.Type, msg []byte) bool {
	if se.dead.Load() {
		return false
	}
	switch typ {
	case proto.Hello, proto.Member, proto.MemberRemoved, proto.Chat, proto.Playback, proto.SyncMembers, proto.Video, proto.Error:
	default:
		return true // nothing a native player shows
	}
	select {
	case se.roomIn <- msg:
		return true
	default:
		se.s.opt.Log.Info("native player could not keep up; closing", "room", se.code)
		se.dead.Store(true)
		se.broken.Store(true)
		_ = se.conn.Close()
		return false
	}
}

// Close tells the client why (an Error line, which the client shows) and
// ends the connection.
func (se *session) Close(_, text string) {
	se.closeOnce.Do(func() {
		if text == "" {
			text = "disconnected by the server"
		}
		se.closeCh <- text
	})
}

// Ping is not needed: the loop sends a State every StateInterval and the
// reader's deadline catches a silent client.
func (se *session) Ping() {}

// ---- loop ----

type readResult struct {
	m   *ClientMessage
	err error
}

func (se *session) run(rc *room.Conn) {
	se.rc = rc
	se.me = rc.User().ID
	se.myName = clip(strings.TrimSpace(rc.User().Name), MaxNameLen)
	if se.myName == "" {
		se.myName = "member"
	}
	se.taken[se.myName] = se.me
	se.names[se.me] = se.myName

	in := make(chan readResult)
	stop := make(chan struct{})
	defer close(stop)
	go se.read(in, stop)

	se.write(Encode("Hello", ServerHello{
		Username: se.myName, Room: RoomName{Name: se.code}, Version: se.hello.Version, RealVersion: ProtocolVersion,
		MOTD: "", Features: ServerFeatures{Readiness: true, Chat: true, MaxChatMessageLength: room.MaxChatRunes,
			MaxUsernameLength: MaxNameLen, MaxRoomNameLength: MaxRoomLen, MaxFilenameLength: MaxFileNameLen},
	}))
	// The client opens the file it was started with once it hears the
	// room's playlist (none: playlists stay the client's own).
	se.write(Encode("Set", map[string]any{"playlistChange": map[string]any{"user": nil, "files": []string{}}}))
	se.write(Encode("Set", map[string]any{"playlistIndex": map[string]any{"user": nil, "index": nil}}))
	tick := time.NewTicker(se.s.opt.StateInterval)
	defer tick.Stop()
	se.timer = time.NewTimer(time.Hour)
	se.timer.Stop()
	defer se.timer.Stop()
	for !se.dead.Load() {
		select {
		case b := <-se.roomIn:
			se.fromRoom(b)
		case r := <-in:
			if r.err != nil {
				se.readError(r.err)
				return
			}
			se.fromClient(r.m)
		case <-tick.C:
			se.sendState(false, false)
		case <-se.timer.C:
			if se.pending {
				se.pending = false
				se.sendState(true, se.pendingSeek)
				se.pendingSeek = false
			}
		case text := <-se.closeCh:
			se.write(ErrorLine(text))
			se.dead.Store(true)
		}
	}
	// The room may have closed the connection while the loop was ending
	// (a flood ends it from Receive): the client still hears why.
	select {
	case text := <-se.closeCh:
		se.write(ErrorLine(text))
	default:
	}
	_ = se.conn.Close()
}

// read runs on its own goroutine: each line must arrive whole within
// IdleTimeout (a client that trickles bytes is cut off).
func (se *session) read(in chan<- readResult, stop <-chan struct{}) {
	for {
		_ = se.conn.SetReadDeadline(time.Now().Add(se.s.opt.IdleTimeout))
		line, err := se.lr.ReadLine()
		var r readResult
		switch {
		case err != nil:
			r.err = err
		case len(line) == 0:
			continue
		default:
			r.m, r.err = DecodeClient(line)
		}
		select {
		case in <- r:
		case <-stop:
			return
		}
		if r.err != nil {
			return
		}
	}
}

func (se *session) readError(err error) {
	switch {
	case errors.Is(err, ErrLineTooLong):
		se.write(ErrorLine("line too long"))
	case errors.Is(err, ErrBadMessage):
		se.write(ErrorLine(err.Error()))
	case isTimeout(err):
		se.write(ErrorLine("timed out: nothing received"))
	}
	se.dead.Store(true)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// write sends one line; a client that does not read is dropped.
func (se *session) write(b []byte) {
	if se.broken.Load() {
		return
	}
	_ = se.conn.SetWriteDeadline(time.Now().Add(se.s.opt.WriteTimeout))
	if _, err := se.conn.Write(b); err != nil {
		se.broken.Store(true)
		se.dead.Store(true)
	}
}

func (se *session) notice(text string) {
	se.chatLine(Encode("Chat", ChatOut{Username: noticeName, Message: text}))
}

// maxHeld bounds the chat lines kept for a client whose player is not up.
const maxHeld = 50

// chatLine sends a Chat line, or keeps it until the client's player is up.
func (se *session) chatLine(b []byte) {
	if se.playerUp {
		se.write(b)
		return
	}
	if len(se.held) >= maxHeld {
		se.held = se.held[1:]
	}
	se.held = append(se.held, b)
}

func (se *session) flushHeld() {
	for _, b := range se.held {
		se.write(b)
	}
	se.held = nil
}

// receive hands the room one message as the member's; false ends the
// session (the room closed it).
func (se *session) receive(m *proto.ClientMessage) {
	if !se.rc.Receive(m) {
		se.dead.Store(true)
	}
}

// ---- names ----

// nameOf is the name the client knows a member by: names are unique in a
// Syncplay room, so a second member with the same name gets a suffix.
func (se *session) nameOf(id, name string) string {
	if n, ok := se.names[id]; ok {
		return n
	}
	n := clip(strings.TrimSpace(name), MaxNameLen-8)
	if n == "" || n == noticeName {
		n = "member"
	}
	if other, ok := se.taken[n]; ok && other != id {
		suffix := id
		if len(suffix) > 4 {
			suffix = suffix[len(suffix)-4:]
		}
		n = n + " (" + suffix + ")"
	}
	se.names[id], se.taken[n] = n, id
	return n
}

// ---- from the room ----

type roomMsg struct {
	Type proto.Type `json:"type"`
	// hello
	You      *wireMember     `json:"you"`
	Members  json.RawMessage `json:"members"`
	Playback *playback.State `json:"playback"`
	Video    *room.Video     `json:"video"`
	Sync     *struct {
		Members map[string]memberSync `json:"members"`
		Held    bool                  `json:"held"`
	} `json:"sync"`
	// member
	Member *wireMember `json:"member"`
	// member_removed
	ID string `json:"id"`
	// chat
	User   string `json:"user"`
	Name   string `json:"name"`
	Text   string `json:"text"`
	System bool   `json:"system"`
	Key    string `json:"key"`
	// playback
	State *playback.State `json:"state"`
	By    string          `json:"by"`
	Held  bool            `json:"held"`
	// error
	Code string `json:"code"`
}

type wireMember struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Presence string `json:"presence"`
	Native   bool   `json:"native"`
}

type memberSync struct {
	Buffering bool `json:"buffering"`
}

func (se *session) fromRoom(b []byte) {
	for _, part := range strings.Split(string(b), "\n") {
		var m roomMsg
		if err := json.Unmarshal([]byte(part), &m); err != nil {
			continue
		}
		se.roomMessage(&m)
	}
}

func (se *session) roomMessage(m *roomMsg) {
	switch m.Type {
	case proto.Hello:
		var list []wireMember
		_ = json.Unmarshal(m.Members, &list)
		for _, w := range list {
			se.member(w, false)
		}
		if m.Sync != nil {
			se.readiness(m.Sync.Members, false)
			se.roomHeld = m.Sync.Held
		}
		se.video = m.Video
		if m.Playback != nil {
			se.state, se.haveState = *m.Playback, true
		}
		// The client's first State seeks it to the room's position.
		se.sendState(true, true)
		if v := se.video; v != nil {
			se.notice("Now playing: " + mediaName(v) + ". Open the same file (or this address) in your player.")
		}
	case proto.Member:
		if m.Member != nil {
			se.member(*m.Member, true)
		}
	case proto.MemberRemoved:
		if p := se.members[m.ID]; p != nil && p.online && m.ID != se.me {
			se.userEvent(p.name, map[string]bool{"left": true})
		}
		delete(se.members, m.ID)
	case proto.SyncMembers:
		var ms map[string]memberSync
		if json.Unmarshal(m.Members, &ms) == nil {
			se.readiness(ms, true)
		}
	case proto.Chat:
		se.chat(m)
	case proto.Playback:
		if m.State != nil {
			se.roomHeld = m.Held
			se.playback(*m.State, m.By)
		}
	case proto.Video:
		se.video = m.Video
		if m.Video != nil {
			se.notice("Now playing: " + mediaName(m.Video) + ".")
			se.checkFile()
		}
	case proto.Error:
		se.roomError(m)
	}
}

func (se *session) member(w wireMember, announce bool) {
	p := se.members[w.ID]
	if p == nil {
		p = &peer{ready: true}
		se.members[w.ID] = p
	}
	p.name = se.nameOf(w.ID, w.Name)
	p.native = w.Native
	online := w.Presence != proto.PresenceOffline
	if announce && online != p.online && w.ID != se.me {
		if online {
			se.userEvent(p.name, map[string]bool{"joined": true})
		} else {
			se.userEvent(p.name, map[string]bool{"left": true})
		}
	}
	p.online = online
}

func (se *session) userEvent(name string, ev map[string]bool) {
	se.write(Encode("Set", map[string]any{"user": map[string]UserEvent{name: {Room: RoomName{Name: se.code}, Event: ev}}}))
}

// readiness passes on who is ready: a member who buffers (or a native
// player not ready) is not.
func (se *session) readiness(ms map[string]memberSync, announce bool) {
	for id, p := range se.members {
		if id == se.me {
			continue
		}
		ready := !ms[id].Buffering
		if ready != p.ready && announce && p.online {
			se.write(Encode("Set", map[string]any{"ready": map[string]any{"username": p.name, "isReady": ready, "manuallyInitiated": false}}))
		}
		p.ready = ready
	}
}

func (se *session) chat(m *roomMsg) {
	if m.Text == "" {
		return
	}
	if m.System {
		if m.Key == "joined" || m.Key == "left" {
			return // the client announces these itself
		}
		se.notice(m.Text)
		return
	}
	se.chatLine(Encode("Chat", ChatOut{Username: se.nameOf(m.User, m.Name), Message: m.Text}))
}

func (se *session) roomError(m *roomMsg) {
	if m.Text != "" {
		se.notice(m.Text)
	}
	switch m.Code {
	case proto.CodeForbidden, proto.CodeNoVideo, proto.CodeBadCommand:
		// A refused command: put the player back where the room is.
		se.commanded = nil
		se.sendState(true, true)
	case proto.CodeRateLimited:
		if se.commanded != nil {
			se.commanded = nil
			se.sendState(true, false)
		}
	}
}

// ---- playback: room -> client ----

// playback takes a new room state: the client hears of it at its instant
// (a scheduled start is sent one forward delay ahead, with the position
// the room will have when the client receives it).
func (se *session) playback(ns playback.State, by string) {
	now := time.Now()
	old, had := se.state, se.haveState
	se.state, se.haveState, se.by = ns, true, by
	se.commanded = nil
	if had && old.Version == ns.Version {
		return
	}
	at := time.UnixMilli(max(ns.UpdatedAt, now.UnixMilli()))
	seek := !had || old.Source != ns.Source ||
		math.Abs(old.PositionAt(at.UnixMilli())-ns.PositionAt(at.UnixMilli())) > 0.05
	se.pendingSeek = se.pendingSeek || seek
	send := now
	if ns.Playing && ns.UpdatedAt > now.UnixMilli() {
		send = time.UnixMilli(ns.UpdatedAt).Add(-se.sendLead())
	}
	if !send.After(now) {
		se.pending = false
		se.sendState(true, se.pendingSeek)
		se.pendingSeek = false
		return
	}
	se.pending = true
	se.timer.Reset(send.Sub(now))
}

// oneWay estimates the time a line takes between server and client: half
// the shortest recent round trip (longer ones include the client's own
// processing).
func (se *session) oneWay() float64 {
	if len(se.rtts) == 0 {
		return 0
	}
	m := se.rtts[0]
	for _, r := range se.rtts[1:] {
		m = min(m, r)
	}
	return m / 2
}

// clientAge is the age the client will add to a playing position it gets:
// its smoothed round trip halved, plus the part of its last round trip the
// server's reported one does not explain (the stock client's rule).
func (se *session) clientAge() float64 {
	fd := se.cliAvg / 2
	if se.sentRTT < se.cliRTT {
		fd += se.cliRTT - se.sentRTT
	}
	return fd
}

// sendLead is how long before a scheduled start its State goes out: the
// time the line takes to arrive.
func (se *session) sendLead() time.Duration {
	return time.Duration(se.oneWay() * float64(time.Second))
}

// virtual is the room's position and pause state to send at now. A playing
// position is the room's at the instant the line arrives, less the age the
// client will add to it; so while a start is scheduled it runs back from
// the start, and the client lands on the room's position.
func (se *session) virtual(now time.Time) (float64, bool) {
	s := se.state
	if !se.haveState || s.Source == "" {
		return 0, true
	}
	if !s.Playing {
		return s.Position, true
	}
	at := float64(now.UnixMicro())/1e6 + se.oneWay() - se.clientAge()
	p := s.Position + (at-float64(s.UpdatedAt)/1000)*s.EffectiveRate()
	if s.Duration > 0 {
		p = min(p, s.Duration)
	}
	return max(p, 0), false
}

// sendState sends the room's state. A forced state (a change) is counted
// in serverIgnoring until the client confirms it; until then only forced
// states go out, as in the stock server.
func (se *session) sendState(forced, doSeek bool) {
	if !forced && (se.serverIgnoring != 0 || se.pending) {
		return
	}
	now := time.Now()
	pos, paused := se.virtual(now)
	st := ServerState{
		Playstate: Playstate{Position: round3(pos), Paused: paused, DoSeek: doSeek},
		Ping:      Ping{LatencyCalculation: float64(now.UnixMicro()) / 1e6, ServerRTT: se.rtt},
	}
	se.sentRTT = se.rtt
	if se.by != "" {
		if p := se.members[se.by]; p != nil {
			st.Playstate.SetBy = &p.name
		}
	}
	if se.clientLC != 0 {
		v := se.clientLC + now.Sub(se.clientLCAt).Seconds()
		st.Ping.ClientLatencyCalculation = &v
		se.clientLC = 0
	}
	if forced {
		se.serverIgnoring++
	}
	if se.serverIgnoring != 0 || se.clientIgnoring != 0 {
		st.Ignoring = &IgnoringOnTheFly{Server: se.serverIgnoring, Client: se.clientIgnoring}
		se.clientIgnoring = 0
	}
	se.write(Encode("State", st))
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// ---- from the client ----

func (se *session) fromClient(m *ClientMessage) {
	if m.State != nil {
		se.clientState(m.State)
	}
	if m.Set != nil {
		se.clientSet(m.Set)
	}
	if m.Chat != nil {
		se.receive(&proto.ClientMessage{Type: proto.Chat, Text: *m.Chat})
	}
	if m.List {
		se.list()
	}
	if m.TLS != nil {
		se.write(Encode("TLS", map[string]string{"startTLS": "false"}))
	}
	if m.Hello != nil {
		se.notice("already logged in")
	}
	if m.Error != nil {
		se.dead.Store(true)
	}
}

func (se *session) clientState(st *State) {
	now := time.Now()
	if st.LatencyCalculation > 0 {
		rtt := float64(now.UnixMicro())/1e6 - st.LatencyCalculation
		if rtt >= 0 && rtt < 10 {
			se.rtt = rtt
			se.rtts = append(se.rtts, rtt)
			if len(se.rtts) > 20 {
				se.rtts = se.rtts[1:]
			}
		}
	}
	if r := st.ClientRTT; r > 0 && r < 10 {
		// The client smooths its round trips so (weight 0.85).
		se.cliRTT = r
		if se.cliAvg == 0 {
			se.cliAvg = r
		}
		se.cliAvg = se.cliAvg*0.85 + r*0.15
	}
	if st.HasPlaystate && !se.playerUp {
		se.playerUp = true
		se.flushHeld()
	}
	if st.ClientLatencyCalculation > 0 {
		se.clientLC, se.clientLCAt = st.ClientLatencyCalculation, now
	}
	if st.IgnoreServer != 0 && st.IgnoreServer == se.serverIgnoring {
		se.serverIgnoring = 0
	}
	if st.IgnoreClient != 0 {
		se.clientIgnoring = st.IgnoreClient
	}
	// Every State counts against the member's report budget (a flood is
	// refused, then closed, by the room), and reports the drift.
	defer func() { se.receive(&proto.ClientMessage{Type: proto.Drift, T: math.Round(se.drift)}) }()
	// A state sent before the client saw the last forced one is stale. While
	// a change waits for its instant, only the client's own changes (which
	// it flags with its counter, or doSeek) are commands.
	// A seek the client flags as its own is taken even then: it was made
	// in the player, and dropping it would let the correction undo it.
	own := st.IgnoreClient != 0 || st.DoSeek
	seekOnly := se.serverIgnoring != 0
	// A pause made in the player while the room holds its start (the
	// client's not-ready, sent just before it, may have held the room
	// before this State is read) is a pause: without it the room would
	// start by itself once the hold times out.
	heldPause := se.roomHeld && st.Paused && !st.DoSeek && st.IgnoreClient != 0
	if (seekOnly && !(st.DoSeek && st.IgnoreClient != 0) && !heldPause) || (se.pending && !own) || !st.HasPlaystate || !se.haveState || se.state.Source == "" {
		return
	}
	if se.commanded != nil && now.After(se.commandedUntil) {
		se.commanded = nil
	}
	fd := se.oneWay()
	roomPaused := !se.state.Playing && !heldPause
	cmd := false
	if st.DoSeek {
		pos := st.Position
		if !st.Paused {
			pos += fd
		}
		se.receive(&proto.ClientMessage{Type: proto.Seek, T: pos})
		cmd = true
	}
	if (!seekOnly || heldPause) && st.Paused != roomPaused && (se.commanded == nil || *se.commanded != st.Paused) {
		typ := proto.Play
		if st.Paused {
			typ = proto.Pause
		}
		p := st.Paused
		se.commanded, se.commandedUntil = &p, now.Add(2*time.Second)
		se.receive(&proto.ClientMessage{Type: typ})
		cmd = true
	}
	if cmd || st.Paused || now.UnixMilli() < se.state.UpdatedAt {
		se.over = 0
		return
	}
	se.correct(st, fd, now)
}

// correct measures how far the player is from the room and, when it stays
// beyond SeekThreshold, seeks it to the room's position.
func (se *session) correct(st *State, fd float64, now time.Time) {
	want := se.state.PositionAt(now.UnixMilli())
	se.drift = (st.Position + fd - want) * 1000
	if math.Abs(se.drift) <= float64(se.s.opt.SeekThreshold.Milliseconds()) {
		se.over = 0
		return
	}
	se.over++
	if se.over < 2 || now.Before(se.correctAfter) {
		return
	}
	se.over = 0
	se.correctAfter = now.Add(3 * time.Second)
	se.sendState(true, true)
}

func (se *session) clientSet(s *Set) {
	if s.Ready != nil {
		se.ready = s.Ready.IsReady
		se.receive(&proto.ClientMessage{Type: proto.Buffering, On: !s.Ready.IsReady})
		se.write(Encode("Set", map[string]any{"ready": map[string]any{"username": se.myName, "isReady": s.Ready.IsReady, "manuallyInitiated": s.Ready.ManuallyInitiated}}))
	}
	if s.File != nil {
		se.file = s.File
		se.checkFile()
	}
	if s.Room != nil && *s.Room != se.code {
		se.write(Encode("Set", map[string]any{"room": RoomName{Name: se.code}}))
		se.notice("this connection belongs to room " + se.code + "; reconnect with another room's command to change rooms")
	}
}

// checkFile warns the native player when its file is not the room's.
func (se *session) checkFile() {
	if se.file == nil || se.video == nil {
		return
	}
	want := mediaName(se.video)
	name := se.file.Name
	sameName := strings.EqualFold(name, want) || strings.EqualFold(name, path.Base(want))
	sameLength := se.state.Duration <= 0 || se.file.Duration <= 0 || math.Abs(se.file.Duration-se.state.Duration) < 2.5
	if sameName && sameLength {
		return
	}
	se.notice("Your file (" + name + ") is not the room's: it plays " + want + ". Open that file, or positions will not match.")
}

// mediaName is the name of the room's media as a native player would have
// it: a library file's name, or the address of anything else.
func mediaName(v *room.Video) string {
	if rel, ok := strings.CutPrefix(v.URL, "media:"); ok && v.Kind == "library" {
		return path.Base(rel)
	}
	return v.URL
}

// list answers List: the members online in the room, each with the room's
// media as their file (so the client's own file check compares with it).
func (se *session) list() {
	users := map[string]ListUser{}
	features := map[string]any{"sharedPlaylists": false, "chat": true, "featureList": true, "readiness": true, "managedRooms": false}
	var roomFile any = map[string]any{}
	if se.video != nil {
		// A length the room does not know yet is taken as the client's, so
		// that only a real difference is shown.
		d := se.state.Duration
		if d <= 0 && se.file != nil {
			d = se.file.Duration
		}
		roomFile = File{Name: mediaName(se.video), Duration: d, Size: 0}
	}
	for id, p := range se.members {
		if !p.online || id == se.me || len(users) >= 100 {
			continue
		}
		users[p.name] = ListUser{File: roomFile, IsReady: p.ready, Features: features}
	}
	var mine any = map[string]any{}
	if se.file != nil {
		mine = se.file
	}
	users[se.myName] = ListUser{File: mine, IsReady: se.ready, Features: features}
	se.write(Encode("List", map[string]any{se.code: users}))
}
