package room

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

var (
	ann = User{ID: "u-ann", Name: "Ann"}
	bob = User{ID: "u-bob", Name: "Bob"}
	cat = User{ID: "u-cat", Name: "Cat"}
)

func TestRoomLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	svc := New(Options{Repo: NewBadger(st), Log: quietLog(), RoomsPerUser: 2, GuestsAllowed: true})

	in, err := svc.Create(ctx, ann, "  Movie night ")
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "Movie night" || in.Owner != ann.ID || len(in.Code) != CodeLen || in.Invite == "" {
		t.Fatalf("created %+v", in)
	}
	if _, err := svc.Create(ctx, ann, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, ann, "third"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("third room: %v, want ErrTooManyRooms", err)
	}
	if _, err := svc.Create(ctx, User{ID: "g", Name: "G", Guest: true}, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("guest created a room: %v", err)
	}

	// Join by code, then by invite.
	if _, err := svc.Join(ctx, in.Code, bob, ""); err != nil {
		t.Fatal(err)
	}
	code, err := svc.CodeForInvite(ctx, in.Invite)
	if err != nil || code != in.Code {
		t.Fatalf("invite resolves to %q, %v", code, err)
	}
	if err := svc.Rename(ctx, in.Code, bob.ID, "mine now"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member renamed the room: %v", err)
	}
	if err := svc.Rename(ctx, in.Code, ann.ID, "Film club"); err != nil {
		t.Fatal(err)
	}

	// Lock: members stay, newcomers are refused.
	if err := svc.SetLocked(ctx, in.Code, ann.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ctx, in.Code, cat, ""); !errors.Is(err, ErrLocked) {
		t.Fatalf("join a locked room: %v", err)
	}
	if _, err := svc.Join(ctx, in.Code, bob, ""); err != nil {
		t.Fatalf("member rejoining a locked room: %v", err)
	}
	if err := svc.SetLocked(ctx, in.Code, ann.ID, false); err != nil {
		t.Fatal(err)
	}

	// Guests: on by default (invite links just work); the owner may turn
	// them off; and only by the room they were invited to.
	if !in.Settings.GuestsAllowed {
		t.Fatal("a new room does not let guests in by its invite link")
	}
	off := DefaultSettings()
	off.GuestsAllowed = false
	if err := svc.UpdateSettings(ctx, in.Code, ann.ID, off); err != nil {
		t.Fatal(err)
	}
	guest := User{ID: "guest-1", Name: "Gus", Guest: true}
	if _, err := svc.Join(ctx, in.Code, guest, in.Code); !errors.Is(err, ErrGuestsOff) {
		t.Fatalf("guest joined a room without guests: %v", err)
	}
	set := DefaultSettings()
	set.GuestsAllowed = true
	set.ChangeVideo = LevelModerators
	if err := svc.UpdateSettings(ctx, in.Code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ctx, in.Code, guest, "OTHERROOM2"); !errors.Is(err, ErrGuestRoom) {
		t.Fatalf("guest joined another room: %v", err)
	}
	if _, err := svc.Join(ctx, in.Code, guest, in.Code); err != nil {
		t.Fatal(err)
	}

	// Revoking the invite replaces it.
	newInvite, err := svc.RevokeInvite(ctx, in.Code, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CodeForInvite(ctx, in.Invite); !errors.Is(err, ErrInvite) {
		t.Fatalf("old invite still works: %v", err)
	}
	if c, err := svc.CodeForInvite(ctx, newInvite); err != nil || c != in.Code {
		t.Fatalf("new invite: %q, %v", c, err)
	}

	// Kick bans until unbanned.
	if err := svc.Kick(ctx, in.Code, bob.ID, ann.ID); !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrOwnerLeave) {
		t.Fatalf("member kicked the owner: %v", err)
	}
	if err := svc.Kick(ctx, in.Code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Member(ctx, in.Code, bob.ID); !errors.Is(err, ErrNotMember) {
		t.Fatalf("kicked member is still a member: %v", err)
	}
	if _, err := svc.Join(ctx, in.Code, bob, ""); !errors.Is(err, ErrBanned) {
		t.Fatalf("kicked member rejoined: %v", err)
	}
	if err := svc.Unban(ctx, in.Code, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ctx, in.Code, bob, ""); err != nil {
		t.Fatalf("unbanned member rejoining: %v", err)
	}
	if err := svc.SetRole(ctx, in.Code, ann.ID, bob.ID, RoleModerator); err != nil {
		t.Fatal(err)
	}
	if err := svc.Leave(ctx, in.Code, ann.ID); !errors.Is(err, ErrOwnerLeave) {
		t.Fatalf("owner left: %v", err)
	}

	rooms, err := svc.UserRooms(ctx, bob.ID)
	if err != nil || len(rooms) != 1 || rooms[0].Code != in.Code || rooms[0].Owner || rooms[0].Name != "Film club" {
		t.Fatalf("bob's rooms: %+v, %v", rooms, err)
	}

	// Everything survives a restart.
	svc.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	svc = New(Options{Repo: NewBadger(st), Log: quietLog()})
	defer svc.Close()
	got, err := svc.Get(ctx, in.Code)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Film club" || got.Locked || !got.Settings.GuestsAllowed || got.Settings.ChangeVideo != LevelModerators || got.Invite != newInvite {
		t.Fatalf("after restart: %+v", got)
	}
	ms, err := svc.Members(ctx, in.Code)
	if err != nil || len(ms) != 3 || ms[0].ID != ann.ID || ms[0].Role != RoleOwner {
		t.Fatalf("members after restart: %+v, %v", ms, err)
	}
	for _, m := range ms {
		if m.ID == bob.ID && m.Role != RoleModerator {
			t.Fatalf("bob's role after restart: %s", m.Role)
		}
	}
	rooms, err = svc.UserRooms(ctx, ann.ID)
	if err != nil || len(rooms) != 2 {
		t.Fatalf("ann's rooms: %+v, %v", rooms, err)
	}

	// Delete removes the room, its members and its invite.
	if err := svc.Delete(ctx, in.Code, bob.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member deleted the room: %v", err)
	}
	if err := svc.Delete(ctx, in.Code, ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, in.Code); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted room: %v", err)
	}
	if _, err := svc.Join(ctx, in.Code, cat, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("join a deleted room: %v", err)
	}
	if _, err := svc.CodeForInvite(ctx, newInvite); !errors.Is(err, ErrInvite) {
		t.Fatalf("deleted room's invite: %v", err)
	}
	if rooms, _ := svc.UserRooms(ctx, bob.ID); len(rooms) != 0 {
		t.Fatalf("bob still lists %+v", rooms)
	}
}

func TestJoinUnknownRoom(t *testing.T) {
	svc, _ := newService(t, Options{IdleTimeout: 1})
	if _, err := svc.Join(context.Background(), "ABCDEFGHJK", bob, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("join unknown room: %v", err)
	}
}

// TestExecGivenUpNeverRuns: a call that stops waiting (its context ends)
// while the room is busy returns, and its function never runs after that:
// it would write the caller's variables behind its back (ForgetUser's
// list of fates raced so when the server stopped during it).
func TestExecGivenUpNeverRuns(t *testing.T) {
	svc, _ := newService(t, Options{})
	in := mustCreate(t, svc, ann, "")
	busy, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- svc.exec(context.Background(), in.Code, func(*actor) error {
			close(busy)
			<-release
			return nil
		})
	}()
	<-busy
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	given := make(chan error, 1)
	go func() { given <- svc.exec(ctx, in.Code, func(*actor) error { ran.Store(true); return nil }) }()
	cancel()
	if err := <-given; !errors.Is(err, context.Canceled) {
		t.Fatalf("a call given up returned %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Everything posted before this has been handled once it returns.
	if err := svc.exec(context.Background(), in.Code, func(*actor) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the function of a call given up ran after it returned")
	}
}
