package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"watchparty/engine/store"
)

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

func inviteKey(hash string) []byte { return store.Key("invite", hash) }

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
