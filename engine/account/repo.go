package account

import (
	"errors"
	"time"
)

// Repo is where users, sessions and invites are kept. badger.go keeps them
// in the store (NewBadger); repo_test.go is the test every Repo passes.
//
// Everything one fn does through its Tx is one transaction: an Update's
// writes are committed all together or not at all, and its reads see no
// other transaction's writes made meanwhile.
type Repo interface {
	// View runs fn in a read-only transaction.
	View(fn func(tx Tx) error) error
	// Update runs fn in a read-write transaction whose commit survives a
	// killed process. It returns ErrConflict when a concurrent transaction
	// changed what fn read; fn may then be run again.
	Update(fn func(tx Tx) error) error
	// UpdateSync is Update followed by Sync.
	UpdateSync(fn func(tx Tx) error) error
	// Sync forces what was committed to disk.
	Sync() error
	// ClearSessions deletes every session, of accounts and guests alike,
	// and the per-user session index, in synced transactions of at most
	// 1,000 keys each, and returns how many sessions there were.
	ClearSessions() (int, error)
}

// Tx reads and writes records inside one transaction of a Repo.
type Tx interface {
	// User returns the record of an account, or ErrNotFound.
	User(id string) (*UserRecord, error)
	// UserIDByEmail returns the id of the account with a normalised
	// email, or ErrNotFound.
	UserIDByEmail(email string) (string, error)
	// Users calls fn for every account in id order.
	Users(fn func(r *UserRecord) error) error
	// CreateUser writes a new account and its email index.
	CreateUser(r *UserRecord) error
	// PutUser rewrites an existing account (its email does not change).
	PutUser(r *UserRecord) error
	// DeleteUser removes an account and its email index.
	DeleteUser(r *UserRecord) error
	// UserCount is the number of accounts, as last set by SetUserCount.
	UserCount() (int, error)
	SetUserCount(n int) error

	// Session returns a session by its token hash, or ErrSessionInvalid.
	Session(hash string) (*SessionRecord, error)
	// PutSession writes a session that expires after ttl; an account's
	// session (not a guest's) is also indexed under its user.
	PutSession(hash string, r *SessionRecord, ttl time.Duration) error
	// DeleteSession removes a session and its entry in userID's index.
	DeleteSession(hash, userID string) error
	// UserSessions lists the token hashes of a user's sessions.
	UserSessions(userID string) ([]string, error)

	// Invite returns an invite by its token hash, or ErrInviteInvalid; a
	// record that cannot be read comes back already expired.
	Invite(hash string) (*InviteRecord, error)
	// Invites calls fn for every invite, in hash order.
	Invites(fn func(hash string, r *InviteRecord) error) error
	// PutInvite writes an invite that expires after ttl.
	PutInvite(hash string, r *InviteRecord, ttl time.Duration) error
	DeleteInvite(hash string) error
}

// ErrConflict is what Repo.Update returns when a concurrent transaction
// conflicted with it.
var ErrConflict = errors.New("account: concurrent change, try again")

// UserRecord is an account as kept: the user and its password hash.
type UserRecord struct {
	User
	Hash []byte `json:"hash"`
}

// SessionRecord is a log-in or guest session as kept under its token hash.
type SessionRecord struct {
	UserID  string    `json:"uid"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Guest sessions carry their user inline: guests have no user record.
	Guest *User `json:"guest,omitempty"`
}

// InviteRecord is a sign-up invite as kept under its token hash.
type InviteRecord struct {
	CreatedBy string    `json:"by"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}
