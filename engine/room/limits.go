package room

import (
	"time"

	"watchparty/engine/limit"
	"watchparty/engine/room/proto"
)

// Every client message is counted against a per-connection budget for its
// class before it reaches the room (Conn.Receive, on the transport's reader), so
// no message type can make the room, its store or its other members work
// faster than this table allows. Messages whose effects are stored or sent
// to everyone (chat, reactions, video changes, playback and queue commands,
// streams) are also counted per member in the room (memberPer10s, shared by
// all of a member's connections), so many tabs buy no more than one.

// msgClass groups the client message types that share a budget.
type msgClass uint8

const (
	classChat     msgClass = iota // chat, react, video
	classTyping                   // typing
	classPresence                 // presence
	classControl                  // play, pause, seek, rate, queue_next
	classQueue                    // queue_add, queue_remove, queue_move, queue_clear
	classReport                   // buffering, drift, duration, ended
	classStream                   // stream_start, stream_stop
	classRTC                      // rtc signalling
	classPing                     // ping (clock synchronisation)
	classPage                     // members, history (pages of the room's lists)
	classOther                    // unknown types (answered unknown_type)
	numClasses
)

// classBudget is a class's burst and refill rate per connection, and
// whether a refused message is answered (rate_limited) or dropped quietly
// (messages a page sends on its own and that the next one supersedes).
type classBudget struct {
	burst     int
	perSecond float64
	quiet     bool
}

// baseBudget is the one table of per-connection message budgets. The chat
// class is scaled from limits.chat_per_10s and the control and queue
// classes from limits.commands_per_10s (see Service.budget).
func baseBudget(cl msgClass) classBudget {
	switch cl {
	case classChat, classControl, classQueue:
		return classBudget{burst: 20, perSecond: 2}
	case classTyping, classPresence:
		return classBudget{burst: 5, perSecond: 1, quiet: true}
	case classReport:
		return classBudget{burst: 30, perSecond: 5, quiet: true}
	case classStream:
		return classBudget{burst: 10, perSecond: 0.5}
	case classRTC:
		return classBudget{burst: 60, perSecond: 20}
	case classPing:
		return classBudget{burst: 16, perSecond: 2, quiet: true}
	case classPage:
		return classBudget{burst: 10, perSecond: 1}
	}
	return classBudget{burst: 10, perSecond: 1} // classOther
}

// classOf is the class of a client message type.
func classOf(typ proto.Type) msgClass {
	switch typ {
	case proto.Chat, proto.React, proto.Video:
		return classChat
	case proto.Typing:
		return classTyping
	case proto.Presence:
		return classPresence
	case proto.Play, proto.Pause, proto.Seek, proto.Rate, proto.QueueNext:
		return classControl
	case proto.QueueAdd, proto.QueueRemove, proto.QueueMove, proto.QueueClear:
		return classQueue
	case proto.Buffering, proto.Drift, proto.Duration, proto.Ended:
		return classReport
	case proto.StreamStart, proto.StreamStop:
		return classStream
	case proto.RTC:
		return classRTC
	case proto.Ping:
		return classPing
	case proto.Members, proto.History:
		return classPage
	}
	return classOther
}

// MaxConnsPerMember bounds one member's connections to a room (tabs and
// devices): per-connection budgets do not multiply past it.
const MaxConnsPerMember = 10

// floodLimit is how many refused messages a connection may send within
// floodWindow before it is closed: a client that keeps sending after being
// told to slow down is not a person.
const (
	floodLimit  = 200
	floodWindow = 10 * time.Second
)

// connBudget is a connection's buckets, kept by its reader goroutine.
type connBudget struct {
	b       [numClasses]limit.Bucket
	refused int
	since   time.Time
}

// verdict of a message against its connection's budget.
type verdict uint8

const (
	admit         verdict = iota
	answerLimited         // answer rate_limited
	drop                  // drop quietly
	flood                 // close the connection
)

// check takes a message of class cl from the budget.
func (cb *connBudget) check(now time.Time, cl msgClass, b classBudget) (verdict, time.Duration) {
	ok, wait := cb.b[cl].Take(now, b.burst, b.perSecond)
	if ok {
		return admit, 0
	}
	if now.Sub(cb.since) > floodWindow {
		cb.refused, cb.since = 0, now
	}
	cb.refused++
	if cb.refused > floodLimit {
		return flood, wait
	}
	if b.quiet {
		return drop, wait
	}
	return answerLimited, wait
}

// budget is class cl's budget on this service.
func (s *Service) budget(cl msgClass) classBudget {
	b := baseBudget(cl)
	switch cl {
	case classChat:
		// The member's own bucket (ChatPer10s per 10 s) is the real limit;
		// a connection may burst to it.
		b.burst = max(b.burst, s.opt.ChatPer10s)
		b.perSecond = max(b.perSecond, float64(s.opt.ChatPer10s)/10)
	case classControl, classQueue:
		if s.opt.CommandsPer10s > 0 {
			b.burst = s.opt.CommandsPer10s
			b.perSecond = float64(s.opt.CommandsPer10s) / 10
		}
	}
	return b
}

// memberPer10s is a member's own budget (per 10 s, all connections
// together) for the classes whose effects are stored or reach everyone.
func (s *Service) memberPer10s(cl msgClass) int {
	switch cl {
	case classChat:
		return s.opt.ChatPer10s
	case classStream:
		return baseBudget(classStream).burst
	}
	if s.opt.CommandsPer10s > 0 {
		return s.opt.CommandsPer10s
	}
	return baseBudget(cl).burst
}
