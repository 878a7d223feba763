package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"watchparty/engine/revoke"
	"watchparty/engine/store"
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

func userKey(id string) []byte { return store.Key("user", id) }

func emailKey(email string) []byte { return store.Key("email", email) }

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
