package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"watchparty/engine/store"
)

// Key layout in the store:
//
//	user/<id>                 UserRecord (JSON)
//	email/<email>             the user id
//	meta/usercount            the number of accounts (decimal)
//	session/<hash>            SessionRecord (JSON), with the session's TTL
//	usersession/<uid>/<hash>  empty, with the session's TTL
//	invite/<hash>             InviteRecord (JSON), with the invite's TTL
func userKey(id string) []byte      { return store.Key("user", id) }
func emailKey(email string) []byte  { return store.Key("email", email) }
func sessionKey(hash string) []byte { return store.Key("session", hash) }
func inviteKey(hash string) []byte  { return store.Key("invite", hash) }
func userSessionPrefix(id string) []byte {
	return []byte("usersession/" + id + "/")
}

const userCountKey = "meta/usercount"

// NewBadger returns the Repo that keeps accounts in st.
func NewBadger(st *store.Store) Repo {
	return badgerRepo{store.Txs[Tx]{Store: st, Wrap: func(tx *store.Tx) Tx { return badgerTx{tx} }, Conflict: ErrConflict}}
}

type badgerRepo struct{ store.Txs[Tx] }

type badgerTx struct{ tx *store.Tx }

func (r badgerRepo) Sync() error { return r.Store.Sync() }

func (r badgerRepo) ClearSessions() (int, error) {
	var keys [][]byte
	err := r.Store.View(func(tx *store.Tx) error {
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
		if err := r.Store.UpdateSync(func(tx *store.Tx) error {
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
	return n, nil
}

func (t badgerTx) User(id string) (*UserRecord, error) {
	v, err := t.tx.Get(userKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var r UserRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("account: corrupt user %s: %w", id, err)
	}
	return &r, nil
}

func (t badgerTx) UserIDByEmail(email string) (string, error) {
	v, err := t.tx.Get(emailKey(email))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotFound
	}
	return string(v), err
}

func (t badgerTx) Users(fn func(r *UserRecord) error) error {
	return t.tx.Iterate([]byte("user/"), false, func(_, v []byte) error {
		var r UserRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		return fn(&r)
	})
}

func (t badgerTx) CreateUser(r *UserRecord) error {
	if err := t.PutUser(r); err != nil {
		return err
	}
	return t.tx.Set(emailKey(r.Email), []byte(r.ID))
}

func (t badgerTx) PutUser(r *UserRecord) error {
	b, _ := json.Marshal(r)
	return t.tx.Set(userKey(r.ID), b)
}

func (t badgerTx) DeleteUser(r *UserRecord) error {
	if err := t.tx.Delete(emailKey(r.Email)); err != nil {
		return err
	}
	return t.tx.Delete(userKey(r.ID))
}

func (t badgerTx) UserCount() (int, error) {
	v, err := t.tx.Get([]byte(userCountKey))
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

func (t badgerTx) SetUserCount(n int) error {
	return t.tx.Set([]byte(userCountKey), []byte(strconv.Itoa(n)))
}

// expiring reads the record of a session or an invite at key: notFound
// when there is none, and an empty record when it cannot be read (it names
// nobody and has expired).
func expiring[T any](t badgerTx, key []byte, notFound error) (*T, error) {
	v, err := t.tx.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	var r T
	if json.Unmarshal(v, &r) != nil {
		return new(T), nil
	}
	return &r, nil
}

func (t badgerTx) Session(hash string) (*SessionRecord, error) {
	return expiring[SessionRecord](t, sessionKey(hash), ErrSessionInvalid)
}

func (t badgerTx) PutSession(hash string, r *SessionRecord, ttl time.Duration) error {
	b, _ := json.Marshal(r)
	if err := t.tx.SetTTL(sessionKey(hash), b, ttl); err != nil {
		return err
	}
	if r.Guest != nil {
		return nil
	}
	return t.tx.SetTTL(append(userSessionPrefix(r.UserID), hash...), nil, ttl)
}

func (t badgerTx) DeleteSession(hash, userID string) error {
	if userID != "" {
		if err := t.tx.Delete(append(userSessionPrefix(userID), hash...)); err != nil {
			return err
		}
	}
	return t.tx.Delete(sessionKey(hash))
}

func (t badgerTx) UserSessions(userID string) ([]string, error) {
	var hashes []string
	prefix := userSessionPrefix(userID)
	err := t.tx.Iterate(prefix, false, func(k, _ []byte) error {
		hashes = append(hashes, string(k[len(prefix):]))
		return nil
	})
	return hashes, err
}

func (t badgerTx) Invite(hash string) (*InviteRecord, error) {
	return expiring[InviteRecord](t, inviteKey(hash), ErrInviteInvalid)
}

func (t badgerTx) Invites(fn func(hash string, r *InviteRecord) error) error {
	return t.tx.Iterate([]byte("invite/"), false, func(k, v []byte) error {
		var r InviteRecord
		if json.Unmarshal(v, &r) != nil {
			r = InviteRecord{}
		}
		return fn(string(k[len("invite/"):]), &r)
	})
}

func (t badgerTx) PutInvite(hash string, r *InviteRecord, ttl time.Duration) error {
	b, _ := json.Marshal(r)
	return t.tx.SetTTL(inviteKey(hash), b, ttl)
}

func (t badgerTx) DeleteInvite(hash string) error { return t.tx.Delete(inviteKey(hash)) }
