package room

import (
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"watchparty/embed/i18n"
	"watchparty/engine/limit"
	"watchparty/engine/revoke"
	"watchparty/engine/room/proto"
)

type op uint8

const (
	opExec   op = iota // run fn
	opJoin             // a connection joins
	opLeave            // a connection left
	opClient           // a message from a connection
)

type msg struct {
	op   op
	c    *Conn
	m    *proto.ClientMessage
	fn   func(a *actor) error
	done chan error
	// claim, when set, is taken once: by the actor as it starts fn, or by
	// a caller who stops waiting (Service.exec), so that fn never runs
	// after its caller has returned.
	claim *atomic.Bool
}

// memberState is a member as the actor knows it.
type memberState struct {
	Member
	conns []*Conn
	// budget: the member's own buckets, shared by all of its connections,
	// for the message classes whose effects reach everyone (limits.go).
	budget [numClasses]limit.Bucket
}

func (m *memberState) presence() string {
	if len(m.conns) == 0 {
		return proto.PresenceOffline
	}
	for _, c := range m.conns {
		if !c.away {
			return proto.PresenceOnline
		}
	}
	return proto.PresenceAway
}

type pendingLine struct {
	line *Line
	ref  string
	from *Conn
}

// actor owns one room. Everything below is touched only by its goroutine,
// except refs (guarded by Service.mu).
type actor struct {
	s     *Service
	code  string
	inbox chan msg
	idle  chan struct{}
	refs  int

	err     error // why the room cannot be used (not found, deleted)
	info    *Info
	members map[string]*memberState
	chat    []*Line // the last HistoryLines lines, in order
	seq     uint64
	pending []pendingLine
	online  int        // members with at least one connection
	sync    syncState  // playback, readiness and queue (sync.go, queue.go)
	stream  streamSlot // frame stream changes from the hub (stream.go)
	rtc     *rtcLink   // WebRTC signalling and shares (rtc.go); nil when off

	// pings: each connection has one of pingSlots slots, given in turn
	// as it connects; a tick every PingInterval/pingSlots pings the
	// connections of the next slot.
	nextSlot, pingTick uint8
}

// pingSlots is how many parts a room's connections are pinged in over one
// PingInterval. Pinging them all at once would write to every member in one
// go and bring every answer back together: in a big room, a chat line or a
// play command arriving then would wait behind them all. Spread, each tick
// (a second, by default) pings a twenty-fifth of the room.
const pingSlots = 25

func newActor(s *Service, code string) *actor {
	return &actor{s: s, code: code, inbox: make(chan msg, 64), idle: make(chan struct{}, 1), stream: newStreamSlot(),
		rtc: newRTCLink(s.opt.RTC, code)}
}

// post hands m to the actor; false when the service is closing.
func (a *actor) post(m msg) bool {
	select {
	case a.inbox <- m:
		return true
	case <-a.s.quit:
		return false
	}
}

func (a *actor) load() {
	err := a.s.repo.View(func(tx Tx) error {
		in, err := loadInfo(tx, a.code)
		if err != nil {
			return err
		}
		ms, err := tx.Members(a.code)
		if err != nil {
			return err
		}
		lines, seq, err := loadChat(tx, a.code)
		if err != nil {
			return err
		}
		a.info, a.chat, a.seq = in, lines, seq
		a.members = make(map[string]*memberState, len(ms))
		for id, m := range ms {
			a.members[id] = &memberState{Member: *m}
		}
		return a.loadSync(tx)
	})
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			a.s.log.Error("loading room", "room", a.code, "err", err)
		}
		a.err = err
	}
}

