// Package account holds users, their passwords, log-in sessions, invites and
// guest sessions, on top of the store.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/argon2"

	"watchparty/engine/revoke"
	"watchparty/engine/store"
)

// Errors a user can be shown.
var (
	ErrInvalidEmail       = errors.New("enter a valid email address")
	ErrEmailTaken         = errors.New("an account with this email already exists")
	ErrWeakPassword       = errors.New("the password must be at least 8 characters")
	ErrLongPassword       = errors.New("the password must be at most 256 characters")
	ErrInvalidName        = errors.New("the display name must be 1 to 40 characters, without control characters")
	ErrBadCredentials     = errors.New("wrong email or password")
	ErrWrongPassword      = errors.New("the current password is wrong")
	ErrRegistrationClosed = errors.New("sign-up is closed on this server")
	ErrInviteRequired     = errors.New("sign-up on this server needs an invite link from the admin")
	ErrInviteInvalid      = errors.New("this invite link is invalid, used or expired")
	ErrSessionInvalid     = errors.New("session invalid or expired")
	ErrNotFound           = errors.New("no such user")
	ErrLastAdmin          = errors.New("the last admin cannot be removed or demoted")
)

// Registration modes.
const (
	RegistrationOpen   = "open"
	RegistrationInvite = "invite"
	RegistrationClosed = "closed"
)

// User is an account, or a guest limited to one room.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email,omitempty"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin,omitempty"`
	Created   time.Time `json:"created"`
	Guest     bool      `json:"guest,omitempty"`
	GuestRoom string    `json:"guest_room,omitempty"`
}

type userRecord struct {
	User
	Hash []byte `json:"hash"`
}

type sessionRecord struct {
	UserID  string    `json:"uid"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Guest sessions carry their user inline: guests have no user record.
	Guest *User `json:"guest,omitempty"`
}

type inviteRecord struct {
	CreatedBy string    `json:"by"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// Invite is an admin-issued single-use sign-up link.
type Invite struct {
	Token   string // only known when created
	ID      string // hash prefix, for listing
	Created time.Time
	Expires time.Time
}

// Settings configure the service.
type Settings struct {
	Registration string
	SessionTTL   time.Duration
	GuestTTL     time.Duration
	// Hash parameters; zero values take the defaults.
	HashTime    uint32
	HashMemory  uint32 // KiB
	HashThreads uint8
	// Revoke hears of every session ended and account deleted, so that live
	// connections end with them (engine/revoke); nil: nobody listens.
	Revoke *revoke.Bus
}

// Default argon2id parameters: 19 MiB, 2 passes, 1 lane.
const (
	DefaultHashTime    = 2
	DefaultHashMemory  = 19 * 1024
	DefaultHashThreads = 1
)

// Service manages accounts.
type Service struct {
	st    *store.Store
	set   Settings
	Now   func() time.Time
	dummy []byte
	// slots bounds how many hashes run at once. Each takes HashMemory KiB,
	// so a burst of log-ins must not take memory without limit; running more
	// at once than there are CPUs would not be faster anyway.
	slots chan struct{}

	releaseMu sync.Mutex
	release   *time.Timer // returns hash memory to the OS once hashing stops

	// countMu serialises the transactions that change the user count (sign-up
	// and delete), which would otherwise conflict on it under a burst.
	countMu sync.Mutex
}

// releaseAfter is how long after the last hash the memory it used is handed
// back to the OS. Each hash allocates HashMemory KiB; after a burst of
// log-ins Go's runtime would keep tens of MiB resident for minutes.
const releaseAfter = 5 * time.Second

// New returns a Service on st.
func New(st *store.Store, set Settings) *Service {
	if set.HashTime == 0 {
		set.HashTime = DefaultHashTime
	}
	if set.HashMemory == 0 {
		set.HashMemory = DefaultHashMemory
	}
	if set.HashThreads == 0 {
		set.HashThreads = DefaultHashThreads
	}
	if set.SessionTTL == 0 {
		set.SessionTTL = 30 * 24 * time.Hour
	}
	if set.GuestTTL == 0 {
		set.GuestTTL = 12 * time.Hour
	}
	if set.Registration == "" {
		set.Registration = RegistrationOpen
	}
	s := &Service{st: st, set: set, Now: time.Now, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.dummy = s.dummyHash()
	return s
}

// dummyHash is a well-formed hash with the service's parameters that no
// password matches. Log-in verifies against it when the email is unknown, so
// that both cases cost one hash. Building it costs nothing: verify only needs
// the parameters and a salt.
func (s *Service) dummyHash() []byte {
	head := fmt.Sprintf("argon2id$%d$%d$%d$", s.set.HashTime, s.set.HashMemory, s.set.HashThreads)
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return append([]byte(head), b...)
}

// Settings returns the service's settings.
func (s *Service) Settings() Settings { return s.set }

// NormalizeEmail trims and lower-cases an address and checks its form.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if len(e) > 254 || e == "" {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// CleanName trims a display name and checks it.
func CleanName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if n == "" || utf8.RuneCountInString(n) > 40 || !utf8.ValidString(n) {
		return "", ErrInvalidName
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", ErrInvalidName
		}
	}
	return n, nil
}

