package account

import (
	"context"
	"errors"
	"time"

	"watchparty/engine/revoke"
)

// Login checks an email and password and opens a new session. Whether the
// email exists or not, the same slow hash runs, so timing tells nothing.
func (s *Service) Login(ctx context.Context, email, password string) (*User, string, error) {
	norm, _ := NormalizeEmail(email)
	var rec *UserRecord
	err := s.repo.View(func(tx Tx) error {
		id, err := tx.UserIDByEmail(norm)
		if err != nil {
			return err
		}
		rec, err = tx.User(id)
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
	rec := SessionRecord{UserID: userID, Created: now, Expires: now.Add(s.set.SessionTTL)}
	err := s.repo.UpdateSync(func(tx Tx) error {
		return tx.PutSession(h, &rec, s.set.SessionTTL)
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
	rec := SessionRecord{UserID: g.ID, Created: now, Expires: now.Add(s.set.GuestTTL), Guest: g}
	err = s.repo.Update(func(tx Tx) error {
		return tx.PutSession(tokenHash(tok), &rec, s.set.GuestTTL)
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
	err := s.repo.View(func(tx Tx) error {
		sr, err := tx.Session(tokenHash(token))
		if err != nil {
			return err
		}
		if !s.Now().Before(sr.Expires) {
			return ErrSessionInvalid
		}
		expires = sr.Expires
		if sr.Guest != nil {
			g := *sr.Guest
			u = &g
			return nil
		}
		rec, err := tx.User(sr.UserID)
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
	err := s.repo.UpdateSync(func(tx Tx) error {
		sr, err := tx.Session(h)
		if errors.Is(err, ErrSessionInvalid) {
			return nil
		} else if err != nil {
			return err
		}
		return tx.DeleteSession(h, sr.UserID)
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
	n, err := s.repo.ClearSessions()
	if err != nil {
		return n, err
	}
	s.set.Revoke.Publish(revoke.Event{Kind: revoke.Everyone})
	return n, nil
}

// revokeSessions deletes every session of a user except keep (a token hash).
func revokeSessions(tx Tx, userID, keepHash string) error {
	hashes, err := tx.UserSessions(userID)
	if err != nil {
		return err
	}
	for _, h := range hashes {
		if h == keepHash {
			continue
		}
		if err := tx.DeleteSession(h, userID); err != nil {
			return err
		}
	}
	return nil
}
