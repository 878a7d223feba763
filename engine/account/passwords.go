package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"watchparty/engine/revoke"
)

// releaseAfter is how long after the last hash the memory it used is handed
// back to the OS. Each hash allocates HashMemory KiB; after a burst of
// log-ins Go's runtime would keep tens of MiB resident for minutes: a
// collection during the hashes counts their memory as live, which raises
// the heap goal, and nothing collects again until the heap reaches it.
//
// debug.FreeOSMemory collects and returns every free page at once. Its last
// step cannot be interrupted: on a server with one core every room waits
// for it (7-63 ms in a room of 500). A plain collection would not stall,
// but the runtime then keeps the free pages up to its new goal: 64-67 MiB
// resident after four log-ins instead of 30 MiB.
const releaseAfter = 5 * time.Second

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
	if s.closed {
		return
	}
	if s.release == nil {
		s.release = time.AfterFunc(s.releaseDelay, s.releaseMemory)
		return
	}
	s.release.Reset(s.releaseDelay)
}

// Close stops the timer that returns hash memory to the OS, so that no
// garbage collection it asked for runs after the server has stopped (a
// test checking that no goroutine outlives its server saw one). The
// service still works; it just no longer frees that memory early.
func (s *Service) Close() {
	s.releaseMu.Lock()
	defer s.releaseMu.Unlock()
	s.closed = true
	if s.release != nil {
		s.release.Stop()
	}
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

// ChangePassword checks the current password, sets the new one and revokes
// every other session of the user; keepToken (the caller's session) stays.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepToken string) error {
	var rec *UserRecord
	if err := s.repo.View(func(tx Tx) (err error) { rec, err = tx.User(userID); return }); err != nil {
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
		return s.repo.UpdateSync(func(tx Tx) error {
			rec, err := tx.User(userID)
			if err != nil {
				return err
			}
			rec.Hash = hash
			if err := tx.PutUser(rec); err != nil {
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