func (a *actor) run() {
	defer a.s.actors.Done()
	defer a.syncStop()
	defer a.videoLeft()
	a.load()
	a.expireGuests()
	ticker := time.NewTicker(max(a.s.opt.PingInterval/pingSlots, 1))
	defer ticker.Stop()
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		select {
		case m := <-a.inbox:
			a.handle(m)
		drain:
			for range 1024 {
				select {
				case m = <-a.inbox:
					a.handle(m)
				default:
					break drain
				}
			}
			a.flush()
		case <-ticker.C:
			if a.pingSome() {
				a.expireSessions()
				a.expireGuests()
			}
			a.flush()
		case <-a.syncWake():
			a.syncTimer()
			a.flush()
		case <-a.stream.wake:
			a.streamChanged()
			a.flush()
		case <-a.rtcWake():
			a.rtcState()
			a.flush()
		case <-a.idle:
			wait := a.s.opt.IdleTimeout
			if a.err != nil {
				wait = 0
			}
			idle.Reset(wait)
		case <-idle.C:
			if a.tryStop() {
				return
			}
		case <-a.s.quit:
			a.s.opt.Metrics.Rooms.Dec()
			a.s.opt.Metrics.Members.Sub(float64(a.online))
			a.flush()
			a.syncShutdown()
			a.rtcClose()
			for _, m := range a.members {
				for _, c := range m.conns {
					c.t.Close(proto.ReasonShutdown, "The server is restarting.")
				}
			}
			return
		}
	}
}

// tryStop ends the actor if nobody holds it and nothing is queued.
func (a *actor) tryStop() bool {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.refs > 0 || len(a.inbox) > 0 || a.online > 0 {
		if a.refs == 0 {
			// Queued messages from members who have since left: look
			// again after handling them.
			select {
			case a.idle <- struct{}{}:
			default:
			}
		}
		return false
	}
	if a.s.rooms[a.code] == a {
		delete(a.s.rooms, a.code)
	}
	a.rtcClose() // under s.mu: a new actor for this code cannot open it first
	a.s.opt.Metrics.Rooms.Dec()
	return true
}

func (a *actor) handle(m msg) {
	if m.op != opClient || m.m.Type != proto.Chat {
		a.flush() // keep the order of lines and everything else
	}
	switch m.op {
	case opExec:
		if m.claim != nil && !m.claim.CompareAndSwap(false, true) {
			return // its caller gave up waiting
		}
		if a.err != nil {
			m.done <- a.err
			return
		}
		m.done <- m.fn(a)
	case opJoin:
		m.done <- a.connect(m.c)
	case opLeave:
		a.disconnect(m.c)
	case opClient:
		if a.err == nil {
			a.client(m.c, m.m)
		}
	}
}

func (a *actor) now() time.Time { return a.s.opt.Now() }

// ---- membership and room records ----

func (a *actor) requireOwner(uid string) error {
	if a.info.Owner != uid {
		return ErrForbidden
	}
	return nil
}

func (a *actor) join(u User, guestRoom string) error {
	if _, banned := a.info.Banned[u.ID]; banned {
		return ErrBanned
	}
	now := a.now()
	if m, ok := a.members[u.ID]; ok {
		return a.s.repo.Update(func(tx Tx) error {
			return tx.TouchUserRoom(u.ID, a.code, m.Role == RoleOwner, now)
		})
	}
	if u.Guest {
		if !a.s.opt.GuestsAllowed || !a.info.Settings.GuestsAllowed {
			return ErrGuestsOff
		}
		if guestRoom != a.code {
			return ErrGuestRoom
		}
	}
	if a.info.Locked {
		return ErrLocked
	}
	m := Member{ID: u.ID, Name: u.Name, Guest: u.Guest, Role: RoleMember, Joined: now.UTC()}
	if u.Guest {
		m.AddrHash = addrHash(u.Addr)
		if b, ok := a.info.GuestBans[m.AddrHash]; ok && m.AddrHash != "" && now.UnixMilli() < b.Until {
			return ErrBanned
		}
		a.expireGuests()
		if a.guests() >= a.s.opt.GuestsPerRoom {
			return ErrTooManyGuests
		}
		m.Expires = now.Add(a.s.opt.GuestTTL).UTC()
	}
	if err := a.s.repo.Update(func(tx Tx) error {
		if err := tx.PutMember(a.code, m); err != nil {
			return err
		}
		if u.Guest {
			return nil
		}
		return tx.TouchUserRoom(u.ID, a.code, false, now)
	}); err != nil {
		return err
	}
	ms := &memberState{Member: m}
	a.members[u.ID] = ms
	a.broadcast(encode(proto.Member, wireMemberMsg{Member: ms.wire()}), "")
	return nil
}