func checkPassword(p string) error {
	if utf8.RuneCountInString(p) < 8 {
		return ErrWeakPassword
	}
	if len(p) > 256 {
		return ErrLongPassword
	}
	return nil
}

// hash format: salt(16) || key(32), parameters from settings encoded in front.
func (s *Service) hash(password string) []byte {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	return s.hashWith(password, salt, s.set.HashTime, s.set.HashMemory, s.set.HashThreads)
}

func (s *Service) hashWith(password string, salt []byte, t, m uint32, p uint8) []byte {
	s.slots <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	<-s.slots
	s.scheduleRelease()
	head := fmt.Sprintf("argon2id$%d$%d$%d$", t, m, p)
	out := append([]byte(head), salt...)
	return append(out, key...)
}

// scheduleRelease (re)arms the timer that frees hash memory once no hash
// has run for releaseAfter.
func (s *Service) scheduleRelease() {
	s.releaseMu.Lock()
	defer s.releaseMu.Unlock()
	if s.release == nil {
		s.release = time.AfterFunc(releaseAfter, s.releaseMemory)
		return
	}
	s.release.Reset(releaseAfter)
}

func (s *Service) releaseMemory() {
	if len(s.slots) > 0 {
		return // a hash is running; it re-arms the timer when it ends
	}
	debug.FreeOSMemory()
}

