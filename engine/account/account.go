// Package account holds users (users.go), their password hashes
// (passwords.go), log-in and guest sessions (sessions.go) and sign-up
// invites (invites.go), kept in a Repo (repo.go; in the store: badger.go).
package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"watchparty/engine/revoke"
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
	repo  Repo
	set   Settings
	Now   func() time.Time
	dummy []byte
	// slots bounds how many hashes run at once. Each takes HashMemory KiB,
	// so a burst of log-ins must not take memory without limit; running more
	// at once than there are CPUs would not be faster anyway.
	slots chan struct{}

	releaseMu    sync.Mutex
	release      *time.Timer   // returns hash memory to the OS once hashing stops
	releaseDelay time.Duration // after the last hash (releaseAfter)
	closed       bool          // Close was called: no timer is armed again

	// countMu serialises the transactions that change the user count (sign-up
	// and delete), which would otherwise conflict on it under a burst.
	countMu sync.Mutex
}

// New returns a Service keeping its records in repo.
func New(repo Repo, set Settings) *Service {
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
	s := &Service{repo: repo, set: set, Now: time.Now, slots: make(chan struct{}, runtime.GOMAXPROCS(0)), releaseDelay: releaseAfter}
	s.dummy = s.dummyHash()
	return s
}

// Settings returns the service's settings.
func (s *Service) Settings() Settings { return s.set }

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
		if err = fn(); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}
