package account_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"watchparty/engine/account"
)

// repoBackends are the account.Repo implementations TestRepo runs on; a
// second backend adds its line here and passes the same test.
var repoBackends = []struct {
	name string
	open func(t *testing.T) account.Repo
}{
	{"badger", func(t *testing.T) account.Repo { return account.NewBadger(openStore(t, t.TempDir())) }},
}

// TestRepo is what the account service needs of where it keeps its
// records: users with their email index and count, sessions with their
// per-user index, invites, all-or-nothing updates and conflicts reported.
func TestRepo(t *testing.T) {
	for _, b := range repoBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("users", func(t *testing.T) { repoUsers(t, b.open(t)) })
			t.Run("sessions", func(t *testing.T) { repoSessions(t, b.open(t)) })
			t.Run("invites", func(t *testing.T) { repoInvites(t, b.open(t)) })
			t.Run("atomic", func(t *testing.T) { repoAtomic(t, b.open(t)) })
			t.Run("conflict", func(t *testing.T) { repoConflict(t, b.open(t)) })
		})
	}
}

func update(t *testing.T, r account.Repo, fn func(tx account.Tx) error) {
	t.Helper()
	if err := r.UpdateSync(fn); err != nil {
		t.Fatal(err)
	}
}

func repoUsers(t *testing.T, r account.Repo) {
	now := time.Now().UTC().Truncate(time.Second)
	recs := []*account.UserRecord{
		{User: account.User{ID: "u_b", Email: "b@example.org", Name: "B", Created: now}, Hash: []byte("hash-b")},
		{User: account.User{ID: "u_a", Email: "a@example.org", Name: "A", Admin: true, Created: now}, Hash: []byte("hash-a")},
	}
	_ = r.View(func(tx account.Tx) error {
		if n, err := tx.UserCount(); n != 0 || err != nil {
			t.Errorf("empty: UserCount = %d, %v", n, err)
		}
		if _, err := tx.User("u_a"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("empty: User = %v, want ErrNotFound", err)
		}
		if _, err := tx.UserIDByEmail("a@example.org"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("empty: UserIDByEmail = %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, r, func(tx account.Tx) error {
		for _, rec := range recs {
			if err := tx.CreateUser(rec); err != nil {
				return err
			}
		}
		return tx.SetUserCount(2)
	})
	update(t, r, func(tx account.Tx) error {
		rec, err := tx.User("u_b")
		if err != nil {
			return err
		}
		rec.Name = "B2"
		return tx.PutUser(rec)
	})
	_ = r.View(func(tx account.Tx) error {
		if n, err := tx.UserCount(); n != 2 || err != nil {
			t.Errorf("UserCount = %d, %v; want 2", n, err)
		}
		if id, err := tx.UserIDByEmail("a@example.org"); id != "u_a" || err != nil {
			t.Errorf("UserIDByEmail = %q, %v", id, err)
		}
		got, err := tx.User("u_a")
		if err != nil || got.Name != "A" || !got.Admin || string(got.Hash) != "hash-a" || !got.Created.Equal(now) {
			t.Errorf("User(u_a) = %+v, %v", got, err)
		}
		var ids []string
		if err := tx.Users(func(rec *account.UserRecord) error { ids = append(ids, rec.ID+"="+rec.Name); return nil }); err != nil {
			t.Error(err)
		}
		if want := []string{"u_a=A", "u_b=B2"}; !slices.Equal(ids, want) {
			t.Errorf("Users = %v, want %v (id order, renamed)", ids, want)
		}
		return nil
	})
	update(t, r, func(tx account.Tx) error { return tx.DeleteUser(recs[0]) })
	_ = r.View(func(tx account.Tx) error {
		if _, err := tx.User("u_b"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("deleted user: %v", err)
		}
		if _, err := tx.UserIDByEmail("b@example.org"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("deleted user's email: %v", err)
		}
		return nil
	})
}

func repoSessions(t *testing.T, r account.Repo) {
	now := time.Now().UTC().Truncate(time.Second)
	guest := &account.User{ID: "g_1", Name: "Guest", Guest: true, GuestRoom: "abc"}
	update(t, r, func(tx account.Tx) error {
		for i, h := range []string{"h1", "h2"} {
			if err := tx.PutSession(h, &account.SessionRecord{UserID: "u_a", Created: now, Expires: now.Add(time.Duration(i+1) * time.Hour)}, time.Hour); err != nil {
				return err
			}
		}
		return tx.PutSession("hg", &account.SessionRecord{UserID: guest.ID, Created: now, Expires: now.Add(time.Hour), Guest: guest}, time.Hour)
	})
	_ = r.View(func(tx account.Tx) error {
		s, err := tx.Session("h2")
		if err != nil || s.UserID != "u_a" || !s.Expires.Equal(now.Add(2*time.Hour)) || s.Guest != nil {
			t.Errorf("Session(h2) = %+v, %v", s, err)
		}
		g, err := tx.Session("hg")
		if err != nil || g.Guest == nil || *g.Guest != *guest {
			t.Errorf("guest session = %+v, %v", g, err)
		}
		if _, err := tx.Session("nope"); !errors.Is(err, account.ErrSessionInvalid) {
			t.Errorf("missing session: %v, want ErrSessionInvalid", err)
		}
		if hs, err := tx.UserSessions("u_a"); err != nil || !slices.Equal(hs, []string{"h1", "h2"}) {
			t.Errorf("UserSessions(u_a) = %v, %v", hs, err)
		}
		if hs, err := tx.UserSessions(guest.ID); err != nil || len(hs) != 0 {
			t.Errorf("a guest session is indexed: %v, %v", hs, err)
		}
		return nil
	})
	update(t, r, func(tx account.Tx) error { return tx.DeleteSession("h1", "u_a") })
	_ = r.View(func(tx account.Tx) error {
		if _, err := tx.Session("h1"); !errors.Is(err, account.ErrSessionInvalid) {
			t.Errorf("deleted session: %v", err)
		}
		if hs, err := tx.UserSessions("u_a"); err != nil || !slices.Equal(hs, []string{"h2"}) {
			t.Errorf("UserSessions after delete = %v, %v", hs, err)
		}
		return nil
	})

	// More sessions than one clearing transaction takes.
	update(t, r, func(tx account.Tx) error {
		for i := range 700 {
			if err := tx.PutSession(fmt.Sprintf("x%04d", i), &account.SessionRecord{UserID: "u_x", Expires: now.Add(time.Hour)}, time.Hour); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := r.ClearSessions()
	if err != nil || n != 702 {
		t.Fatalf("ClearSessions = %d, %v; want 702", n, err)
	}
	_ = r.View(func(tx account.Tx) error {
		for _, h := range []string{"h2", "hg", "x0000", "x0699"} {
			if _, err := tx.Session(h); !errors.Is(err, account.ErrSessionInvalid) {
				t.Errorf("session %s after ClearSessions: %v", h, err)
			}
		}
		for _, uid := range []string{"u_a", "u_x"} {
			if hs, err := tx.UserSessions(uid); err != nil || len(hs) != 0 {
				t.Errorf("index of %s after ClearSessions: %d, %v", uid, len(hs), err)
			}
		}
		return nil
	})
}

func repoInvites(t *testing.T, r account.Repo) {
	now := time.Now().UTC().Truncate(time.Second)
	update(t, r, func(tx account.Tx) error {
		for _, h := range []string{"i2", "i1"} {
			if err := tx.PutInvite(h, &account.InviteRecord{CreatedBy: "u_a", Created: now, Expires: now.Add(time.Hour)}, time.Hour); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, r, func(tx account.Tx) error { return tx.DeleteInvite("i2") })
	_ = r.View(func(tx account.Tx) error {
		inv, err := tx.Invite("i1")
		if err != nil || inv.CreatedBy != "u_a" || !inv.Expires.Equal(now.Add(time.Hour)) {
			t.Errorf("Invite(i1) = %+v, %v", inv, err)
		}
		if _, err := tx.Invite("i2"); !errors.Is(err, account.ErrInviteInvalid) {
			t.Errorf("deleted invite: %v, want ErrInviteInvalid", err)
		}
		var hashes []string
		if err := tx.Invites(func(h string, _ *account.InviteRecord) error { hashes = append(hashes, h); return nil }); err != nil {
			t.Error(err)
		}
		if !slices.Equal(hashes, []string{"i1"}) {
			t.Errorf("Invites = %v", hashes)
		}
		return nil
	})
}

// repoAtomic: an update whose fn fails leaves nothing behind.
func repoAtomic(t *testing.T, r account.Repo) {
	boom := errors.New("boom")
	err := r.UpdateSync(func(tx account.Tx) error {
		if err := tx.CreateUser(&account.UserRecord{User: account.User{ID: "u_z", Email: "z@example.org"}}); err != nil {
			return err
		}
		if err := tx.SetUserCount(1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateSync = %v, want fn's error", err)
	}
	_ = r.View(func(tx account.Tx) error {
		_, errU := tx.User("u_z")
		_, errE := tx.UserIDByEmail("z@example.org")
		n, errN := tx.UserCount()
		if !errors.Is(errU, account.ErrNotFound) || !errors.Is(errE, account.ErrNotFound) || n != 0 || errN != nil {
			t.Errorf("a failed update left: user %v, email %v, count %d %v", errU, errE, n, errN)
		}
		return nil
	})
}

// repoConflict: two updates that read and write the user count at once
// cannot both commit; the loser gets ErrConflict and changes nothing.
func repoConflict(t *testing.T, r account.Repo) {
	read, wrote := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- r.Update(func(tx account.Tx) error {
			n, err := tx.UserCount()
			if err != nil {
				return err
			}
			close(read)
			<-wrote
			return tx.SetUserCount(n + 10)
		})
	}()
	<-read
	err := r.Update(func(tx account.Tx) error {
		n, err := tx.UserCount()
		if err != nil {
			return err
		}
		return tx.SetUserCount(n + 1)
	})
	close(wrote)
	if err != nil {
		t.Fatalf("second update: %v", err)
	}
	if err := <-first; !errors.Is(err, account.ErrConflict) {
		t.Fatalf("first update = %v, want ErrConflict", err)
	}
	_ = r.View(func(tx account.Tx) error {
		if n, err := tx.UserCount(); n != 1 || err != nil {
			t.Errorf("UserCount = %d, %v; want 1", n, err)
		}
		return nil
	})
}