func (m *memberState) wire() wireMember {
	return wireMember{ID: m.ID, Name: m.Name, Guest: m.Guest, Role: m.Role, Presence: m.presence(), Native: m.native()}
}

// native reports whether one of the member's connections is a native
// player's.
func (m *memberState) native() bool {
	for _, c := range m.conns {
		if c.user.Native {
			return true
		}
	}
	return false
}

// updateInfo changes the room record (owner only), persists it, tells every
// member and writes an optional system line (change returns its key, see system, or "").
func (a *actor) updateInfo(by string, change func(in *Info) string) error {
	if err := a.requireOwner(by); err != nil {
		return err
	}
	c := *a.info
	if c.Banned != nil {
		c.Banned = make(map[string]string, len(a.info.Banned))
		for k, v := range a.info.Banned {
			c.Banned[k] = v
		}
	}
	line := change(&c)
	if err := a.s.repo.Update(func(tx Tx) error { return tx.PutRoom(a.code, &c) }); err != nil {
		return err
	}
	a.info = &c
	a.broadcastRoom()
	a.rtcRefresh()
	a.publish(revoke.Rights, "")
	if line != "" {
		a.system(line)
	}
	return nil
}

func (a *actor) mayInvite(m *Member) bool { return a.info.MayInvite(m) }

// roomView is the room as member m sees it.
func (a *actor) roomView(m *Member) wireRoom {
	r := wireRoom{Code: a.code, Display: FormatCode(a.code), Name: a.info.Name, Owner: a.info.Owner,
		Locked: a.info.Locked, Settings: a.info.Settings}
	if a.mayInvite(m) {
		r.Invite = a.info.Invite
	}
	return r
}

// broadcastRoom sends the room to everyone: with the invite link to those
// who may see it, without to the others (each frame marshalled once).
func (a *actor) broadcastRoom() {
	var frames [2]out
	for _, m := range a.members {
		if len(m.conns) == 0 {
			continue
		}
		i := 0
		if a.mayInvite(&m.Member) {
			i = 1
		}
		if frames[i].b == nil {
			frames[i] = encode(proto.Room, wireRoomMsg{Room: a.roomView(&m.Member)})
		}
		for _, c := range m.conns {
			c.send(frames[i])
		}
	}
}

// removeMember ends target's membership: by the owner (kick, with a ban)
// or by the member themselves.
func (a *actor) removeMember(by, target string, ban bool) error {
	if ban || by != target {
		if err := a.requireOwner(by); err != nil {
			return err
		}
	}
	if target == a.info.Owner {
		return ErrOwnerLeave
	}
	m, ok := a.members[target]
	if !ok {
		return ErrInvalidTarget
	}
	c := *a.info
	if ban {
		c.Banned = make(map[string]string, len(a.info.Banned)+1)
		for k, v := range a.info.Banned {
			c.Banned[k] = v
		}
		c.Banned[target] = m.Name
		if m.Guest && m.AddrHash != "" {
			// A guest comes back with a fresh browser as a new guest: the
			// address it joined from is kept out for a day too.
			now := a.now().UnixMilli()
			bans := make(map[string]GuestBan, len(a.info.GuestBans)+1)
			for k, b := range a.info.GuestBans {
				if b.Until > now {
					bans[k] = b
				}
			}
			bans[m.AddrHash] = GuestBan{ID: target, Until: a.now().Add(GuestBanFor).UnixMilli()}
			c.GuestBans = bans
		}
	}
	if err := a.s.repo.Update(func(tx Tx) error {
		if err := tx.DeleteMember(a.code, target); err != nil {
			return err
		}
		if err := tx.DeleteUserRoom(target, a.code); err != nil {
			return err
		}
		if ban {
			return tx.PutRoom(a.code, &c)
		}
		return nil
	}); err != nil {
		return err
	}
	a.info = &c
	reason, text, line := proto.ReasonRemoved, "You left this room.", "left_room"
	if ban {
		reason, text, line = proto.ReasonKicked, "The owner removed you from this room.", "removed"
	}
	for _, cl := range m.conns {
		cl.t.Close(reason, text)
	}
	if len(m.conns) > 0 {
		a.online--
		a.s.opt.Metrics.Members.Dec()
	}
	delete(a.members, target)
	a.rtcRefresh()
	a.publish(revoke.Member, target)
	a.broadcast(encode(proto.MemberRemoved, wireRemoved{ID: target}), "")
	if ban {
		a.broadcastRoom()
	}
	a.system(line, "name", m.Name)
	return nil
}

