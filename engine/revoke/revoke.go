// Package revoke is the one place through which a lost right reaches every
// live connection it affected. Whatever ends a right (a log-out, a password
// change, a deleted account, a member removed from a room, a role or a
// setting that takes a right away) publishes one Event on the Bus; every
// transport that holds connections (room websockets, the frame relay, frame
// viewers and publishers, WebRTC peers through their room connection)
// subscribes and closes or downgrades what the event names. A new transport
// subscribes once and is covered for every kind of revocation.
package revoke

import "sync"

// Kind is what was revoked.
type Kind uint8

// The kinds of revocation.
const (
	// Session: one log-in session ended (log-out). Event.Session names it.
	Session Kind = iota + 1
	// User: every session of Event.User ended but Event.Keep (a password
	// change keeps the session that made it; a reset keeps none).
	User
	// Deleted: the account Event.User is gone.
	Deleted
	// Everyone: every session ended (`watchparty secret rotate
	// --logout-everyone`).
	Everyone
	// Member: Event.User is no longer a member of Event.Room (removed,
	// left, or the room was deleted: then Event.User is "").
	Member
	// Rights: what members of Event.Room may do changed (a role or the
	// room's settings); Event.User is the member, or "" for everyone.
	// Connections check again what they may still do.
	Rights
)

// Event is one revocation. Sessions are named by their id (the hash of
// the token the store keeps), never by the token itself.
type Event struct {
	Kind    Kind
	User    string
	Session string
	Keep    string
	Room    string
}

// Ends reports whether the event ends a connection of user on session.
func (e Event) Ends(user, session string) bool {
	switch e.Kind {
	case Session:
		return session != "" && session == e.Session
	case User:
		return user == e.User && (e.Keep == "" || session != e.Keep)
	case Deleted:
		return user == e.User
	case Everyone:
		return true
	}
	return false
}

// Bus delivers events to every subscriber, synchronously and in order.
// Subscribers must not block (they close connections; they do not wait for
// them to close) and must not publish.
type Bus struct {
	mu   sync.RWMutex
	subs []func(Event)
}

// Subscribe adds fn to the subscribers.
func (b *Bus) Subscribe(fn func(Event)) {
	b.mu.Lock()
	b.subs = append(b.subs, fn)
	b.mu.Unlock()
}

// Publish hands e to every subscriber. A nil Bus drops it.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.RLock()
	subs := b.subs
	b.mu.RUnlock()
	for _, fn := range subs {
		fn(e)
	}
}
