package room

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/config"
	"watchparty/engine/metrics"
	"watchparty/engine/revoke"
	"watchparty/engine/rtc"
)

// Options configure the room service. Zero values take the defaults.
type Options struct {
	// Repo keeps the rooms (NewBadger: in the store).
	Repo Repo
	Log  *slog.Logger
	// ParseLink turns a pasted link into a Video, or explains what is accepted.
	ParseLink func(raw string) (Video, error)
	// GuestsAllowed is the server-wide switch; each room also opts in.
	GuestsAllowed  bool
	ChatPer10s     int           // chat lines a member may send per 10 s (20)
	CommandsPer10s int           // playback and queue commands per connection per 10 s (20)
	GuestsPerRoom  int           // guest members one room may have (100)
	GuestTTL       time.Duration // a guest's membership ends with its session (12 h)
	QueueLength    int           // videos in a room's queue (200)
	LinkBytes      int           // longest link a member may share or queue (2048)
	MembersPerRoom int           // members connected at once (500)
	RoomsPerUser   int           // rooms one user may own (50)
	IdleTimeout    time.Duration // an empty room's actor lives this long (30 s)
	PingInterval   time.Duration // each transport is pinged once per interval, spread over it (25 s)
	Sync           SyncOptions   // synchronized playback (sync.go)
	Streams        Streamer      // frame streams (stream.go); nil: none
	RTC            *rtc.SFU      // screen, camera and voice sharing (rtc.go); nil: off
	// VideoLeft is told when a room leaves a video: another one starts or
	// the room's actor stops (media.go). It must not block.
	VideoLeft func(room, source, kind string, position, duration float64)
	// Revoke: the service closes connections whose session or account
	// ends, and publishes members who lose their place or rights (revoke.go).
	Revoke *revoke.Bus
	// Metrics counts live rooms and connected members; zero: a set of
	// its own that nothing serves.
	Metrics metrics.Room
	Now     func() time.Time
}

// OptionsFrom takes the room limits and the sync options of a
// configuration; the caller adds the store, the log and the other services.
func OptionsFrom(cfg *config.Config) Options {
	return Options{
		GuestsAllowed:  cfg.Guests.Allowed,
		ChatPer10s:     cfg.Limits.ChatPer10s,
		CommandsPer10s: cfg.Limits.CommandsPer10s,
		GuestsPerRoom:  cfg.Limits.GuestsPerRoom,
		GuestTTL:       cfg.Guests.TTL,
		QueueLength:    cfg.Limits.QueueLength,
		LinkBytes:      cfg.Limits.LinkBytes,
		MembersPerRoom: cfg.Limits.MembersPerRoom,
		RoomsPerUser:   cfg.Limits.RoomsPerUser,
		ParseLink:      LinkParser(cfg.Links.AllowPrivateHosts),
		Sync:           SyncOptionsFrom(cfg),
	}
}

// Service manages rooms: their records in the store and their live actors.
type Service struct {
	opt  Options
	repo Repo
	log  *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*actor
	closed bool
	quit   chan struct{}
	actors sync.WaitGroup

	conns   connIndex // every live connection, by user (revoke.go)
	cleanup sync.WaitGroup
}

// New returns a Service.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	orDefault(&o.ChatPer10s, 20)
	orDefault(&o.GuestsPerRoom, 100)
	orDefault(&o.GuestTTL, 12*time.Hour)
	orDefault(&o.QueueLength, 200)
	orDefault(&o.LinkBytes, 2048)
	orDefault(&o.MembersPerRoom, 500)
	orDefault(&o.RoomsPerUser, 50)
	orDefault(&o.IdleTimeout, 30*time.Second)
	orDefault(&o.PingInterval, 25*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ParseLink == nil {
		o.ParseLink = VideoFromLink
	}
	if o.Metrics.Rooms == nil || o.Metrics.Members == nil {
		o.Metrics = metrics.New().Room
	}
	s := &Service{opt: o, repo: o.Repo, log: o.Log, rooms: map[string]*actor{}, quit: make(chan struct{}),
		conns: connIndex{byUser: map[string]map[*Conn]struct{}{}}}
	if o.Revoke != nil {
		o.Revoke.Subscribe(s.revoked)
	}
	return s
}

// orDefault sets an option that is not positive to its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Live returns the number of rooms whose actor is running.
func (s *Service) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// Close disconnects every member and stops every room.
func (s *Service) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.quit)
	}
	s.mu.Unlock()
	s.actors.Wait()
	s.cleanup.Wait()
}