func (a *actor) setRole(by, target string, role Role) error {
	if err := a.requireOwner(by); err != nil {
		return err
	}
	m, ok := a.members[target]
	if !ok || m.Role == RoleOwner {
		return ErrInvalidTarget
	}
	mm := m.Member
	mm.Role = role
	if err := a.s.repo.Update(func(tx Tx) error { return tx.PutMember(a.code, mm) }); err != nil {
		return err
	}
	m.Member = mm
	a.broadcast(encode(proto.Member, wireMemberMsg{Member: m.wire()}), "")
	a.broadcastRoom() // the invite link follows the role
	a.rtcRefresh()
	a.publish(revoke.Rights, target)
	return nil
}

func (a *actor) delete(by string) error {
	if err := a.requireOwner(by); err != nil {
		return err
	}
	if err := a.s.repo.Update(func(tx Tx) error { return tx.DeleteRoom(a.info) }); err != nil {
		return err
	}
	for _, m := range a.members {
		for _, c := range m.conns {
			c.t.Close(proto.ReasonDeleted, "The owner deleted this room.")
		}
	}
	a.members = map[string]*memberState{}
	a.s.opt.Metrics.Members.Sub(float64(a.online))
	a.online = 0
	a.chat = nil
	a.err = ErrNotFound
	a.rtcClose()
	if a.s.opt.Streams != nil {
		a.s.opt.Streams.Stop(a.code)
	}
	a.publish(revoke.Member, "")
	return nil
}

// ---- connections ----

func (a *actor) connect(c *Conn) error {
	if a.err != nil {
		return a.err
	}
	m, ok := a.members[c.user.ID]
	if !ok {
		if _, banned := a.info.Banned[c.user.ID]; banned {
			return ErrBanned
		}
		return ErrNotMember
	}
	if len(m.conns) == 0 && a.online >= a.s.opt.MembersPerRoom {
		return ErrRoomFull
	}
	if len(m.conns) >= MaxConnsPerMember {
		return ErrTooManyTabs
	}
	now := a.now()
	_ = a.s.repo.Update(func(tx Tx) error {
		if m.Guest {
			return nil
		}
		return tx.TouchUserRoom(m.ID, a.code, m.Role == RoleOwner, now)
	})
	before, wasNative := m.presence(), m.native()
	m.conns = append(m.conns, c)
	c.pingSlot = a.nextSlot
	a.nextSlot = (a.nextSlot + 1) % pingSlots
	a.syncJoined(c)
	if before == proto.PresenceOffline {
		a.online++
		a.s.opt.Metrics.Members.Inc()
	}
	c.send(a.hello(m, now))
	if after := m.presence(); after != before || m.native() != wasNative {
		a.broadcast(encode(proto.Member, wireMemberMsg{Member: m.wire()}), "")
		if before == proto.PresenceOffline {
			a.system("joined", "name", m.Name)
		}
	}
	return nil
}

