package room

import (
	"context"
	"errors"
	"sort"

	"watchparty/engine/revoke"
	"watchparty/engine/room/proto"
)

// What happens to a room when its owner's account is deleted.
const (
	FateTransfer = "transfer" // the longest-standing moderator becomes the owner
	FateDelete   = "delete"   // no moderator: the room is deleted
)

// Fate is what deleting an account does to one room it owns.
type Fate struct {
	Code   string
	Name   string // the room's title
	Action string // FateTransfer or FateDelete
	To     string // the new owner's name (FateTransfer)
}

// heir is the moderator who inherits a room: the one who joined first.
func heir(members map[string]*Member, owner string) *Member {
	var mods []*Member
	for _, m := range members {
		if m.ID != owner && m.Role == RoleModerator && !m.Guest {
			mods = append(mods, m)
		}
	}
	if len(mods) == 0 {
		return nil
	}
	sort.Slice(mods, func(i, j int) bool {
		if !mods[i].Joined.Equal(mods[j].Joined) {
			return mods[i].Joined.Before(mods[j].Joined)
		}
		return mods[i].ID < mods[j].ID
	})
	return mods[0]
}

// OwnedFates says what deleting uid's account would do to each room uid
// owns: the account page shows it before the owner confirms.
func (s *Service) OwnedFates(ctx context.Context, uid string) ([]Fate, error) {
	var out []Fate
	err := s.repo.View(func(tx Tx) error {
		urs, err := tx.UserRooms(uid)
		if err != nil {
			return err
		}
		var codes []string
		for _, ur := range urs {
			if ur.Owner {
				codes = append(codes, ur.Code)
			}
		}
		for _, code := range codes {
			in, err := loadInfo(tx, code)
			if errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if in.Owner != uid {
				continue
			}
			ms, err := tx.Members(code)
			if err != nil {
				return err
			}
			f := Fate{Code: code, Name: in.Title(), Action: FateDelete}
			if h := heir(ms, uid); h != nil {
				f.Action, f.To = FateTransfer, h.Name
			}
			out = append(out, f)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// ForgetUser takes a deleted account out of every room: rooms it owned pass
// to their longest-standing moderator, or are deleted when they have none;
// in other rooms its membership ends. It returns what became of the owned
// rooms.
func (s *Service) ForgetUser(ctx context.Context, uid string) ([]Fate, error) {
	var codes []string
	err := s.repo.View(func(tx Tx) error {
		urs, err := tx.UserRooms(uid)
		for _, ur := range urs {
			codes = append(codes, ur.Code)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var fates []Fate
	var errs []error
	for _, code := range codes {
		err := s.exec(ctx, code, func(a *actor) error {
			f, err := a.forget(uid)
			if f != nil {
				fates = append(fates, *f)
			}
			return err
		})
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidTarget) {
			errs = append(errs, err)
		}
	}
	// Whatever is left of the account's room list goes too.
	if err := s.repo.Update(func(tx Tx) error {
		for _, code := range codes {
			if err := tx.DeleteUserRoom(uid, code); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		errs = append(errs, err)
	}
	return fates, errors.Join(errs...)
}

// forget takes uid out of this room (see ForgetUser).
func (a *actor) forget(uid string) (*Fate, error) {
	if a.info.Owner != uid {
		if _, ok := a.members[uid]; !ok {
			return nil, nil
		}
		return nil, a.removeMember(uid, uid, false)
	}
	ms := make(map[string]*Member, len(a.members))
	for id, m := range a.members {
		mm := m.Member
		ms[id] = &mm
	}
	f := &Fate{Code: a.code, Name: a.info.Title(), Action: FateDelete}
	h := heir(ms, uid)
	if h == nil {
		return f, a.delete(uid)
	}
	f.Action, f.To = FateTransfer, h.Name
	return f, a.transfer(uid, h.ID)
}

// transfer makes member to the room's owner in place of from, whose
// membership ends.
func (a *actor) transfer(from, to string) error {
	heir := a.members[to]
	in := *a.info
	in.Owner, in.OwnerName = to, heir.Name
	hm := heir.Member
	hm.Role = RoleOwner
	now := a.now()
	if err := a.s.repo.Update(func(tx Tx) error {
		if err := tx.PutRoom(a.code, &in); err != nil {
			return err
		}
		if err := tx.PutMember(a.code, hm); err != nil {
			return err
		}
		if err := tx.DeleteMember(a.code, from); err != nil {
			return err
		}
		if err := tx.DeleteUserRoom(from, a.code); err != nil {
			return err
		}
		return tx.TouchUserRoom(to, a.code, true, now)
	}); err != nil {
		return err
	}
	a.info = &in
	heir.Member = hm
	if old, ok := a.members[from]; ok {
		for _, c := range old.conns {
			c.t.Close(proto.ReasonRemoved, "This account was deleted.")
		}
		if len(old.conns) > 0 {
			a.online--
			a.s.opt.Metrics.Members.Dec()
		}
		delete(a.members, from)
		a.broadcast(encode(proto.MemberRemoved, wireRemoved{ID: from}), "")
	}
	a.broadcast(encode(proto.Member, wireMemberMsg{Member: heir.wire()}), "")
	a.broadcastRoom()
	a.rtcRefresh()
	a.publish(revoke.Member, from)
	a.system("owner_changed", "name", heir.Name)
	return nil
}