// acquire returns the room's actor, starting it if needed, and holds a
// reference that keeps it alive until release.
func (s *Service) acquire(code string) (*actor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	a := s.rooms[code]
	if a == nil {
		a = newActor(s, code)
		s.rooms[code] = a
		s.opt.Metrics.Rooms.Inc()
		s.actors.Add(1)
		go a.run()
	}
	a.refs++
	return a, nil
}

func (s *Service) release(a *actor) {
	s.mu.Lock()
	a.refs--
	idle := a.refs == 0
	s.mu.Unlock()
	if idle {
		select {
		case a.idle <- struct{}{}:
		default:
		}
	}
}

// exec runs fn inside the room's actor and returns its error. When ctx ends
// or the service closes first, fn either has run or never will.
func (s *Service) exec(ctx context.Context, code string, fn func(a *actor) error) error {
	a, err := s.acquire(code)
	if err != nil {
		return err
	}
	defer s.release(a)
	done := make(chan error, 1)
	claim := new(atomic.Bool)
	if !a.post(msg{op: opExec, fn: fn, done: done, claim: claim}) {
		return ErrClosed
	}
	var stop error
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		stop = ctx.Err()
	case <-s.quit:
		stop = ErrClosed
	}
	if claim.CompareAndSwap(false, true) {
		return stop // fn will not run
	}
	// fn runs already: wait for it, so that what it writes (the caller's
	// variables) is not read by the caller while it writes it.
	return <-done
}

func newToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create makes a room owned by u.
func (s *Service) Create(ctx context.Context, u User, name string) (*Info, error) {
	if u.Guest {
		return nil, ErrForbidden
	}
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	now := s.opt.Now()
	in := &Info{Name: name, Owner: u.ID, OwnerName: u.Name, Created: now.UTC(), Invite: newToken(), Settings: DefaultSettings()}
	err = s.repo.Update(func(tx Tx) error {
		urs, err := tx.UserRooms(u.ID)
		if err != nil {
			return err
		}
		owned := 0
		for _, ur := range urs {
			if ur.Owner {
				owned++
			}
		}
		if owned >= s.opt.RoomsPerUser {
			return ErrTooManyRooms
		}
		for range 8 {
			code := NewCode()
			if ok, err := tx.RoomExists(code); err != nil {
				return err
			} else if !ok {
				in.Code = code
				break
			}
		}
		if in.Code == "" {
			return errors.New("room: could not find a free code")
		}
		if err := tx.PutRoom(in.Code, in); err != nil {
			return err
		}
		if err := tx.PutMember(in.Code, Member{ID: u.ID, Name: u.Name, Role: RoleOwner, Joined: now.UTC()}); err != nil {
			return err
		}
		if err := tx.PutInvite(in.Invite, in.Code); err != nil {
			return err
		}
		return tx.TouchUserRoom(u.ID, in.Code, true, now)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Get returns a room's record.
func (s *Service) Get(ctx context.Context, code string) (*Info, error) {
	var in *Info
	err := s.repo.View(func(tx Tx) error {
		var err error
		in, err = loadInfo(tx, code)
		return err
	})
	return in, err
}

// Member returns u's membership of a room, ErrNotMember when there is none.
func (s *Service) Member(ctx context.Context, code, uid string) (*Member, error) {
	var m *Member
	err := s.repo.View(func(tx Tx) (err error) { m, err = tx.Member(code, uid); return })
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Members lists a room's members, owner first, then by name.
func (s *Service) Members(ctx context.Context, code string) ([]Member, error) {
	var out []Member
	err := s.repo.View(func(tx Tx) error {
		ms, err := tx.Members(code)
		for _, m := range ms {
			out = append(out, *m)
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Role == RoleOwner) != (out[j].Role == RoleOwner) {
			return out[i].Role == RoleOwner
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// History returns the kept chat lines of a room.
func (s *Service) History(ctx context.Context, code string) ([]*Line, error) {
	var lines []*Line
	err := s.repo.View(func(tx Tx) error {
		var err error
		lines, _, err = loadChat(tx, code)
		return err
	})
	return lines, err
}

// CodeForInvite resolves an invite token to its room code.
func (s *Service) CodeForInvite(ctx context.Context, token string) (string, error) {
	if token == "" || len(token) > 64 {
		return "", ErrInvite
	}
	var code string
	err := s.repo.View(func(tx Tx) (err error) { code, err = tx.RoomForInvite(token); return })
	return code, err
}

// Join makes u a member of the room (a no-op for members). Guests may only
// join the room their session is for, when the room lets guests in.
func (s *Service) Join(ctx context.Context, code string, u User, guestRoom string) (*Info, error) {
	var out *Info
	err := s.exec(ctx, code, func(a *actor) error {
		if err := a.join(u, guestRoom); err != nil {
			return err
		}
		c := *a.info
		out = &c
		return nil
	})
	return out, err
}

// Leave ends u's membership. The owner cannot leave.
func (s *Service) Leave(ctx context.Context, code, uid string) error {
	return s.exec(ctx, code, func(a *actor) error { return a.removeMember(uid, uid, false) })
}

// Rename sets the room's name (owner only).
func (s *Service) Rename(ctx context.Context, code, by, name string) error {
	name, err := CleanName(name)
	if err != nil {
		return err
	}
	return s.exec(ctx, code, func(a *actor) error {
		return a.updateInfo(by, func(in *Info) string { in.Name = name; return "" })
	})
}

// SetLocked locks or unlocks the room (owner only).
func (s *Service) SetLocked(ctx context.Context, code, by string, locked bool) error {
	return s.exec(ctx, code, func(a *actor) error {
		return a.updateInfo(by, func(in *Info) string {
			if in.Locked == locked {
				return ""
			}
			in.Locked = locked
			if locked {
				return "locked"
			}
			return "unlocked"
		})
	})
}

// UpdateSettings replaces the room's settings (owner only).
func (s *Service) UpdateSettings(ctx context.Context, code, by string, set Settings) error {
	set.fix()
	return s.exec(ctx, code, func(a *actor) error {
		return a.updateInfo(by, func(in *Info) string { in.Settings = set; return "" })
	})
}

// RevokeInvite replaces the invite link with a new one (owner only).
func (s *Service) RevokeInvite(ctx context.Context, code, by string) (string, error) {
	token := newToken()
	err := s.exec(ctx, code, func(a *actor) error {
		if err := a.requireOwner(by); err != nil {
			return err
		}
		old := a.info.Invite
		c := *a.info
		c.Invite = token
		if err := s.repo.Update(func(tx Tx) error {
			if err := tx.DeleteInvite(old); err != nil {
				return err
			}
			if err := tx.PutInvite(token, a.code); err != nil {
				return err
			}
			return tx.PutRoom(a.code, &c)
		}); err != nil {
			return err
		}
		a.info = &c
		a.broadcastRoom()
		return nil
	})
	return token, err
}

// Kick removes a member, disconnects them and bans them from rejoining
// until the owner unbans them.
func (s *Service) Kick(ctx context.Context, code, by, target string) error {
	return s.exec(ctx, code, func(a *actor) error { return a.removeMember(by, target, true) })
}

// Unban lets a kicked user join again.
func (s *Service) Unban(ctx context.Context, code, by, target string) error {
	return s.exec(ctx, code, func(a *actor) error {
		return a.updateInfo(by, func(in *Info) string {
			if in.Banned != nil {
				delete(in.Banned, target)
			}
			if len(in.GuestBans) > 0 {
				bans := make(map[string]GuestBan, len(in.GuestBans))
				for k, b := range in.GuestBans {
					if b.ID != target {
						bans[k] = b
					}
				}
				in.GuestBans = bans
			}
			return ""
		})
	})
}

// SetRole makes a member a moderator or a plain member (owner only).
func (s *Service) SetRole(ctx context.Context, code, by, target string, role Role) error {
	if role != RoleModerator && role != RoleMember {
		return fmt.Errorf("room: role must be %q or %q", RoleModerator, RoleMember)
	}
	return s.exec(ctx, code, func(a *actor) error { return a.setRole(by, target, role) })
}

// Delete removes the room and everything in it (owner only).
func (s *Service) Delete(ctx context.Context, code, by string) error {
	return s.exec(ctx, code, func(a *actor) error { return a.delete(by) })
}

// UserRooms lists the rooms u owns or has visited, most recent first.
func (s *Service) UserRooms(ctx context.Context, uid string) ([]Summary, error) {
	var out []Summary
	err := s.repo.View(func(tx Tx) error {
		entries, err := tx.UserRooms(uid)
		if err != nil {
			return err
		}
		for _, e := range entries {
			in, err := loadInfo(tx, e.Code)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, Summary{Code: e.Code, Name: in.Name, Owner: in.Owner == uid, Visited: time.UnixMilli(e.Visited)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Visited.After(out[j].Visited) })
	return out, err
}
