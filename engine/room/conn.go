package room

import (
	"time"

	"watchparty/engine/room/proto"
)

// Transport carries one member connection's messages out of the room: a
// websocket (engine/room/ws), a Syncplay client, a test, or a proxy for a
// member connected to another node. The room calls it from its actor and
// from the connection's own Receive calls, so an implementation must be safe
// for concurrent use and must never block: it queues and returns.
type Transport interface {
	// Send queues msg: one or more encoded messages of type typ, separated
	// by '\n'. msg is shared with other members and never modified. Send
	// returns false when the transport is closed, or could not keep up and
	// closed itself (the member then leaves).
	Send(typ proto.Type, msg []byte) bool
	// Close sends the closed message for reason (a proto.Reason*) with
	// text for people, then ends the connection. Later sends are dropped.
	Close(reason, text string)
	// Ping asks the transport to check that its peer is alive (a websocket
	// ping). The room calls it every ping interval.
	Ping()
}

// Conn is one live connection of a member in a room, as its transport sees
// it: Service.Connect makes it, the transport hands it every message the
// member sends (Receive, one at a time) and ends it with Leave.
type Conn struct {
	t    Transport
	user User
	room *actor
	s    *Service

	// Owned by the transport's reader (Receive).
	budget connBudget
	rtc    rtcConn

	// Owned by the room's actor.
	away       bool
	typing     bool
	lastTyping time.Time
	pingSlot   uint8 // when in the PingInterval it is pinged (actor.pingSome)
}

// User is the member the connection belongs to.
func (c *Conn) User() User { return c.user }

// Connect makes t a connection of member u in the room code: the room
// checks the membership (again: a kick may race the transport's own checks)
// and sends the hello through t before Connect returns.
func (s *Service) Connect(code string, u User, t Transport) (*Conn, error) {
	a, err := s.acquire(code)
	if err != nil {
		return nil, err
	}
	c := &Conn{t: t, user: u, room: a, s: s}
	s.conns.add(c)
	done := make(chan error, 1)
	if !a.post(msg{op: opJoin, c: c, done: done}) {
		err = ErrClosed
	} else {
		select {
		case err = <-done:
		case <-s.quit:
			err = ErrClosed
		}
	}
	if err != nil {
		s.conns.remove(c)
		s.release(a)
		return nil, err
	}
	return c, nil
}

// Receive handles one message the member sent. Every message is first
// counted against the connection's budget for its class (limits.go): this is
// the one place every transport's messages pass. Receive returns false when
// the connection must end: the room is gone, or the connection kept sending
// after being told to slow down (then it was closed).
func (c *Conn) Receive(m *proto.ClientMessage) bool {
	cl := classOf(m.Type)
	switch v, wait := c.budget.check(time.Now(), cl, c.s.budget(cl)); v {
	case answerLimited:
		c.sendError(proto.CodeRateLimited, "slow down: too many messages of this kind; try again in a moment", m.Ref, wait.Milliseconds()+1)
		return true
	case drop:
		return true
	case flood:
		c.s.log.Info("closed a connection that kept sending after being told to slow down", "user", c.user.ID, "room", c.room.code)
		c.t.Close(proto.ReasonFlood, "Too many messages: this connection was closed.")
		return false
	}
	switch m.Type {
	case proto.RTC:
		return c.s.rtcMessage(c.room, c, &c.rtc, m)
	case proto.Ping:
		// Answered at once on the reader: the page's clock sync measures
		// the round trip, which must not include the actor's queue.
		c.t.Send(proto.Pong, proto.AppendPong(make([]byte, 0, 48), m.T, c.s.opt.Now().UnixMilli()))
		return true
	}
	return c.room.post(msg{op: opClient, c: c, m: m})
}

// Leave ends the connection: the transport calls it once, when it stops
// reading. The member goes offline when it was their last connection.
func (c *Conn) Leave() {
	c.s.rtcGone(c.room, c, &c.rtc)
	c.room.post(msg{op: opLeave, c: c})
	c.s.conns.remove(c)
	c.s.release(c.room)
}

// send queues one server message for this connection.
func (c *Conn) send(o out) bool { return c.t.Send(o.typ, o.b) }

// sendError answers with an error message (see proto.ErrorMessage).
func (c *Conn) sendError(code, text, ref string, retryMS int64) {
	c.t.Send(proto.Error, proto.ErrorMessage(code, text, ref, retryMS))
}

// PingInterval is how often the room pings each connection (Transport.Ping)
// and tells pages to expect it: a transport closes a connection that stays
// silent for two intervals and a grace.
func (s *Service) PingInterval() time.Duration { return s.opt.PingInterval }

// MaxMessageSize is the largest message a member may send: rtc messages
// may use proto.MaxRTCMessageSize when WebRTC is on, every other message
// proto.MaxMessageSize.
func (s *Service) MaxMessageSize() int {
	if s.opt.RTC != nil {
		return proto.MaxRTCMessageSize
	}
	return proto.MaxMessageSize
}
