package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"watchparty/engine/store"
)

// TestGuestsCappedAndExpire: a room takes at most GuestsPerRoom guests;
// guests who are gone leave the room when their session would have ended,
// which makes room for new ones; nobody else is touched.
func TestGuestsCappedAndExpire(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, _ := newService(t, Options{GuestsAllowed: true, GuestsPerRoom: 3, GuestTTL: time.Hour, Now: clock})
	in := mustCreate(t, svc, ann, "")
	set := DefaultSettings()
	set.GuestsAllowed = true
	if err := svc.UpdateSettings(context.Background(), in.Code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	mustJoin(t, svc, in.Code, bob)
	guest := func(i int) User { return User{ID: fmt.Sprintf("g_%d", i), Name: fmt.Sprint("Guest ", i), Guest: true} }
	for i := range 3 {
		if _, err := svc.Join(context.Background(), in.Code, guest(i), in.Code); err != nil {
			t.Fatalf("guest %d: %v", i, err)
		}
	}
	if _, err := svc.Join(context.Background(), in.Code, guest(3), in.Code); !errors.Is(err, ErrTooManyGuests) {
		t.Fatalf("a 4th guest: %v, want ErrTooManyGuests", err)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if _, err := svc.Join(context.Background(), in.Code, guest(4), in.Code); err != nil {
		t.Fatalf("a guest after the others' sessions ended: %v", err)
	}
	ms, err := svc.Members(context.Background(), in.Code)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if fmt.Sprint(names) != "[Ann Bob Guest 4]" {
		t.Fatalf("members after the expiry: %v", names)
	}
}

// TestHelloBounded: however many members and chat lines a room holds, a
// hello carries at most HelloMembers members and HelloChatBytes of chat,
// and says how many there are; the rest comes a page at a time.
func TestHelloBounded(t *testing.T) {
	svc, st := newService(t, Options{})
	in := mustCreate(t, svc, ann, "")
	// 2,000 members written straight to the store (as a flood of guests
	// would have left them before guests had a cap and an expiry).
	now := time.Now().UTC()
	for i := 0; i < 2000; i += 500 {
		if err := st.Update(func(tx *store.Tx) error {
			for j := i; j < i+500; j++ {
				id := fmt.Sprintf("u_%05d", j)
				if err := (badgerTx{tx}).PutMember(in.Code, Member{ID: id, Name: fmt.Sprintf("Member %05d", j), Role: RoleMember, Joined: now}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	h := a.expect("hello")
	if n := len(h["members"].([]any)); n != HelloMembers || h["members_total"].(float64) != 2001 {
		t.Fatalf("hello: %d members of %v, want %d of 2001", n, h["members_total"], HelloMembers)
	}
	if first := h["members"].([]any)[0].(map[string]any); first["id"] != ann.ID {
		t.Fatalf("the first member in hello is %v, want the owner", first)
	}
	// Pages of the rest.
	seen := HelloMembers
	for seen < 2001 {
		a.send(map[string]any{"type": "members", "seq": seen})
		p := a.expect("members")
		got := len(p["members"].([]any))
		if got == 0 || int(p["offset"].(float64)) != seen {
			t.Fatalf("members page at %d: %d members, offset %v", seen, got, p["offset"])
		}
		seen += got
	}
	// Long chat lines: the hello keeps to its byte budget.
	long := make([]byte, MaxChatRunes)
	for i := range long {
		long[i] = 'x'
	}
	svcLong, _ := newService(t, Options{ChatPer10s: 1000})
	in2 := mustCreate(t, svcLong, ann, "")
	base2 := serveRooms(t, svcLong)
	w := dial(t, base2, in2.Code, ann)
	w.expect("hello")
	for range 100 {
		w.send(map[string]any{"type": "chat", "text": string(long)})
	}
	for range 100 {
		w.expectChat()
	}
	r := dial(t, base2, in2.Code, ann)
	h2 := r.expect("hello")
	chat := h2["chat"].([]any)
	text := 0
	for _, l := range chat {
		text += len(l.(map[string]any)["text"].(string))
	}
	if text > HelloChatBytes || h2["history_more"] != true {
		t.Fatalf("hello carries %d bytes of chat in %d lines (more: %v), budget %d", text, len(chat), h2["history_more"], HelloChatBytes)
	}
}

// TestInviteLinkOnlyForThoseWhoMayInvite: a guest's hello carries no
// invite token (a kicked guest used to rejoin with it at once); members see
// it as the room's invite setting says, also after a change.
func TestInviteLinkOnlyForThoseWhoMayInvite(t *testing.T) {
	svc, _ := newService(t, Options{GuestsAllowed: true})
	in := mustCreate(t, svc, ann, "")
	mustJoin(t, svc, in.Code, bob)
	g := User{ID: "g_1", Name: "Gus", Guest: true, Addr: "192.0.2.1"}
	if _, err := svc.Join(context.Background(), in.Code, g, in.Code); err != nil {
		t.Fatal(err)
	}
	base := serveRooms(t, svc)
	inviteOf := func(m map[string]any) any { return m["room"].(map[string]any)["invite"] }
	a := dial(t, base, in.Code, ann)
	if inviteOf(a.expect("hello")) != in.Invite {
		t.Fatal("the owner's hello has no invite")
	}
	b := dial(t, base, in.Code, bob)
	if inviteOf(b.expect("hello")) != in.Invite {
		t.Fatal("a member's hello has no invite (setting: everyone)")
	}
	gc := dial(t, base, in.Code, g)
	if v := inviteOf(gc.expect("hello")); v != nil && v != "" {
		t.Fatalf("a guest's hello carries the invite %v", v)
	}
	set := DefaultSettings()
	set.Invite = LevelOwner
	if err := svc.UpdateSettings(context.Background(), in.Code, ann.ID, set); err != nil {
		t.Fatal(err)
	}
	if v := inviteOf(b.expect("room")); v != nil && v != "" {
		t.Fatalf("after invite=owner a member's room message carries %v", v)
	}
	if inviteOf(a.expect("room")) != in.Invite {
		t.Fatal("the owner lost the invite")
	}
	if v := inviteOf(gc.expect("room")); v != nil && v != "" {
		t.Fatalf("a guest's room message carries %v", v)
	}
}

// TestKickedGuestStaysOut: a removed guest cannot come back as a new guest
// (a fresh browser) from the same address for a day, even with the invite
// link; another address can; unbanning lets the address in again.
func TestKickedGuestStaysOut(t *testing.T) {
	svc, _ := newService(t, Options{GuestsAllowed: true})
	in := mustCreate(t, svc, ann, "")
	join := func(id, addr string) error {
		_, err := svc.Join(context.Background(), in.Code, User{ID: id, Name: id, Guest: true, Addr: addr}, in.Code)
		return err
	}
	if err := join("g_1", "2001:db8:1:1::/64"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Kick(context.Background(), in.Code, ann.ID, "g_1"); err != nil {
		t.Fatal(err)
	}
	if err := join("g_2", "2001:db8:1:1::/64"); !errors.Is(err, ErrBanned) {
		t.Fatalf("the kicked guest's address as a new guest: %v, want ErrBanned", err)
	}
	if err := join("g_3", "198.51.100.9"); err != nil {
		t.Fatalf("a guest from elsewhere: %v", err)
	}
	if err := svc.Unban(context.Background(), in.Code, ann.ID, "g_1"); err != nil {
		t.Fatal(err)
	}
	if err := join("g_4", "2001:db8:1:1::/64"); err != nil {
		t.Fatalf("after the unban: %v", err)
	}
}
