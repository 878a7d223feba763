package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"watchparty/engine/account"
	"watchparty/engine/store"
)

var ctx = context.Background()

// fast are test settings with a cheap hash; one test uses the defaults.
func fast(reg string) account.Settings {
	return account.Settings{Registration: reg, HashTime: 1, HashMemory: 1024, SessionTTL: time.Hour, GuestTTL: 30 * time.Minute}
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // closing twice is harmless
	return st
}

func newService(t *testing.T, set account.Settings) (*account.Service, *store.Store) {
	t.Helper()
	st := openStore(t, t.TempDir())
	return account.New(account.NewBadger(st), set), st
}

func register(t *testing.T, s *account.Service, email, name, password string) *account.User {
	t.Helper()
	u, err := s.Register(ctx, account.SignUp{Email: email, Name: name, Password: password})
	if err != nil {
		t.Fatalf("Register(%s): %v", email, err)
	}
	return u
}

func login(t *testing.T, s *account.Service, email, password string) string {
	t.Helper()
	_, tok, err := s.Login(ctx, email, password)
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	return tok
}

func wantField(t *testing.T, err error, field string, target error) {
	t.Helper()
	var fe *account.FieldError
	if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, target) {
		t.Fatalf("error %v; want a field error on %q wrapping %q", err, field, target)
	}
}

func TestSignUpAndLogIn(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	u := register(t, s, "  Ann@Example.ORG ", "  Ann  ", "correct horse")
	if u.Email != "ann@example.org" || u.Name != "Ann" || u.ID == "" || u.Guest {
		t.Errorf("registered user = %+v; want a normalised email and trimmed name", u)
	}
	got, tok, err := s.Login(ctx, "ANN@example.org", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || tok == "" {
		t.Fatalf("Login = %+v, %q", got, tok)
	}
	who, err := s.Authenticate(ctx, tok)
	if err != nil || who.ID != u.ID || who.Name != "Ann" {
		t.Fatalf("Authenticate = %+v, %v", who, err)
	}
	// Each log-in is a new session with its own token.
	tok2 := login(t, s, "ann@example.org", "correct horse")
	if tok2 == tok {
		t.Error("two log-ins returned the same token")
	}
	// Nothing else authenticates.
	for _, bad := range []string{"", "x", tok + "x", strings.Repeat("a", 200)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, account.ErrSessionInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrSessionInvalid", bad, err)
		}
	}
}