func (s *Service) verify(stored []byte, password string) bool {
	parts := strings.SplitN(string(stored), "$", 5)
	if len(parts) != 5 || parts[0] != "argon2id" {
		return false
	}
	t, err1 := strconv.ParseUint(parts[1], 10, 32)
	m, err2 := strconv.ParseUint(parts[2], 10, 32)
	p, err3 := strconv.ParseUint(parts[3], 10, 8)
	if err1 != nil || err2 != nil || err3 != nil || len(stored) < 48 || m > 1<<22 || t > 64 {
		return false
	}
	rest := stored[len(stored)-48:]
	want := s.hashWith(password, rest[:16], uint32(t), uint32(m), uint8(p))
	return subtle.ConstantTimeCompare(want, stored) == 1
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(base64.RawURLEncoding.EncodeToString(b))
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func userKey(id string) []byte      { return store.Key("user", id) }
func emailKey(email string) []byte  { return store.Key("email", email) }
func sessionKey(hash string) []byte { return store.Key("session", hash) }
func inviteKey(hash string) []byte  { return store.Key("invite", hash) }
func userSessionPrefix(id string) []byte {
	return []byte("usersession/" + id + "/")
}

var userCountKey = []byte("meta/usercount")

// SignUp is what the sign-up form sends.
type SignUp struct {
	Email, Name, Password string
	Invite                string // invite token, needed in invite mode
}

// FieldError ties an error to a form field.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Register creates an account. The first account becomes admin. The write
// is synced to disk before Register returns.
func (s *Service) Register(ctx context.Context, in SignUp) (*User, error) {
	return s.create(ctx, in, false)
}

// AdminCreate creates an account regardless of the registration mode (CLI).
func (s *Service) AdminCreate(ctx context.Context, in SignUp, admin bool) (*User, error) {
	u, err := s.create(ctx, in, true)
	if err != nil || !admin || u.Admin {
		return u, err
	}
	return u, s.SetAdmin(ctx, u.Email, true)
}

func (s *Service) create(ctx context.Context, in SignUp, bypass bool) (*User, error) {
	if !bypass {
		switch s.set.Registration {
		case RegistrationClosed:
			return nil, ErrRegistrationClosed
		case RegistrationInvite:
			// The invite is checked before anything else, so that without
			// one nothing is learnt about which emails have accounts.
			if in.Invite == "" {
				return nil, ErrInviteRequired
			}
			if err := s.CheckInvite(ctx, in.Invite); err != nil {
				return nil, err
			}
		}
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, &FieldError{"email", err}
	}
	name, err := CleanName(in.Name)
	if err != nil {
		return nil, &FieldError{"name", err}
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, &FieldError{"password", err}
	}
	hash := s.hash(in.Password)
	useInvite := !bypass && s.set.Registration == RegistrationInvite
	now := s.Now().UTC()
	u := &User{ID: newID("u_"), Email: email, Name: name, Created: now}
	s.countMu.Lock()
	err = s.retry(func() error {
		return s.st.Update(func(tx *store.Tx) error {
			if useInvite {
				ik := inviteKey(tokenHash(in.Invite))
				v, err := tx.Get(ik)
				if errors.Is(err, store.ErrNotFound) {
					return ErrInviteInvalid
				} else if err != nil {
					return err
				}
				var inv inviteRecord
				if json.Unmarshal(v, &inv) != nil || !now.Before(inv.Expires) {
					return ErrInviteInvalid
				}
				if err := tx.Delete(ik); err != nil {
					return err
				}
			}
			if ok, err := tx.Has(emailKey(email)); err != nil {
				return err
			} else if ok {
				return &FieldError{"email", ErrEmailTaken}
			}
			count, err := userCount(tx)
			if err != nil {
				return err
			}
			u.Admin = count == 0
			rec, _ := json.Marshal(userRecord{User: *u, Hash: hash})
			if err := tx.Set(userKey(u.ID), rec); err != nil {
				return err
			}
			if err := tx.Set(emailKey(email), []byte(u.ID)); err != nil {
				return err
			}
			return tx.Set(userCountKey, []byte(strconv.Itoa(count+1)))
		})
	})
	s.countMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.st.Sync(); err != nil {
		return nil, err
	}
	return u, nil
}

// userCount reads the number of accounts.
func userCount(tx *store.Tx) (int, error) {
	v, err := tx.Get(userCountKey)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("account: corrupt user count %q", v)
	}
	return n, nil
}

// retry reruns fn when a concurrent transaction conflicted with it.
// retryThen runs fn as retry does and, when it succeeds, publishes e.
func (s *Service) retryThen(fn func() error, e revoke.Event) error {
	if err := s.retry(fn); err != nil {
		return err
	}
	s.set.Revoke.Publish(e)
	return nil
}

func (s *Service) retry(fn func() error) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = fn(); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

func (s *Service) getRecord(tx *store.Tx, id string) (*userRecord, error) {
	v, err := tx.Get(userKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var r userRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("account: corrupt user %s: %w", id, err)
	}
	return &r, nil
}

func (s *Service) idByEmail(tx *store.Tx, email string) (string, error) {
	v, err := tx.Get(emailKey(email))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotFound
	}
	return string(v), err
}

