package frames

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"watchparty/engine/frames/token"
	"watchparty/engine/frames/wire"
)

// Errors of the access checks.
var (
	ErrForbidden     = errors.New("frames: not allowed in this room's stream")
	ErrTokenRevoked  = errors.New("frames: the token was revoked")
	errNoTokenSigner = errors.New("frames: access needs a token signer")
)

// Rights are what a member may do with a room's stream now.
type Rights struct {
	View    bool // a member of the room
	Publish bool // may change the video
}

// Members answers who may use a room's stream; the room service backs it.
type Members interface {
	// StreamRights returns member's rights in room now. A room or member
	// that does not exist has none.
	StreamRights(ctx context.Context, room, member string) (Rights, error)
}

// Epochs keeps the revocation epoch of each (room, member). A token carries
// the epoch of its subject at issue; one older than the current epoch is
// refused. An epoch need not outlive the longest token lifetime, after
// which no token from before it can be valid anyway.
type Epochs interface {
	Epoch(room, member string) (uint64, error)
	SetEpoch(room, member string, epoch uint64, keep time.Duration) error
}

// AccessOptions configure an Access.
type AccessOptions struct {
	Tokens *token.Signer
	// Members, when set, is asked at every handshake whether the token's
	// subject still belongs to the room in the role it asks for.
	Members Members
	// Epochs keeps the revocation epochs (nil: in memory, lost on restart).
	Epochs Epochs
	// Hub is where Revoke closes what a member may no longer watch or run.
	Hub *Hub
	// TTL is the lifetime of the tokens Issue hands out (at most the
	// signer's maximum).
	TTL time.Duration
	Now func() time.Time
}

// Access decides who may view and publish a room's stream: it issues
// tokens, admits every handshake (TCP viewers and publishers; the browser
// relay re-checks membership the same way) against the token, the
// member's revocation epoch and the member's rights at that moment, and
// revokes: a kick, a demotion or a settings change ends the member's live
// connections and the tokens it holds at once. It is safe for concurrent
// use.
type Access struct {
	o  AccessOptions
	mu sync.Mutex // serializes epoch bumps
}

// NewAccess returns an Access.
func NewAccess(o AccessOptions) (*Access, error) {
	if o.Tokens == nil {
		return nil, errNoTokenSigner
	}
	if o.Epochs == nil {
		o.Epochs = &memoryEpochs{m: map[[2]string]uint64{}}
	}
	if o.TTL <= 0 || o.TTL > o.Tokens.MaxTTL() {
		o.TTL = o.Tokens.MaxTTL()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Access{o: o}, nil
}

// Issue returns a token admitting member to room in role, and when it
// expires. The caller has checked that member may have it.
func (a *Access) Issue(room, member string, role wire.Role) (string, time.Time, error) {
	epoch, err := a.epoch(room, member)
	if err != nil {
		return "", time.Time{}, err
	}
	tok := a.o.Tokens.Issue(room, string(role), member, epoch, a.o.TTL)
	return tok, a.o.Now().Add(a.o.TTL), nil
}

// Admit checks a handshake: the token for room and role, the subject's
// revocation epoch, and the subject's rights now. It returns the subject.
func (a *Access) Admit(ctx context.Context, tok, room string, role wire.Role) (string, error) {
	c, err := a.o.Tokens.Verify(tok, room, string(role), a.o.Now())
	if err != nil {
		return "", err
	}
	epoch, err := a.epoch(room, c.Subject)
	if err != nil {
		return "", err
	}
	if c.Epoch < epoch {
		return "", fmt.Errorf("%w: issued before the member's access changed", ErrTokenRevoked)
	}
	if a.o.Members == nil {
		return c.Subject, nil
	}
	r, err := a.o.Members.StreamRights(ctx, room, c.Subject)
	if err != nil {
		return "", fmt.Errorf("frames: checking the member: %w", err)
	}
	switch {
	case !r.View:
		return "", fmt.Errorf("%w: %s is not a member of the room", ErrForbidden, c.Subject)
	case role == wire.RolePublisher && !r.Publish:
		return "", fmt.Errorf("%w: %s may not change the video in this room", ErrForbidden, c.Subject)
	}
	return c.Subject, nil
}

// Revoke is told that member's rights in room shrank to left: the tokens
// member holds for room die (its epoch moves on), and the viewers and
// publications it may no longer have are closed. Member "" means the room
// is gone: everything of the room's stream is closed.
func (a *Access) Revoke(room, member string, left Rights) error {
	var err error
	if member != "" {
		err = a.bump(room, member)
	}
	if a.o.Hub != nil {
		a.o.Hub.Revoke(room, member, left.View, left.Publish)
	}
	return err
}

// AnyRoom and Everyone are the wildcard keys of epochs: a user's epoch in
// every room (AnyRoom, member) and everyone's (AnyRoom, Everyone).
const (
	AnyRoom  = "*"
	Everyone = "*"
)

// epoch is the newest of member's epochs: in room, in every room, and
// everyone's. A token issued before it is revoked.
func (a *Access) epoch(room, member string) (uint64, error) {
	var newest uint64
	for _, k := range [...][2]string{{room, member}, {AnyRoom, member}, {AnyRoom, Everyone}} {
		e, err := a.o.Epochs.Epoch(k[0], k[1])
		if err != nil {
			return 0, fmt.Errorf("frames: token epoch: %w", err)
		}
		newest = max(newest, e)
	}
	return newest, nil
}

// RevokeUser ends everything member has in the streams of every room: the
// tokens it holds die and its viewers and publications close (its password
// changed or its account is gone). Member Everyone ends everyone's.
func (a *Access) RevokeUser(member string) error {
	err := a.bump(AnyRoom, member)
	if a.o.Hub != nil {
		if member == Everyone {
			member = ""
		}
		a.o.Hub.Revoke("", member, false, false)
	}
	return err
}

// bump moves member's epoch past every token issued so far: to the current
// time in milliseconds, or one more than the last epoch if the clock is
// behind it. Epochs therefore grow even across restarts and expired keys.
func (a *Access) bump(room, member string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, err := a.o.Epochs.Epoch(room, member)
	if err != nil {
		return fmt.Errorf("frames: token epoch: %w", err)
	}
	next := max(cur+1, uint64(a.o.Now().UnixMilli()))
	keep := a.o.Tokens.MaxTTL() + time.Minute
	if err := a.o.Epochs.SetEpoch(room, member, next, keep); err != nil {
		return fmt.Errorf("frames: token epoch: %w", err)
	}
	return nil
}

// memoryEpochs keeps epochs in memory, for servers without a store.
type memoryEpochs struct {
	mu sync.Mutex
	m  map[[2]string]uint64
}

func (e *memoryEpochs) Epoch(room, member string) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[[2]string{room, member}], nil
}

func (e *memoryEpochs) SetEpoch(room, member string, epoch uint64, _ time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[[2]string{room, member}] = epoch
	return nil
}
