package room

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"watchparty/engine/playback"
)

// repoBackends are the Repo implementations TestRepo runs on; a second
// backend adds its line here and passes the same test.
var repoBackends = []struct {
	name string
	open func(t *testing.T) Repo
}{
	{"badger", func(t *testing.T) Repo { return NewBadger(openStore(t, t.TempDir())) }},
}

// TestRepo is what the room service needs of where it keeps rooms.
func TestRepo(t *testing.T) {
	for _, b := range repoBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("rooms", func(t *testing.T) { repoRooms(t, b.open(t)) })
			t.Run("chat", func(t *testing.T) { repoChat(t, b.open(t)) })
			t.Run("playback and queue", func(t *testing.T) { repoPlayback(t, b.open(t)) })
			t.Run("delete room", func(t *testing.T) { repoDeleteRoom(t, b.open(t)) })
			t.Run("atomic", func(t *testing.T) { repoAtomic(t, b.open(t)) })
		})
	}
}

func repoUpdate(t *testing.T, r Repo, fn func(tx Tx) error) {
	t.Helper()
	if err := r.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func repoView(t *testing.T, r Repo, fn func(tx Tx) error) {
	t.Helper()
	if err := r.View(fn); err != nil {
		t.Fatal(err)
	}
}

var repoNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seedRoom writes room code owned by u_own with members u_own and u_m.
func seedRoom(t *testing.T, r Repo, code, invite string) *Info {
	t.Helper()
	in := &Info{Code: code, Name: "Room " + code, Owner: "u_own", OwnerName: "Own", Created: repoNow, Invite: invite, Settings: DefaultSettings()}
	repoUpdate(t, r, func(tx Tx) error {
		if err := tx.PutRoom(code, in); err != nil {
			return err
		}
		for _, m := range []Member{{ID: "u_own", Name: "Own", Role: RoleOwner, Joined: repoNow}, {ID: "u_m", Name: "M", Role: RoleModerator, Joined: repoNow}} {
			if err := tx.PutMember(code, m); err != nil {
				return err
			}
		}
		if err := tx.PutInvite(invite, code); err != nil {
			return err
		}
		if err := tx.TouchUserRoom("u_own", code, true, repoNow); err != nil {
			return err
		}
		return tx.TouchUserRoom("u_m", code, false, repoNow.Add(time.Minute))
	})
	return in
}

func repoRooms(t *testing.T, r Repo) {
	repoView(t, r, func(tx Tx) error {
		if _, err := tx.Room("abcd"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Room of an unknown code = %v, want ErrNotFound", err)
		}
		if ok, err := tx.RoomExists("abcd"); ok || err != nil {
			t.Errorf("RoomExists of an unknown code = %v, %v", ok, err)
		}
		if _, err := tx.Member("abcd", "u_own"); !errors.Is(err, ErrNotMember) {
			t.Errorf("Member of an unknown room = %v, want ErrNotMember", err)
		}
		if _, err := tx.RoomForInvite("tok"); !errors.Is(err, ErrInvite) {
			t.Errorf("RoomForInvite of an unknown token = %v, want ErrInvite", err)
		}
		return nil
	})
	seedRoom(t, r, "abcd", "tok1")
	seedRoom(t, r, "abce", "tok2")
	repoUpdate(t, r, func(tx Tx) error {
		in, err := tx.Room("abcd")
		if err != nil {
			return err
		}
		in.Name = "Renamed"
		if err := tx.PutRoom("abcd", in); err != nil {
			return err
		}
		if err := tx.DeleteInvite("tok1"); err != nil {
			return err
		}
		if err := tx.PutInvite("tok3", "abcd"); err != nil {
			return err
		}
		if err := tx.DeleteMember("abce", "u_m"); err != nil {
			return err
		}
		return tx.DeleteUserRoom("u_m", "abce")
	})
	repoView(t, r, func(tx Tx) error {
		in, err := tx.Room("abcd")
		if err != nil || in.Name != "Renamed" || in.Owner != "u_own" || !in.Created.Equal(repoNow) {
			t.Errorf("Room(abcd) = %+v, %v", in, err)
		}
		if ok, err := tx.RoomExists("abce"); !ok || err != nil {
			t.Errorf("RoomExists(abce) = %v, %v", ok, err)
		}
		m, err := tx.Member("abcd", "u_m")
		if err != nil || m.Role != RoleModerator || m.Name != "M" {
			t.Errorf("Member(abcd, u_m) = %+v, %v", m, err)
		}
		ms, err := tx.Members("abce")
		if err != nil || len(ms) != 1 || ms["u_own"] == nil || ms["u_own"].Role != RoleOwner {
			t.Errorf("Members(abce) = %v, %v", ms, err)
		}
		if _, err := tx.RoomForInvite("tok1"); !errors.Is(err, ErrInvite) {
			t.Errorf("a replaced invite still opens: %v", err)
		}
		if code, err := tx.RoomForInvite("tok3"); code != "abcd" || err != nil {
			t.Errorf("RoomForInvite(tok3) = %q, %v", code, err)
		}
		urs, err := tx.UserRooms("u_own")
		want := []UserRoom{{Code: "abcd", Owner: true, Visited: repoNow.UnixMilli()}, {Code: "abce", Owner: true, Visited: repoNow.UnixMilli()}}
		if err != nil || !slices.Equal(urs, want) {
			t.Errorf("UserRooms(u_own) = %+v, %v; want %+v", urs, err, want)
		}
		if urs, err := tx.UserRooms("u_m"); err != nil || len(urs) != 1 || urs[0].Code != "abcd" || urs[0].Owner {
			t.Errorf("UserRooms(u_m) = %+v, %v", urs, err)
		}
		return nil
	})
}

func repoChat(t *testing.T, r Repo) {
	repoUpdate(t, r, func(tx Tx) error {
		for seq := uint64(1); seq <= 12; seq++ {
			if err := tx.PutLine("abcd", &Line{Seq: seq, User: "u_m", Name: "M", Text: fmt.Sprint("line ", seq), Time: repoNow.UnixMilli()}); err != nil {
				return err
			}
		}
		// Another room whose code starts alike.
		return tx.PutLine("abcde", &Line{Seq: 99, Text: "elsewhere"})
	})
	repoUpdate(t, r, func(tx Tx) error {
		if err := tx.DeleteLine("abcd", 12); err != nil {
			return err
		}
		return tx.PutLine("abcd", &Line{Seq: 11, User: "u_m", Name: "M", Text: "line 11", Reactions: map[string][]string{"👍": {"u_own"}}})
	})
	repoView(t, r, func(tx Tx) error {
		lines, err := tx.Chat("abcd", 3)
		if err != nil {
			return err
		}
		var got []string
		for _, l := range lines {
			got = append(got, fmt.Sprintf("%d %s %d", l.Seq, l.Text, len(l.Reactions)))
		}
		if want := []string{"9 line 9 0", "10 line 10 0", "11 line 11 1"}; !slices.Equal(got, want) {
			t.Errorf("Chat(abcd, 3) = %v, want %v (the last three, oldest first)", got, want)
		}
		all, err := tx.Chat("abcd", 200)
		if err != nil || len(all) != 11 || all[0].Seq != 1 {
			t.Errorf("Chat(abcd, 200) = %d lines from %v, %v", len(all), all[0].Seq, err)
		}
		if none, err := tx.Chat("zzzz", 200); err != nil || len(none) != 0 {
			t.Errorf("Chat of an empty room = %v, %v", none, err)
		}
		return nil
	})
}

func repoPlayback(t *testing.T, r Repo) {
	repoView(t, r, func(tx Tx) error {
		if _, ok, err := tx.Playback("abcd"); ok || err != nil {
			t.Errorf("Playback of a new room = %v, %v", ok, err)
		}
		if _, ok, err := tx.QueueOrder("abcd"); ok || err != nil {
			t.Errorf("QueueOrder of a new room = %v, %v", ok, err)
		}
		if _, ok, err := tx.QueueItem("abcd", 1); ok || err != nil {
			t.Errorf("QueueItem of a new room = %v, %v", ok, err)
		}
		return nil
	})
	st := playback.State{Source: "https://x.test/a.webm", Kind: "file", Position: 42, Playing: true, Rate: 1, Version: 3, UpdatedAt: repoNow.UnixMilli()}
	repoUpdate(t, r, func(tx Tx) error {
		if err := tx.PutPlayback("abcd", &PlaybackRecord{State: st, SavedAt: repoNow.UnixMilli()}); err != nil {
			return err
		}
		for id := uint64(1); id <= 3; id++ {
			if err := tx.PutQueueItem("abcd", id, Video{Kind: "file", URL: fmt.Sprintf("https://x.test/%d.webm", id)}); err != nil {
				return err
			}
		}
		if err := tx.DeleteQueueItem("abcd", 2); err != nil {
			return err
		}
		return tx.PutQueueOrder("abcd", &QueueOrder{Seq: 3, IDs: []uint64{3, 1}})
	})
	repoView(t, r, func(tx Tx) error {
		rec, ok, err := tx.Playback("abcd")
		if err != nil || !ok || rec.State != st || rec.SavedAt != repoNow.UnixMilli() {
			t.Errorf("Playback = %+v, %v, %v", rec, ok, err)
		}
		o, ok, err := tx.QueueOrder("abcd")
		if err != nil || !ok || o.Seq != 3 || !slices.Equal(o.IDs, []uint64{3, 1}) {
			t.Errorf("QueueOrder = %+v, %v, %v", o, ok, err)
		}
		if v, ok, err := tx.QueueItem("abcd", 3); err != nil || !ok || v.URL != "https://x.test/3.webm" {
			t.Errorf("QueueItem(3) = %+v, %v, %v", v, ok, err)
		}
		if _, ok, err := tx.QueueItem("abcd", 2); ok || err != nil {
			t.Errorf("a deleted queue item: %v, %v", ok, err)
		}
		return nil
	})
}

// repoDeleteRoom: DeleteRoom leaves nothing of the room, and everything of
// a room whose code starts alike.
func repoDeleteRoom(t *testing.T, r Repo) {
	fill := func(code string) {
		repoUpdate(t, r, func(tx Tx) error {
			if err := tx.PutLine(code, &Line{Seq: 1, Text: "hi"}); err != nil {
				return err
			}
			if err := tx.PutPlayback(code, &PlaybackRecord{SavedAt: 1}); err != nil {
				return err
			}
			if err := tx.PutQueueItem(code, 1, Video{URL: "https://x.test/a.webm"}); err != nil {
				return err
			}
			return tx.PutQueueOrder(code, &QueueOrder{Seq: 1, IDs: []uint64{1}})
		})
	}
	in := seedRoom(t, r, "abcd", "tok1")
	seedRoom(t, r, "abcde", "tok2")
	fill("abcd")
	fill("abcde")
	repoUpdate(t, r, func(tx Tx) error { return tx.DeleteRoom(in) })
	left := func(tx Tx, code string) map[string]bool {
		out := map[string]bool{}
		_, err := tx.Room(code)
		out["room"] = err == nil
		ms, _ := tx.Members(code)
		out["members"] = len(ms) > 0
		lines, _ := tx.Chat(code, 10)
		out["chat"] = len(lines) > 0
		_, out["playback"], _ = tx.Playback(code)
		_, out["order"], _ = tx.QueueOrder(code)
		_, out["item"], _ = tx.QueueItem(code, 1)
		for _, uid := range []string{"u_own", "u_m"} {
			urs, _ := tx.UserRooms(uid)
			for _, ur := range urs {
				if ur.Code == code {
					out["userroom "+uid] = true
				}
			}
		}
		return out
	}
	repoView(t, r, func(tx Tx) error {
		gone := left(tx, "abcd")
		for what, there := range gone {
			if there {
				t.Errorf("after DeleteRoom, the room's %s is left", what)
			}
		}
		if _, err := tx.RoomForInvite("tok1"); !errors.Is(err, ErrInvite) {
			t.Errorf("after DeleteRoom, its invite opens: %v", err)
		}
		kept := left(tx, "abcde")
		all := map[string]bool{"room": true, "members": true, "chat": true, "playback": true, "order": true, "item": true, "userroom u_own": true, "userroom u_m": true}
		if !maps.Equal(kept, all) {
			t.Errorf("DeleteRoom(abcd) took from abcde: %v", kept)
		}
		return nil
	})
}

// repoAtomic: an update whose fn fails leaves nothing behind, however many
// records it wrote.
func repoAtomic(t *testing.T, r Repo) {
	boom := errors.New("boom")
	err := r.Update(func(tx Tx) error {
		if err := tx.PutRoom("abcd", &Info{Code: "abcd", Name: "x"}); err != nil {
			return err
		}
		if err := tx.PutMember("abcd", Member{ID: "u_own"}); err != nil {
			return err
		}
		if err := tx.PutLine("abcd", &Line{Seq: 1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	repoView(t, r, func(tx Tx) error {
		_, errR := tx.Room("abcd")
		_, errM := tx.Member("abcd", "u_own")
		lines, errC := tx.Chat("abcd", 10)
		if !errors.Is(errR, ErrNotFound) || !errors.Is(errM, ErrNotMember) || len(lines) != 0 || errC != nil {
			t.Errorf("a failed update left: room %v, member %v, chat %d %v", errR, errM, len(lines), errC)
		}
		return nil
	})
}