// Login checks an email and password and opens a new session. Whether the
// email exists or not, the same slow hash runs, so timing tells nothing.
func (s *Service) Login(ctx context.Context, email, password string) (*User, string, error) {
	norm, _ := NormalizeEmail(email)
	var rec *userRecord
	err := s.st.View(func(tx *store.Tx) error {
		id, err := s.idByEmail(tx, norm)
		if err != nil {
			return err
		}
		rec, err = s.getRecord(tx, id)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if rec == nil || len(password) > 256 {
		s.verify(s.dummy, password)
		return nil, "", ErrBadCredentials
	}
	if !s.verify(rec.Hash, password) {
		return nil, "", ErrBadCredentials
	}
	tok, err := s.NewSession(ctx, rec.ID)
	if err != nil {
		return nil, "", err
	}
	u := rec.User
	return &u, tok, nil
}

// NewSession opens a session for a user and returns its token. Only the
// token's hash is stored, with the session TTL.
func (s *Service) NewSession(ctx context.Context, userID string) (string, error) {
	tok := newToken()
	h := tokenHash(tok)
	now := s.Now().UTC()
	rec, _ := json.Marshal(sessionRecord{UserID: userID, Created: now, Expires: now.Add(s.set.SessionTTL)})
	err := s.st.UpdateSync(func(tx *store.Tx) error {
		if err := tx.SetTTL(sessionKey(h), rec, s.set.SessionTTL); err != nil {
			return err
		}
		return tx.SetTTL(append(userSessionPrefix(userID), h...), nil, s.set.SessionTTL)
	})
	return tok, err
}

// NewGuestSession opens a session for a guest limited to one room.
func (s *Service) NewGuestSession(ctx context.Context, name, roomCode string) (string, *User, error) {
	name, err := CleanName(name)
	if err != nil {
		return "", nil, &FieldError{"name", err}
	}
	tok := newToken()
	now := s.Now().UTC()
	g := &User{ID: newID("g_"), Name: name, Created: now, Guest: true, GuestRoom: roomCode}
	rec, _ := json.Marshal(sessionRecord{UserID: g.ID, Created: now, Expires: now.Add(s.set.GuestTTL), Guest: g})
	err = s.st.Update(func(tx *store.Tx) error {
		return tx.SetTTL(sessionKey(tokenHash(tok)), rec, s.set.GuestTTL)
	})
	return tok, g, err
}

// Authenticate returns the user of a session token.
func (s *Service) Authenticate(ctx context.Context, token string) (*User, error) {
	u, _, err := s.AuthenticateSession(ctx, token)
	return u, err
}

// AuthenticateSession returns the user of a session token and when the
// session ends.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*User, time.Time, error) {
	if token == "" || len(token) > 128 {
		return nil, time.Time{}, ErrSessionInvalid
	}
	var u *User
	var expires time.Time
	err := s.st.View(func(tx *store.Tx) error {
		v, err := tx.Get(sessionKey(tokenHash(token)))
		if errors.Is(err, store.ErrNotFound) {
			return ErrSessionInvalid
		} else if err != nil {
			return err
		}
		var sr sessionRecord
		if json.Unmarshal(v, &sr) != nil || !s.Now().Before(sr.Expires) {
			return ErrSessionInvalid
		}
		expires = sr.Expires
		if sr.Guest != nil {
			g := *sr.Guest
			u = &g
			return nil
		}
		rec, err := s.getRecord(tx, sr.UserID)
		if errors.Is(err, ErrNotFound) {
			return ErrSessionInvalid
		}
		if err != nil {
			return err
		}
		u = &rec.User
		return nil
	})
	return u, expires, err
}

// Logout revokes one session.
func (s *Service) Logout(ctx context.Context, token string) error {
	h := tokenHash(token)
	err := s.st.UpdateSync(func(tx *store.Tx) error {
		v, err := tx.Get(sessionKey(h))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var sr sessionRecord
		_ = json.Unmarshal(v, &sr)
		if sr.UserID != "" {
			if err := tx.Delete(append(userSessionPrefix(sr.UserID), h...)); err != nil {
				return err
			}
		}
		return tx.Delete(sessionKey(h))
	})
	if err == nil {
		s.set.Revoke.Publish(revoke.Event{Kind: revoke.Session, Session: h})
	}
	return err
}

// SessionID is the id of a session token: what the store keeps of it, and
// what revocations and connections name it by.
func SessionID(token string) string { return tokenHash(token) }

// LogoutEveryone revokes every session, of accounts and guests alike, and
// returns how many there were.
func (s *Service) LogoutEveryone(ctx context.Context) (int, error) {
	var keys [][]byte
	err := s.st.View(func(tx *store.Tx) error {
		for _, prefix := range []string{"session/", "usersession/"} {
			if err := tx.Iterate([]byte(prefix), false, func(k, _ []byte) error {
				keys = append(keys, append([]byte(nil), k...))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 1000)]
		keys = keys[len(batch):]
		if err := s.st.UpdateSync(func(tx *store.Tx) error {
			for _, k := range batch {
				if string(k[:len("session/")]) == "session/" {
					n++
				}
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, err
		}
	}
	s.set.Revoke.Publish(revoke.Event{Kind: revoke.Everyone})
	return n, nil
}

// revokeSessions deletes every session of a user except keep (a token hash).
func revokeSessions(tx *store.Tx, userID, keepHash string) error {
	var hashes []string
	prefix := userSessionPrefix(userID)
	if err := tx.Iterate(prefix, false, func(k, _ []byte) error {
		hashes = append(hashes, string(k[len(prefix):]))
		return nil
	}); err != nil {
		return err
	}
	for _, h := range hashes {
		if h == keepHash {
			continue
		}
		if err := tx.Delete(sessionKey(h)); err != nil {
			return err
		}
		if err := tx.Delete(append(userSessionPrefix(userID), h...)); err != nil {
			return err
		}
	}
	return nil
}

// ChangePassword checks the current password, sets the new one and revokes
// every other session of the user; keepToken (the caller's session) stays.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepToken string) error {
	var rec *userRecord
	if err := s.st.View(func(tx *store.Tx) (err error) { rec, err = s.getRecord(tx, userID); return }); err != nil {
		return err
	}
	if !s.verify(rec.Hash, current) {
		return &FieldError{"current", ErrWrongPassword}
	}
	if err := checkPassword(next); err != nil {
		return &FieldError{"password", err}
	}
	return s.setPassword(userID, next, keepToken)
}

func (s *Service) setPassword(userID, next, keepToken string) error {
	hash := s.hash(next)
	keep := ""
	if keepToken != "" {
		keep = tokenHash(keepToken)
	}
	return s.retryThen(func() error {
		return s.st.UpdateSync(func(tx *store.Tx) error {
			rec, err := s.getRecord(tx, userID)
			if err != nil {
				return err
			}
			rec.Hash = hash
			b, _ := json.Marshal(rec)
			if err := tx.Set(userKey(userID), b); err != nil {
				return err
			}
			return revokeSessions(tx, userID, keep)
		})
	}, revoke.Event{Kind: revoke.User, User: userID, Keep: keep})
}

// SetPassword sets a user's password without the current one (admin CLI)
// and revokes all of the user's sessions.
func (s *Service) SetPassword(ctx context.Context, email, next string) error {
	if err := checkPassword(next); err != nil {
		return err
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.setPassword(u.ID, next, "")
}

// Rename changes a user's display name.
func (s *Service) Rename(ctx context.Context, userID, name string) (*User, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, &FieldError{"name", err}
	}
	var out User
	err = s.retry(func() error {
		return s.st.UpdateSync(func(tx *store.Tx) error {
			rec, err := s.getRecord(tx, userID)
			if err != nil {
				return err
			}
			rec.Name = name
			b, _ := json.Marshal(rec)
			out = rec.User
			return tx.Set(userKey(userID), b)
		})
	})
	return &out, err
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	var rec *userRecord
	err := s.st.View(func(tx *store.Tx) (err error) { rec, err = s.getRecord(tx, id); return })
	if err != nil {
		return nil, err
	}
	return &rec.User, nil
}

// UserByEmail returns a user by email.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, ErrNotFound
	}
	var rec *userRecord
	err = s.st.View(func(tx *store.Tx) error {
		id, err := s.idByEmail(tx, norm)
		if err != nil {
			return err
		}
		rec, err = s.getRecord(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &rec.User, nil
}

// Users lists every account in id order.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.st.View(func(tx *store.Tx) error {
		return tx.Iterate([]byte("user/"), false, func(_, v []byte) error {
			var r userRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r.User)
			return nil
		})
	})
	return out, err
}

func (s *Service) adminCount(tx *store.Tx) (int, error) {
	n := 0
	err := tx.Iterate([]byte("user/"), false, func(_, v []byte) error {
		var r userRecord
		if json.Unmarshal(v, &r) == nil && r.Admin {
			n++
		}
		return nil
	})
	return n, err
}

// SetAdmin grants or removes admin rights.
func (s *Service) SetAdmin(ctx context.Context, email string, admin bool) error {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.retry(func() error {
		return s.st.UpdateSync(func(tx *store.Tx) error {
			rec, err := s.getRecord(tx, u.ID)
			if err != nil {
				return err
			}
			if rec.Admin && !admin {
				if n, err := s.adminCount(tx); err != nil {
					return err
				} else if n <= 1 {
					return ErrLastAdmin
				}
			}
			rec.Admin = admin
			b, _ := json.Marshal(rec)
			return tx.Set(userKey(u.ID), b)
		})
	})
}

// Delete removes a user and all their sessions.
func (s *Service) Delete(ctx context.Context, userID string) error {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return s.retryThen(func() error {
		return s.st.UpdateSync(func(tx *store.Tx) error {
			rec, err := s.getRecord(tx, userID)
			if err != nil {
				return err
			}
			count, err := userCount(tx)
			if err != nil {
				return err
			}
			if rec.Admin && count > 1 {
				if n, err := s.adminCount(tx); err != nil {
					return err
				} else if n <= 1 {
					return ErrLastAdmin
				}
			}
			if err := revokeSessions(tx, userID, ""); err != nil {
				return err
			}
			if err := tx.Delete(emailKey(rec.Email)); err != nil {
				return err
			}
			if err := tx.Delete(userKey(userID)); err != nil {
				return err
			}
			// The count decides who becomes the first admin: when the last
			// account is gone, the next sign-up must be admin again.
			return tx.Set(userCountKey, []byte(strconv.Itoa(max(count-1, 0))))
		})
	}, revoke.Event{Kind: revoke.Deleted, User: userID})
}

// DeleteWithPassword deletes the caller's own account after checking the password.
func (s *Service) DeleteWithPassword(ctx context.Context, userID, password string) error {
	var rec *userRecord
	if err := s.st.View(func(tx *store.Tx) (err error) { rec, err = s.getRecord(tx, userID); return }); err != nil {
		return err
	}
	if !s.verify(rec.Hash, password) {
		return &FieldError{"delete_password", ErrWrongPassword}
	}
	return s.Delete(ctx, userID)
}

// CreateInvite issues a single-use sign-up invite valid for ttl.
func (s *Service) CreateInvite(ctx context.Context, createdBy string, ttl time.Duration) (Invite, error) {
	tok := newToken()
	now := s.Now().UTC()
	inv := inviteRecord{CreatedBy: createdBy, Created: now, Expires: now.Add(ttl)}
	b, _ := json.Marshal(inv)
	err := s.st.UpdateSync(func(tx *store.Tx) error {
		return tx.SetTTL(inviteKey(tokenHash(tok)), b, ttl)
	})
	return Invite{Token: tok, ID: tokenHash(tok)[:12], Created: now, Expires: inv.Expires}, err
}

// Invites lists the unused, unexpired invites.
func (s *Service) Invites(ctx context.Context) ([]Invite, error) {
	var out []Invite
	now := s.Now()
	err := s.st.View(func(tx *store.Tx) error {
		return tx.Iterate([]byte("invite/"), false, func(k, v []byte) error {
			var r inviteRecord
			if json.Unmarshal(v, &r) != nil || !now.Before(r.Expires) {
				return nil
			}
			out = append(out, Invite{ID: string(k[len("invite/"):])[:12], Created: r.Created, Expires: r.Expires})
			return nil
		})
	})
	return out, err
}

// CheckInvite reports whether an invite token is usable, without using it.
func (s *Service) CheckInvite(ctx context.Context, token string) error {
	v, err := s.st.Get(inviteKey(tokenHash(token)))
	if errors.Is(err, store.ErrNotFound) {
		return ErrInviteInvalid
	}
	if err != nil {
		return err
	}
	var r inviteRecord
	if json.Unmarshal(v, &r) != nil || !s.Now().Before(r.Expires) {
		return ErrInviteInvalid
	}
	return nil
}
