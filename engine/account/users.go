package account

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"watchparty/engine/revoke"
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
		return s.repo.Update(func(tx Tx) error {
			if useInvite {
				h, err := usableInvite(tx, in.Invite, now)
				if err != nil {
					return err
				}
				if err := tx.DeleteInvite(h); err != nil {
					return err
				}
			}
			if _, err := tx.UserIDByEmail(email); err == nil {
				return &FieldError{"email", ErrEmailTaken}
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			count, err := tx.UserCount()
			if err != nil {
				return err
			}
			u.Admin = count == 0
			if err := tx.CreateUser(&UserRecord{User: *u, Hash: hash}); err != nil {
				return err
			}
			return tx.SetUserCount(count + 1)
		})
	})
	s.countMu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.repo.Sync(); err != nil {
		return nil, err
	}
	return u, nil
}

// Rename changes a user's display name.
func (s *Service) Rename(ctx context.Context, userID, name string) (*User, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, &FieldError{"name", err}
	}
	var out User
	err = s.retry(func() error {
		return s.repo.UpdateSync(func(tx Tx) error {
			rec, err := tx.User(userID)
			if err != nil {
				return err
			}
			rec.Name = name
			out = rec.User
			return tx.PutUser(rec)
		})
	})
	return &out, err
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	var rec *UserRecord
	err := s.repo.View(func(tx Tx) (err error) { rec, err = tx.User(id); return })
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
	var rec *UserRecord
	err = s.repo.View(func(tx Tx) error {
		id, err := tx.UserIDByEmail(norm)
		if err != nil {
			return err
		}
		rec, err = tx.User(id)
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
	err := s.repo.View(func(tx Tx) error {
		return tx.Users(func(r *UserRecord) error {
			out = append(out, r.User)
			return nil
		})
	})
	return out, err
}

func adminCount(tx Tx) (int, error) {
	n := 0
	err := tx.Users(func(r *UserRecord) error {
		if r.Admin {
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
		return s.repo.UpdateSync(func(tx Tx) error {
			rec, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			if rec.Admin && !admin {
				if n, err := adminCount(tx); err != nil {
					return err
				} else if n <= 1 {
					return ErrLastAdmin
				}
			}
			rec.Admin = admin
			return tx.PutUser(rec)
		})
	})
}

// Delete removes a user and all their sessions.
func (s *Service) Delete(ctx context.Context, userID string) error {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return s.retryThen(func() error {
		return s.repo.UpdateSync(func(tx Tx) error {
			rec, err := tx.User(userID)
			if err != nil {
				return err
			}
			count, err := tx.UserCount()
			if err != nil {
				return err
			}
			if rec.Admin && count > 1 {
				if n, err := adminCount(tx); err != nil {
					return err
				} else if n <= 1 {
					return ErrLastAdmin
				}
			}
			if err := revokeSessions(tx, userID, ""); err != nil {
				return err
			}
			if err := tx.DeleteUser(rec); err != nil {
				return err
			}
			// The count decides who becomes the first admin: when the last
			// account is gone, the next sign-up must be admin again.
			return tx.SetUserCount(max(count-1, 0))
		})
	}, revoke.Event{Kind: revoke.Deleted, User: userID})
}

// DeleteWithPassword deletes the caller's own account after checking the password.
func (s *Service) DeleteWithPassword(ctx context.Context, userID, password string) error {
	var rec *UserRecord
	if err := s.repo.View(func(tx Tx) (err error) { rec, err = tx.User(userID); return }); err != nil {
		return err
	}
	if !s.verify(rec.Hash, password) {
		return &FieldError{"delete_password", ErrWrongPassword}
	}
	return s.Delete(ctx, userID)
}
