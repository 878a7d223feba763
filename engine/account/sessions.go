package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"watchparty/engine/revoke"
	"watchparty/engine/store"
)

type sessionRecord struct {
	UserID  string    `json:"uid"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Guest sessions carry their user inline: guests have no user record.
	Guest *User `json:"guest,omitempty"`
}

func sessionKey(hash string) []byte { return store.Key("session", hash) }

func userSessionPrefix(id string) []byte {
	return []byte("usersession/" + id + "/")
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