func TestSessionTokenIsStoredOnlyAsHash(t *testing.T) {
	s, st := newService(t, fast(account.RegistrationOpen))
	register(t, s, "ann@example.org", "Ann", "correct horse")
	tok := login(t, s, "ann@example.org", "correct horse")
	found := false
	err := st.View(func(tx *store.Tx) error {
		for _, prefix := range []string{"session/", "usersession/", "user/", "email/", "meta/"} {
			if err := tx.Iterate([]byte(prefix), false, func(k, v []byte) error {
				if strings.Contains(string(k), tok) || strings.Contains(string(v), tok) {
					found = true
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found {
		t.Error("the raw session token is in the store")
	}
}

func TestDuplicateEmail(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	register(t, s, "ann@example.org", "Ann", "correct horse")
	for _, email := range []string{"ann@example.org", "ANN@EXAMPLE.ORG", "  Ann@Example.org\t", "\nann@example.org "} {
		_, err := s.Register(ctx, account.SignUp{Email: email, Name: "Other", Password: "another password"})
		wantField(t, err, "email", account.ErrEmailTaken)
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 1 {
		t.Fatalf("Users = %d, %v; want 1", len(users), err)
	}
}

func TestConcurrentDuplicateEmail(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Register(ctx, account.SignUp{Email: fmt.Sprintf(" SAME@example.org%s", strings.Repeat(" ", i)), Name: "Same", Password: "password123"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, account.ErrEmailTaken):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d sign-ups with one email succeeded, want exactly 1", ok)
	}
}

func TestWrongPassword(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	register(t, s, "ann@example.org", "Ann", "correct horse")
	cases := []struct{ name, email, password string }{
		{"wrong password", "ann@example.org", "wrong horse!"},
		{"empty password", "ann@example.org", ""},
		{"password prefix", "ann@example.org", "correct hors"},
		{"unknown email", "bob@example.org", "correct horse"},
		{"invalid email", "not an email", "correct horse"},
		{"huge password", "ann@example.org", strings.Repeat("x", 10000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, tok, err := s.Login(ctx, tc.email, tc.password)
			// The same error whether or not the email exists.
			if !errors.Is(err, account.ErrBadCredentials) || u != nil || tok != "" {
				t.Errorf("Login = %v, %q, %v; want ErrBadCredentials", u, tok, err)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	cases := []struct {
		name  string
		in    account.SignUp
		field string
		err   error
	}{
		{"short password", account.SignUp{Email: "a@example.org", Name: "A", Password: "1234567"}, "password", account.ErrWeakPassword},
		{"empty password", account.SignUp{Email: "a@example.org", Name: "A"}, "password", account.ErrWeakPassword},
		{"seven runes in more bytes", account.SignUp{Email: "a@example.org", Name: "A", Password: "ééééééé"}, "password", account.ErrWeakPassword},
		{"long password", account.SignUp{Email: "a@example.org", Name: "A", Password: strings.Repeat("p", 257)}, "password", account.ErrLongPassword},
		{"no email", account.SignUp{Name: "A", Password: "password1"}, "email", account.ErrInvalidEmail},
		{"no at sign", account.SignUp{Email: "example.org", Name: "A", Password: "password1"}, "email", account.ErrInvalidEmail},
		{"no dot in domain", account.SignUp{Email: "a@localhost", Name: "A", Password: "password1"}, "email", account.ErrInvalidEmail},
		{"display form", account.SignUp{Email: "Ann <a@example.org>", Name: "A", Password: "password1"}, "email", account.ErrInvalidEmail},
		{"empty name", account.SignUp{Email: "a@example.org", Name: "   ", Password: "password1"}, "name", account.ErrInvalidName},
		{"long name", account.SignUp{Email: "a@example.org", Name: strings.Repeat("n", 41), Password: "password1"}, "name", account.ErrInvalidName},
		{"control character", account.SignUp{Email: "a@example.org", Name: "a\x00b", Password: "password1"}, "name", account.ErrInvalidName},
		{"invalid utf-8", account.SignUp{Email: "a@example.org", Name: "a\xffb", Password: "password1"}, "name", account.ErrInvalidName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Register(ctx, tc.in)
			wantField(t, err, tc.field, tc.err)
		})
	}
	// Eight runes are enough, and forty runes of a name are fine.
	register(t, s, "b@example.org", strings.Repeat("ü", 40), "éééééééé")
	if users, _ := s.Users(ctx); len(users) != 1 {
		t.Errorf("%d users after the failed sign-ups, want 1", len(users))
	}
}

func TestSessionExpiry(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Now = func() time.Time { return now }
	register(t, s, "ann@example.org", "Ann", "correct horse")
	tok := login(t, s, "ann@example.org", "correct horse")

	now = now.Add(time.Hour - time.Second)
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatalf("session invalid one second before its TTL: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, account.ErrSessionInvalid) {
		t.Fatalf("session still valid at its TTL: %v", err)
	}
	// A new log-in works again.
	if _, err := s.Authenticate(ctx, login(t, s, "ann@example.org", "correct horse")); err != nil {
		t.Fatal(err)
	}
}

func TestLogoutRevokes(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	register(t, s, "ann@example.org", "Ann", "correct horse")
	a := login(t, s, "ann@example.org", "correct horse")
	b := login(t, s, "ann@example.org", "correct horse")
	if err := s.Logout(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, a); !errors.Is(err, account.ErrSessionInvalid) {
		t.Errorf("logged-out session still valid: %v", err)
	}
	if _, err := s.Authenticate(ctx, b); err != nil {
		t.Errorf("log-out revoked another session: %v", err)
	}
	// Logging out twice, or with a made-up token, is harmless.
	if err := s.Logout(ctx, a); err != nil {
		t.Error(err)
	}
	if err := s.Logout(ctx, "made-up"); err != nil {
		t.Error(err)
	}
}

func TestChangePasswordRevokesOtherSessions(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	u := register(t, s, "ann@example.org", "Ann", "old password")
	here := login(t, s, "ann@example.org", "old password")
	phone := login(t, s, "ann@example.org", "old password")
	laptop := login(t, s, "ann@example.org", "old password")

	err := s.ChangePassword(ctx, u.ID, "not my password", "new password", here)
	wantField(t, err, "current", account.ErrWrongPassword)
	err = s.ChangePassword(ctx, u.ID, "old password", "short", here)
	wantField(t, err, "password", account.ErrWeakPassword)
	if _, err := s.Authenticate(ctx, phone); err != nil {
		t.Fatalf("a failed change revoked sessions: %v", err)
	}

	if err := s.ChangePassword(ctx, u.ID, "old password", "new password", here); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, here); err != nil {
		t.Errorf("the session that changed the password was revoked: %v", err)
	}
	for name, tok := range map[string]string{"phone": phone, "laptop": laptop} {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, account.ErrSessionInvalid) {
			t.Errorf("%s session survived the password change: %v", name, err)
		}
	}
	if _, _, err := s.Login(ctx, "ann@example.org", "old password"); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	login(t, s, "ann@example.org", "new password")

	// The admin reset (CLI) revokes every session.
	if err := s.SetPassword(ctx, "ann@example.org", "reset password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, here); !errors.Is(err, account.ErrSessionInvalid) {
		t.Errorf("session survived an admin password reset: %v", err)
	}
	if err := s.SetPassword(ctx, "ann@example.org", "short"); !errors.Is(err, account.ErrWeakPassword) {
		t.Errorf("SetPassword accepted a weak password: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody@example.org", "long enough"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SetPassword for an unknown user: %v", err)
	}
	login(t, s, "ann@example.org", "reset password")
}

func TestFirstUserIsAdmin(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	first := register(t, s, "first@example.org", "First", "password1")
	second := register(t, s, "second@example.org", "Second", "password2")
	if !first.Admin {
		t.Error("the first account is not admin")
	}
	if second.Admin {
		t.Error("the second account is admin")
	}
	u, err := s.UserByEmail(ctx, "FIRST@example.org")
	if err != nil || !u.Admin {
		t.Errorf("stored first user = %+v, %v", u, err)
	}
}

func TestConcurrentSignUpsMakeOneAdmin(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	const n = 64
	users := make([]*account.User, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			users[i], errs[i] = s.Register(ctx, account.SignUp{Email: fmt.Sprintf("u%d@example.org", i), Name: fmt.Sprint("U", i), Password: "password123"})
		})
	}
	close(start)
	wg.Wait()
	admins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sign-up %d: %v", i, errs[i])
		}
		if users[i].Admin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d admins after %d concurrent sign-ups, want exactly 1", admins, n)
	}
	stored, err := s.Users(ctx)
	if err != nil || len(stored) != n {
		t.Fatalf("Users = %d, %v; want %d", len(stored), err, n)
	}
	admins = 0
	for _, u := range stored {
		if u.Admin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d admins in the store, want 1", admins)
	}
}

func TestInviteOnly(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationInvite))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }

	// The owner is added from the command line, whatever the mode.
	admin, err := s.AdminCreate(ctx, account.SignUp{Email: "owner@example.org", Name: "Owner", Password: "password1"}, false)
	if err != nil || !admin.Admin {
		t.Fatalf("AdminCreate = %+v, %v; want the first account as admin", admin, err)
	}

	signUp := func(email, invite string) error {
		_, err := s.Register(ctx, account.SignUp{Email: email, Name: "Guest", Password: "password1", Invite: invite})
		return err
	}
	if err := signUp("a@example.org", ""); !errors.Is(err, account.ErrInviteRequired) {
		t.Errorf("no invite: %v, want ErrInviteRequired", err)
	}
	if err := signUp("a@example.org", "made-up-token"); !errors.Is(err, account.ErrInviteInvalid) {
		t.Errorf("bad invite: %v, want ErrInviteInvalid", err)
	}
	// Without a valid invite nothing tells whether an email has an account:
	// the invite is checked first, whatever else is wrong.
	for _, in := range []account.SignUp{
		{Email: "owner@example.org", Name: "X", Password: "password1", Invite: "made-up-token"},
		{Email: "OWNER@example.org", Name: "", Password: "x", Invite: "made-up-token"},
		{Email: "not an email", Name: "X", Password: "password1", Invite: "made-up-token"},
	} {
		if _, err := s.Register(ctx, in); !errors.Is(err, account.ErrInviteInvalid) {
			t.Errorf("sign-up as %q with a bad invite: %v, want ErrInviteInvalid", in.Email, err)
		}
	}

	inv, err := s.CreateInvite(ctx, admin.ID, 24*time.Hour)
	if err != nil || inv.Token == "" {
		t.Fatalf("CreateInvite = %+v, %v", inv, err)
	}
	if err := s.CheckInvite(ctx, inv.Token); err != nil {
		t.Errorf("CheckInvite of a fresh invite: %v", err)
	}
	list, err := s.Invites(ctx)
	if err != nil || len(list) != 1 || list[0].ID != inv.ID || list[0].Token != "" {
		t.Errorf("Invites = %+v, %v; want the one invite, without its token", list, err)
	}
	// A sign-up that fails validation does not use the invite up.
	if _, err := s.Register(ctx, account.SignUp{Email: "a@example.org", Name: "A", Password: "short", Invite: inv.Token}); err == nil {
		t.Fatal("weak password accepted")
	}
	if err := signUp("a@example.org", inv.Token); err != nil {
		t.Fatalf("sign-up with a valid invite: %v", err)
	}
	if err := signUp("b@example.org", inv.Token); !errors.Is(err, account.ErrInviteInvalid) {
		t.Errorf("used invite: %v, want ErrInviteInvalid", err)
	}
	if err := s.CheckInvite(ctx, inv.Token); !errors.Is(err, account.ErrInviteInvalid) {
		t.Errorf("CheckInvite of a used invite: %v", err)
	}

	old, err := s.CreateInvite(ctx, admin.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if err := signUp("c@example.org", old.Token); !errors.Is(err, account.ErrInviteInvalid) {
		t.Errorf("expired invite: %v, want ErrInviteInvalid", err)
	}
	if list, _ := s.Invites(ctx); len(list) != 0 {
		t.Errorf("expired invite still listed: %+v", list)
	}
	if u, err := s.UserByEmail(ctx, "a@example.org"); err != nil || u.Admin {
		t.Errorf("invited user = %+v, %v; want a regular account", u, err)
	}
}

func TestClosed(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationClosed))
	_, err := s.Register(ctx, account.SignUp{Email: "a@example.org", Name: "A", Password: "password1"})
	if !errors.Is(err, account.ErrRegistrationClosed) {
		t.Fatalf("Register in closed mode: %v", err)
	}
	inv, err := s.CreateInvite(ctx, "u_x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Register(ctx, account.SignUp{Email: "a@example.org", Name: "A", Password: "password1", Invite: inv.Token})
	if !errors.Is(err, account.ErrRegistrationClosed) {
		t.Fatalf("an invite opened a closed server: %v", err)
	}
	u, err := s.AdminCreate(ctx, account.SignUp{Email: "a@example.org", Name: "A", Password: "password1"}, false)
	if err != nil || !u.Admin {
		t.Fatalf("AdminCreate in closed mode = %+v, %v", u, err)
	}
	v, err := s.AdminCreate(ctx, account.SignUp{Email: "b@example.org", Name: "B", Password: "password1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByEmail(ctx, v.Email); !got.Admin {
		t.Error("AdminCreate with admin=true made a regular account")
	}
}

func TestLastAdmin(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	admin := register(t, s, "admin@example.org", "Admin", "password1")
	user := register(t, s, "user@example.org", "User", "password2")

	if err := s.SetAdmin(ctx, "admin@example.org", false); !errors.Is(err, account.ErrLastAdmin) {
		t.Errorf("demoting the only admin: %v, want ErrLastAdmin", err)
	}
	if err := s.Delete(ctx, admin.ID); !errors.Is(err, account.ErrLastAdmin) {
		t.Errorf("deleting the only admin while others exist: %v, want ErrLastAdmin", err)
	}
	if err := s.DeleteWithPassword(ctx, admin.ID, "password1"); !errors.Is(err, account.ErrLastAdmin) {
		t.Errorf("self-deleting the only admin: %v, want ErrLastAdmin", err)
	}
	if err := s.SetAdmin(ctx, "user@example.org", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdmin(ctx, "admin@example.org", false); err != nil {
		t.Errorf("demoting one of two admins: %v", err)
	}
	if err := s.SetAdmin(ctx, "user@example.org", false); !errors.Is(err, account.ErrLastAdmin) {
		t.Errorf("demoting the new only admin: %v", err)
	}
	if err := s.Delete(ctx, admin.ID); err != nil {
		t.Errorf("deleting a regular user: %v", err)
	}
	// Alone, the last admin may delete the account; the next sign-up is
	// the first again and becomes admin.
	if err := s.DeleteWithPassword(ctx, user.ID, "wrong"); !errors.Is(err, account.ErrWrongPassword) {
		t.Errorf("delete with a wrong password: %v", err)
	}
	if err := s.DeleteWithPassword(ctx, user.ID, "password2"); err != nil {
		t.Fatalf("the only account deleting itself: %v", err)
	}
	next := register(t, s, "next@example.org", "Next", "password3")
	if !next.Admin {
		t.Error("after every account was deleted, the next sign-up is not admin")
	}
	if err := s.SetAdmin(ctx, "ghost@example.org", true); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SetAdmin of an unknown user: %v", err)
	}
}

func TestDeleteRevokesAndFreesEmail(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	register(t, s, "admin@example.org", "Admin", "password1")
	u := register(t, s, "user@example.org", "User", "password2")
	tok := login(t, s, "user@example.org", "password2")
	if err := s.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, account.ErrSessionInvalid) {
		t.Errorf("session of a deleted user: %v", err)
	}
	if _, err := s.User(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("User of a deleted account: %v", err)
	}
	again := register(t, s, "user@example.org", "User again", "password3")
	if again.ID == u.ID || again.Admin {
		t.Errorf("re-registered user = %+v", again)
	}
}

func TestRename(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationOpen))
	u := register(t, s, "ann@example.org", "Ann", "password1")
	tok := login(t, s, "ann@example.org", "password1")
	if _, err := s.Rename(ctx, u.ID, " "); err == nil {
		t.Fatal("empty name accepted")
	}
	if _, err := s.Rename(ctx, u.ID, " Annie "); err != nil {
		t.Fatal(err)
	}
	who, err := s.Authenticate(ctx, tok)
	if err != nil || who.Name != "Annie" {
		t.Errorf("after rename: %+v, %v", who, err)
	}
}

