package web

import (
	"context"
	"time"

	"watchparty/engine/account"
)

// Accounts is what the web server needs of the account service: sign-up,
// log-in and sessions, the account page, invites and guests.
type Accounts interface {
	Settings() account.Settings
	Register(ctx context.Context, in account.SignUp) (*account.User, error)
	Login(ctx context.Context, email, password string) (*account.User, string, error)
	NewSession(ctx context.Context, userID string) (string, error)
	NewGuestSession(ctx context.Context, name, roomCode string) (string, *account.User, error)
	AuthenticateSession(ctx context.Context, token string) (*account.User, time.Time, error)
	Logout(ctx context.Context, token string) error
	Rename(ctx context.Context, userID, name string) (*account.User, error)
	ChangePassword(ctx context.Context, userID, current, next, keepToken string) error
	DeleteWithPassword(ctx context.Context, userID, password string) error
	CreateInvite(ctx context.Context, createdBy string, ttl time.Duration) (account.Invite, error)
	Invites(ctx context.Context) ([]account.Invite, error)
	CheckInvite(ctx context.Context, token string) error
}
