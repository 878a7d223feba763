package account

import (
	"context"
	"time"
)

// Invite is an admin-issued single-use sign-up link.
type Invite struct {
	Token   string // only known when created
	ID      string // hash prefix, for listing
	Created time.Time
	Expires time.Time
}

// CreateInvite issues a single-use sign-up invite valid for ttl.
func (s *Service) CreateInvite(ctx context.Context, createdBy string, ttl time.Duration) (Invite, error) {
	tok := newToken()
	now := s.Now().UTC()
	inv := InviteRecord{CreatedBy: createdBy, Created: now, Expires: now.Add(ttl)}
	err := s.repo.UpdateSync(func(tx Tx) error {
		return tx.PutInvite(tokenHash(tok), &inv, ttl)
	})
	return Invite{Token: tok, ID: tokenHash(tok)[:12], Created: now, Expires: inv.Expires}, err
}

// Invites lists the unused, unexpired invites.
func (s *Service) Invites(ctx context.Context) ([]Invite, error) {
	var out []Invite
	now := s.Now()
	err := s.repo.View(func(tx Tx) error {
		return tx.Invites(func(hash string, r *InviteRecord) error {
			if !now.Before(r.Expires) {
				return nil
			}
			out = append(out, Invite{ID: hash[:12], Created: r.Created, Expires: r.Expires})
			return nil
		})
	})
	return out, err
}

// CheckInvite reports whether an invite token is usable, without using it.
func (s *Service) CheckInvite(ctx context.Context, token string) error {
	return s.repo.View(func(tx Tx) error {
		_, err := usableInvite(tx, token, s.Now())
		return err
	})
}

// usableInvite returns the hash of an invite token that is unused and
// unexpired at now, or ErrInviteInvalid.
func usableInvite(tx Tx, token string, now time.Time) (string, error) {
	h := tokenHash(token)
	r, err := tx.Invite(h)
	if err != nil {
		return "", err
	}
	if !now.Before(r.Expires) {
		return "", ErrInviteInvalid
	}
	return h, nil
}