func (a *actor) hello(m *memberState, now time.Time) out {
	members := a.memberList()
	total := len(members)
	if len(members) > HelloMembers {
		members = members[:HelloMembers]
	}
	chat, more := a.historyPage(0)
	webrtc, share := a.rtcHello()
	return encode(proto.Hello, wireHello{
		V:       proto.Version,
		You:     wireYou{ID: m.ID, Name: m.Name, Guest: m.Guest, Role: m.Role},
		Room:    a.roomView(&m.Member),
		Members: members, MembersTotal: total, Chat: chat, HistoryMore: more, Video: a.info.Video,
		Time:      now.UnixMilli(),
		Limits:    wireLimits{ChatChars: MaxChatRunes, MessageBytes: proto.MaxMessageSize, ChatPer10s: a.s.opt.ChatPer10s},
		Reactions: Reactions(),
		PingMS:    a.s.opt.PingInterval.Milliseconds(),
		Playback:  a.helloPlayback(), Queue: a.helloQueue(), Sync: a.syncHello(),
		Stream: a.streamHello(),
		WebRTC: webrtc, Share: share,
	})
}

func (a *actor) disconnect(c *Conn) {
	m, ok := a.members[c.user.ID]
	if !ok {
		return
	}
	i := -1
	for j, x := range m.conns {
		if x == c {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	before, wasNative := m.presence(), m.native()
	m.conns[i] = m.conns[len(m.conns)-1]
	m.conns[len(m.conns)-1] = nil
	m.conns = m.conns[:len(m.conns)-1]
	if len(m.conns) == 0 {
		m.conns = nil
		a.online--
		a.s.opt.Metrics.Members.Dec()
	}
	a.syncLeft(c)
	if after := m.presence(); after != before || m.native() != wasNative {
		a.broadcast(encode(proto.Member, wireMemberMsg{Member: m.wire()}), "")
		if after == proto.PresenceOffline {
			a.system("left", "name", m.Name)
		}
	}
}

// pingSome pings the connections of the next slot; true once every slot
// has had its turn (a whole PingInterval since the last true).
func (a *actor) pingSome() bool {
	slot := a.pingTick
	a.pingTick = (a.pingTick + 1) % pingSlots
	for _, m := range a.members {
		for _, c := range m.conns {
			if c.pingSlot == slot {
				c.t.Ping()
			}
		}
	}
	return a.pingTick == 0
}

// broadcast sends one encoded message to every connection, except those of
// the user skip.
func (a *actor) broadcast(frame out, skip string) {
	for id, m := range a.members {
		if id == skip {
			continue
		}
		for _, c := range m.conns {
			c.send(frame)
		}
	}
}

// ---- client messages ----

func (a *actor) client(c *Conn, cm *proto.ClientMessage) {
	m, ok := a.members[c.user.ID]
	if !ok {
		return // removed; its connection is closing
	}
	switch cm.Type {
	case proto.Chat:
		a.chatMsg(c, m, cm)
	case proto.Typing:
		now := a.now()
		// Pass on changes, and a repeated "on" at most every 2 s.
		if cm.On == c.typing && (!cm.On || now.Sub(c.lastTyping) < 2*time.Second) {
			return
		}
		c.typing = cm.On
		if cm.On {
			c.lastTyping = now
		}
		a.broadcast(encode(proto.Typing, wireTyping{User: m.ID, On: cm.On}), m.ID)
	case proto.Presence:
		before := m.presence()
		switch cm.State {
		case proto.PresenceAway:
			c.away = true
		case proto.PresenceOnline:
			c.away = false
		default:
			c.sendError(proto.CodeBadMessage, `state must be "online" or "away"`, cm.Ref, 0)
			return
		}
		if m.presence() != before {
			a.broadcast(encode(proto.Member, wireMemberMsg{Member: m.wire()}), "")
		}
	case proto.React:
		a.react(c, m, cm)
	case proto.Video:
		a.video(c, m, cm)
	case proto.StreamStart, proto.StreamStop:
		a.streamMsg(c, m, cm)
	case proto.Members:
		a.membersPage(c, cm)
	case proto.History:
		lines, more := a.historyPage(cm.Seq)
		c.send(encode(proto.History, wireHistory{Lines: lines, More: more, Ref: cm.Ref}))
	default:
		if a.syncMsg(c, m, cm) {
			return
		}
		c.sendError(proto.CodeUnknownType, fmt.Sprintf("unknown message type %q", cm.Type), cm.Ref, 0)
	}
}

func (a *actor) chatMsg(c *Conn, m *memberState, cm *proto.ClientMessage) {
	text := cm.Text
	if !utf8.ValidString(text) {
		c.sendError(proto.CodeBadMessage, "the message is not valid text", cm.Ref, 0)
		return
	}
	if n := utf8.RuneCountInString(text); n == 0 || isBlank(text) {
		c.sendError(proto.CodeEmpty, "the message is empty", cm.Ref, 0)
		return
	} else if n > MaxChatRunes {
		c.sendError(proto.CodeTooLong, fmt.Sprintf("a message may be at most %d characters (this one has %d)", MaxChatRunes, n), cm.Ref, 0)
		return
	}
	if !a.allow(c, m, cm) {
		return
	}
	now := a.now()
	c.typing = false // clients stop showing "typing" on the author's line
	a.addLine(&Line{User: m.ID, Name: m.Name, Guest: m.Guest, Text: text, Time: now.UnixMilli()}, cm.Ref, c)
}

// allow takes one message of cm's class from the member's own budget
// (memberPer10s), shared by all of the member's connections, or answers
// rate_limited: a member with many tabs gets no more than with one.
func (a *actor) allow(c *Conn, m *memberState, cm *proto.ClientMessage) bool {
	n := a.s.memberPer10s(classOf(cm.Type))
	ok, wait := m.budget[classOf(cm.Type)].Take(a.now(), n, float64(n)/10)
	if !ok {
		c.sendError(proto.CodeRateLimited, fmt.Sprintf("slow down: at most %d messages per 10 seconds; try again in %.1f s", n, wait.Seconds()), cm.Ref, wait.Milliseconds()+1)
	}
	return ok
}

func isBlank(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\u00a0', '\u200b':
		default:
			return false
		}
	}
	return true
}