func TestGuestSession(t *testing.T) {
	s, _ := newService(t, fast(account.RegistrationClosed))
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	if _, _, err := s.NewGuestSession(ctx, "\x07", "ROOM"); err == nil {
		t.Error("guest with a control character in the name accepted")
	}
	tok, g, err := s.NewGuestSession(ctx, " Visitor ", "ABCD")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Guest || g.GuestRoom != "ABCD" || g.Name != "Visitor" || g.Email != "" {
		t.Errorf("guest = %+v", g)
	}
	who, err := s.Authenticate(ctx, tok)
	if err != nil || !who.Guest || who.ID != g.ID || who.GuestRoom != "ABCD" {
		t.Fatalf("Authenticate(guest) = %+v, %v", who, err)
	}
	if users, _ := s.Users(ctx); len(users) != 0 {
		t.Errorf("a guest became an account: %+v", users)
	}
	now = now.Add(30 * time.Minute)
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, account.ErrSessionInvalid) {
		t.Errorf("guest session valid after the guest TTL: %v", err)
	}
	tok2, _, err := s.NewGuestSession(ctx, "Other", "ABCD")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok2); !errors.Is(err, account.ErrSessionInvalid) {
		t.Errorf("guest session valid after log-out: %v", err)
	}
}

// TestDefaultHashCost runs sign-up and log-in with the production argon2id
// parameters and checks that they are what is stored.
func TestDefaultHashCost(t *testing.T) {
	s, st := newService(t, account.Settings{})
	set := s.Settings()
	if set.HashTime != account.DefaultHashTime || set.HashMemory != account.DefaultHashMemory || set.HashThreads != account.DefaultHashThreads {
		t.Fatalf("settings = %+v; want the default hash parameters", set)
	}
	if set.Registration != account.RegistrationOpen || set.SessionTTL != 30*24*time.Hour || set.GuestTTL != 12*time.Hour {
		t.Errorf("settings = %+v; want open registration, 30-day sessions, 12-hour guests", set)
	}
	u := register(t, s, "ann@example.org", "Ann", "correct horse")
	raw, err := st.Get(store.Key("user", u.ID))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Hash []byte `json:"hash"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("argon2id$%d$%d$%d$", account.DefaultHashTime, account.DefaultHashMemory, account.DefaultHashThreads)
	if !strings.HasPrefix(string(rec.Hash), want) || len(rec.Hash) != len(want)+48 {
		t.Errorf("stored hash starts %q (%d bytes); want %q followed by salt and key", rec.Hash[:min(len(rec.Hash), 30)], len(rec.Hash), want)
	}
	if strings.Contains(string(raw), "correct horse") {
		t.Error("the password is stored in clear")
	}
	login(t, s, "ann@example.org", "correct horse")
	if _, _, err := s.Login(ctx, "ann@example.org", "correct horsE"); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("wrong password with default cost: %v", err)
	}
}

// TestHashParametersTravelWithTheHash: a hash made with one cost still
// verifies after the service's cost changes.
func TestHashParametersTravelWithTheHash(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	cheap := account.New(account.NewBadger(st), fast(account.RegistrationOpen))
	register(t, cheap, "ann@example.org", "Ann", "correct horse")
	other := account.New(account.NewBadger(st), account.Settings{HashTime: 2, HashMemory: 2048})
	login(t, other, "ann@example.org", "correct horse")
}

// TestAccountsSurviveReopen: sign-ups are on disk when Register returns.
func TestAccountsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := account.New(account.NewBadger(st), fast(account.RegistrationOpen))
	register(t, s, "ann@example.org", "Ann", "correct horse")
	tok := login(t, s, "ann@example.org", "correct horse")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, dir)
	s2 := account.New(account.NewBadger(st2), fast(account.RegistrationOpen))
	login(t, s2, "ann@example.org", "correct horse")
	if u, err := s2.Authenticate(ctx, tok); err != nil || u.Email != "ann@example.org" {
		t.Errorf("session after reopen: %+v, %v", u, err)
	}
}
