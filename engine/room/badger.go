package room

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
//	room/<code>                  Info
//	roommember/<code>/<userID>   Member
//	userroom/<userID>/<code>     UserRoom (for the home page)
//	roominvite/<token>           code
//	chat/<code>/<seq>            Line, seq as 16 zero-padded digits; the last 200 are kept
//	roomsync/<code>              PlaybackRecord
//	roomqueue/<code>/order       QueueOrder
//	roomqueue/<code>/item/<id>   Video
//
// The queue is one key per item plus its order, so that a change writes
// what changed (an item, or the order of ids), not the whole queue.
func roomKey(code string) []byte             { return store.Key("room", code) }
func memberKey(code, uid string) []byte      { return store.Key("roommember", code, uid) }
func memberPrefix(code string) []byte        { return store.Key("roommember", code, "") }
func userRoomKey(uid, code string) []byte    { return store.Key("userroom", uid, code) }
func userRoomPrefix(uid string) []byte       { return store.Key("userroom", uid, "") }
func inviteKey(token string) []byte          { return store.Key("roominvite", token) }
func chatPrefix(code string) []byte          { return store.Key("chat", code, "") }
func chatKey(code string, seq uint64) []byte { return fmt.Appendf(nil, "chat/%s/%016d", code, seq) }
func syncKey(code string) []byte             { return store.Key("roomsync", code) }
func queuePrefix(code string) []byte         { return store.Key("roomqueue", code, "") }
func queueOrderKey(code string) []byte       { return store.Key("roomqueue", code, "order") }
func queueItemKey(code string, id uint64) []byte {
	return store.Key("roomqueue", code, "item", strconv.FormatUint(id, 10))
}

// NewBadger returns the Repo that keeps rooms in st.
func NewBadger(st *store.Store) Repo {
	return badgerRepo{store.Txs[Tx]{Store: st, Wrap: func(tx *store.Tx) Tx { return badgerTx{tx} }}}
}

type badgerRepo struct{ store.Txs[Tx] }

type badgerTx struct{ tx *store.Tx }

func (t badgerTx) getJSON(key []byte, v any) error {
	b, err := t.tx.Get(key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (t badgerTx) setJSON(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.tx.Set(key, b)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func (t badgerTx) Room(code string) (*Info, error) {
	var in Info
	if err := t.getJSON(roomKey(code), &in); err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return &in, nil
}

func (t badgerTx) RoomExists(code string) (bool, error) { return t.tx.Has(roomKey(code)) }

func (t badgerTx) PutRoom(code string, in *Info) error { return t.setJSON(roomKey(code), in) }

func (t badgerTx) DeleteRoom(in *Info) error {
	var keys [][]byte
	collect := func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }
	if err := t.tx.Iterate(memberPrefix(in.Code), false, func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		uid := string(k[len(memberPrefix(in.Code)):])
		keys = append(keys, userRoomKey(uid, in.Code))
		return nil
	}); err != nil {
		return err
	}
	if err := t.tx.Iterate(chatPrefix(in.Code), false, collect); err != nil {
		return err
	}
	if err := t.tx.Iterate(queuePrefix(in.Code), false, collect); err != nil {
		return err
	}
	keys = append(keys, roomKey(in.Code), inviteKey(in.Invite), userRoomKey(in.Owner, in.Code), syncKey(in.Code))
	for _, k := range keys {
		if err := t.tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (t badgerTx) Member(code, uid string) (*Member, error) {
	var m Member
	if err := t.getJSON(memberKey(code, uid), &m); err != nil {
		if isNotFound(err) {
			return nil, ErrNotMember
		}
		return nil, err
	}
	return &m, nil
}

func (t badgerTx) Members(code string) (map[string]*Member, error) {
	out := map[string]*Member{}
	err := t.tx.Iterate(memberPrefix(code), false, func(_, v []byte) error {
		var m Member
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		out[m.ID] = &m
		return nil
	})
	return out, err
}

func (t badgerTx) PutMember(code string, m Member) error { return t.setJSON(memberKey(code, m.ID), m) }

func (t badgerTx) DeleteMember(code, uid string) error { return t.tx.Delete(memberKey(code, uid)) }

func (t badgerTx) UserRooms(uid string) ([]UserRoom, error) {
	var out []UserRoom
	prefix := userRoomPrefix(uid)
	err := t.tx.Iterate(prefix, false, func(k, v []byte) error {
		var ur UserRoom
		if json.Unmarshal(v, &ur) != nil {
			return nil
		}
		ur.Code = string(k[len(prefix):])
		out = append(out, ur)
		return nil
	})
	return out, err
}

func (t badgerTx) TouchUserRoom(uid, code string, owner bool, now time.Time) error {
	return t.setJSON(userRoomKey(uid, code), UserRoom{Owner: owner, Visited: now.UnixMilli()})
}

func (t badgerTx) DeleteUserRoom(uid, code string) error { return t.tx.Delete(userRoomKey(uid, code)) }

func (t badgerTx) RoomForInvite(token string) (string, error) {
	b, err := t.tx.Get(inviteKey(token))
	if isNotFound(err) {
		return "", ErrInvite
	}
	return string(b), err
}

func (t badgerTx) PutInvite(token, code string) error {
	return t.tx.Set(inviteKey(token), []byte(code))
}

func (t badgerTx) DeleteInvite(token string) error { return t.tx.Delete(inviteKey(token)) }

func (t badgerTx) Chat(code string, n int) ([]*Line, error) {
	var lines []*Line
	err := t.tx.Iterate(chatPrefix(code), true, func(_, v []byte) error {
		var l Line
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		lines = append(lines, &l)
		if len(lines) == n {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	return lines, nil
}

func (t badgerTx) PutLine(code string, l *Line) error { return t.setJSON(chatKey(code, l.Seq), l) }

func (t badgerTx) DeleteLine(code string, seq uint64) error { return t.tx.Delete(chatKey(code, seq)) }

// lookup reads the record at key, reporting whether there is one.
func lookup[T any](t badgerTx, key []byte) (T, bool, error) {
	var v T
	if err := t.getJSON(key, &v); err != nil {
		var zero T
		if isNotFound(err) {
			err = nil
		}
		return zero, false, err
	}
	return v, true, nil
}

func (t badgerTx) Playback(code string) (*PlaybackRecord, bool, error) {
	return lookup[*PlaybackRecord](t, syncKey(code))
}

func (t badgerTx) PutPlayback(code string, rec *PlaybackRecord) error {
	return t.setJSON(syncKey(code), rec)
}

func (t badgerTx) QueueOrder(code string) (*QueueOrder, bool, error) {
	return lookup[*QueueOrder](t, queueOrderKey(code))
}

func (t badgerTx) PutQueueOrder(code string, o *QueueOrder) error {
	return t.setJSON(queueOrderKey(code), o)
}

func (t badgerTx) QueueItem(code string, id uint64) (Video, bool, error) {
	return lookup[Video](t, queueItemKey(code, id))
}

func (t badgerTx) PutQueueItem(code string, id uint64, v Video) error {
	return t.setJSON(queueItemKey(code, id), v)
}

func (t badgerTx) DeleteQueueItem(code string, id uint64) error {
	return t.tx.Delete(queueItemKey(code, id))
}