// system adds a system line: key names its kind (its English text is
// "sys_"+key in the string catalogues, embed/i18n, which pages use to show
// it in their own language) and pairs are its values, name then value.
func (a *actor) system(key string, pairs ...string) {
	var args Args
	if len(pairs) > 1 {
		m := make(map[string]string, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			m[pairs[i]] = pairs[i+1]
		}
		args = newArgs(m)
	}
	text := i18n.Get(i18n.Default).Format("sys_"+key, stringsToAny(pairs)...)
	a.addLine(&Line{System: true, Text: text, Key: key, Args: args, Time: a.now().UnixMilli()}, "", nil)
}

func stringsToAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// addLine numbers a line and queues it; flush persists and sends it.
func (a *actor) addLine(l *Line, ref string, from *Conn) {
	a.seq++
	l.Seq = a.seq
	a.pending = append(a.pending, pendingLine{line: l, ref: ref, from: from})
}

// flush persists the queued lines in one transaction, then sends them to
// every member as one frame. A line is sent (and so acknowledged to its
// author) only after it is in the store.
func (a *actor) flush() {
	if len(a.pending) == 0 {
		return
	}
	pending := a.pending
	a.pending = a.pending[:0]
	err := a.s.repo.Update(func(tx Tx) error {
		for _, p := range pending {
			if err := tx.PutLine(a.code, p.line); err != nil {
				return err
			}
			if p.line.Seq > HistoryLines {
				if err := tx.DeleteLine(a.code, p.line.Seq-HistoryLines); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		a.s.log.Error("saving chat", "room", a.code, "err", err)
		a.seq -= uint64(len(pending))
		for _, p := range pending {
			if p.from != nil {
				p.from.sendError(proto.CodeUnavailable, "the server could not save your message; try again", p.ref, 0)
			}
		}
		clear(pending)
		return
	}
	var frame out
	if len(pending) == 1 {
		frame = encode(proto.Chat, wireLine{Line: pending[0].line, Ref: pending[0].ref})
	} else {
		// Several lines go out as one batch of chat messages.
		frame = out{typ: proto.Chat, b: make([]byte, 0, len(pending)*160)}
		for i, p := range pending {
			if i > 0 {
				frame.b = append(frame.b, '\n')
			}
			frame.b = append(frame.b, encode(proto.Chat, wireLine{Line: p.line, Ref: p.ref}).b...)
		}
	}
	for _, p := range pending {
		a.chat = append(a.chat, p.line)
	}
	if n := len(a.chat); n > 2*HistoryLines {
		a.chat = append(a.chat[:0:0], a.chat[n-HistoryLines:]...)
	}
	clear(pending)
	a.broadcast(frame, "")
}

// history returns the kept lines (the ring may hold a few more).
func (a *actor) history() []*Line {
	if n := len(a.chat); n > HistoryLines {
		return a.chat[n-HistoryLines:]
	}
	return a.chat
}

func (a *actor) line(seq uint64) *Line {
	h := a.history()
	i := sort.Search(len(h), func(i int) bool { return h[i].Seq >= seq })
	if i < len(h) && h[i].Seq == seq {
		return h[i]
	}
	return nil
}

func (a *actor) react(c *Conn, m *memberState, cm *proto.ClientMessage) {
	if !validReaction(cm.Emoji) {
		c.sendError(proto.CodeBadMessage, "reactions are limited to a fixed set of emoji", cm.Ref, 0)
		return
	}
	l := a.line(cm.Seq)
	if l == nil || l.System {
		c.sendError(proto.CodeNotFound, "no such message (only recent messages can get reactions)", cm.Ref, 0)
		return
	}
	if !a.allow(c, m, cm) {
		return
	}
	users := l.Reactions[cm.Emoji]
	on := true
	next := make([]string, 0, len(users)+1)
	for _, u := range users {
		if u == m.ID {
			on = false
			continue
		}
		next = append(next, u)
	}
	if on {
		next = append(next, m.ID)
	}
	cp := *l
	cp.Reactions = make(map[string][]string, len(l.Reactions)+1)
	for k, v := range l.Reactions {
		cp.Reactions[k] = v
	}
	if len(next) == 0 {
		delete(cp.Reactions, cm.Emoji)
	} else {
		cp.Reactions[cm.Emoji] = next
	}
	if err := a.s.repo.Update(func(tx Tx) error { return tx.PutLine(a.code, &cp) }); err != nil {
		c.sendError(proto.CodeUnavailable, "the server could not save your reaction; try again", cm.Ref, 0)
		return
	}
	// Lines already sent in a hello are shared and never modified: replace.
	for i := len(a.chat) - 1; i >= 0; i-- {
		if a.chat[i] == l {
			a.chat[i] = &cp
			break
		}
	}
	a.broadcast(encode(proto.React, wireReact{Seq: cp.Seq, Emoji: cm.Emoji, User: m.ID, On: on}), "")
}

// may reports whether m's role reaches the room's level for an action;
// when it does not, c is told that it may not (what).
func (a *actor) may(c *Conn, m *memberState, cm *proto.ClientMessage, lvl Level, what string) bool {
	if lvl.Allows(m.Role) {
		return true
	}
	c.sendError(proto.CodeForbidden, "you may not "+what+" in this room", cm.Ref, 0)
	return false
}

func (a *actor) video(c *Conn, m *memberState, cm *proto.ClientMessage) {
	if !a.may(c, m, cm, a.info.Settings.ChangeVideo, "change the video") {
		return
	}
	v, err := a.parseLink(cm.URL)
	if err != nil {
		c.sendError(proto.CodeBadLink, err.Error(), cm.Ref, 0)
		return
	}
	if !a.allow(c, m, cm) {
		return
	}
	v.By = m.ID
	v.At = a.now().UnixMilli()
	in := *a.info
	in.Video = &v
	if err := a.s.repo.Update(func(tx Tx) error { return tx.PutRoom(a.code, &in) }); err != nil {
		c.sendError(proto.CodeUnavailable, "the server could not save the video; try again", cm.Ref, 0)
		return
	}
	a.info = &in
	a.broadcast(encode(proto.Video, wireVideo{Video: &v, Ref: cm.Ref}), "")
	a.syncVideo(&v, m.ID)
	what := v.URL
	if v.Title != "" {
		what = v.Title
	}
	a.system("video", "name", m.Name, "what", what)
}
