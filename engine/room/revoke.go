package room

import (
	"context"
	"sync"
	"time"

	"watchparty/engine/revoke"
	"watchparty/engine/room/proto"
)

// connIndex finds live connections by user, for revocations that arrive
// from outside a room (a log-out, a password change, a deleted account).
type connIndex struct {
	mu     sync.Mutex
	byUser map[string]map[*Conn]struct{}
}

func (x *connIndex) add(c *Conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	set := x.byUser[c.user.ID]
	if set == nil {
		set = map[*Conn]struct{}{}
		x.byUser[c.user.ID] = set
	}
	set[c] = struct{}{}
}

func (x *connIndex) remove(c *Conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if set := x.byUser[c.user.ID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(x.byUser, c.user.ID)
		}
	}
}

// matching returns the connections the event ends.
func (x *connIndex) matching(e revoke.Event) []*Conn {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*Conn
	collect := func(set map[*Conn]struct{}) {
		for c := range set {
			if e.Ends(c.user.ID, c.user.Session) {
				out = append(out, c)
			}
		}
	}
	if e.User != "" {
		collect(x.byUser[e.User])
		return out
	}
	for _, set := range x.byUser {
		collect(set)
	}
	return out
}

// logOut ends a connection whose session ended: the page is told why and
// does not reconnect.
func logOut(c *Conn) {
	c.t.Close(proto.ReasonLoggedOut, "You were logged out.")
}

// revoked is the service's subscription to the revocation bus: it never
// blocks (closing a connection only queues its close), and the work a
// deleted account leaves in rooms runs on its own goroutine.
func (s *Service) revoked(e revoke.Event) {
	switch e.Kind {
	case revoke.Session, revoke.User, revoke.Deleted, revoke.Everyone:
		for _, c := range s.conns.matching(e) {
			logOut(c)
		}
	}
	if e.Kind == revoke.Deleted {
		s.cleanup.Add(1)
		go func() {
			defer s.cleanup.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := s.ForgetUser(ctx, e.User); err != nil {
				s.log.Error("removing a deleted account from its rooms", "user", e.User, "err", err)
			}
		}()
	}
}

// publish tells the revocation bus about a member who lost a place or
// rights in this room.
func (a *actor) publish(kind revoke.Kind, user string) {
	a.s.opt.Revoke.Publish(revoke.Event{Kind: kind, Room: a.code, User: user})
}

// expireSessions ends connections whose session has ended, at the latest
// a ping interval after it did.
func (a *actor) expireSessions() {
	now := a.now()
	for _, m := range a.members {
		for _, c := range m.conns {
			if !c.user.Expires.IsZero() && now.After(c.user.Expires) {
				logOut(c)
			}
		}
	}
}
