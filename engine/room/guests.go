package room

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"watchparty/engine/room/proto"
)

// GuestBanFor is how long a removed guest's address may not join the room
// as a new guest.
const GuestBanFor = 24 * time.Hour

// addrHash is what a room keeps of a guest's address ("" for none).
func addrHash(addr string) string {
	if addr == "" {
		return ""
	}
	h := sha256.Sum256([]byte("watchparty guest address\x00" + addr))
	return hex.EncodeToString(h[:12])
}

// guests counts the room's guest members.
func (a *actor) guests() int {
	n := 0
	for _, m := range a.members {
		if m.Guest {
			n++
		}
	}
	return n
}

// expireGuests ends the membership of guests whose session has ended and
// who are not connected: a guest member lives no longer than the guest's
// session, so guests who come and go do not pile up in the room.
func (a *actor) expireGuests() {
	if a.err != nil {
		return
	}
	now := a.now()
	var gone []*memberState
	for _, m := range a.members {
		end := m.Expires
		if end.IsZero() { // a guest from before memberships expired
			end = m.Joined.Add(a.s.opt.GuestTTL)
		}
		if m.Guest && len(m.conns) == 0 && !now.Before(end) {
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return
	}
	if err := a.s.repo.Update(func(tx Tx) error {
		for _, m := range gone {
			if err := tx.DeleteMember(a.code, m.ID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		a.s.log.Error("removing expired guests", "room", a.code, "err", err)
		return
	}
	for _, m := range gone {
		delete(a.members, m.ID)
		a.broadcast(encode(proto.MemberRemoved, wireRemoved{ID: m.ID}), "")
	}
}
