package room

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"watchparty/engine/store"
)

// Key layout:
//
//	room/<code>                 Info
//	roommember/<code>/<userID>  Member
//	userroom/<userID>/<code>    userRoom (for the home page)
//	roominvite/<token>          code
//	chat/<code>/<seq>           Line, seq as 16 zero-padded digits; the last 200 are kept
//	roomsync/<code>             syncRecord (playback state)
//	roomqueue/<code>/...        the up-next queue (queue.go)

func roomKey(code string) []byte             { return store.Key("room", code) }
func memberKey(code, uid string) []byte      { return store.Key("roommember", code, uid) }
func memberPrefix(code string) []byte        { return store.Key("roommember", code, "") }
func userRoomKey(uid, code string) []byte    { return store.Key("userroom", uid, code) }
func userRoomPrefix(uid string) []byte       { return store.Key("userroom", uid, "") }
func inviteKey(token string) []byte          { return store.Key("roominvite", token) }
func chatPrefix(code string) []byte          { return store.Key("chat", code, "") }
func chatKey(code string, seq uint64) []byte { return fmt.Appendf(nil, "chat/%s/%016d", code, seq) }

type userRoom struct {
	Owner   bool  `json:"owner,omitempty"`
	Visited int64 `json:"visited"` // unix ms
}

func getJSON(tx *store.Tx, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func setJSON(tx *store.Tx, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

func loadInfo(tx *store.Tx, code string) (*Info, error) {
	var in Info
	if err := getJSON(tx, roomKey(code), &in); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	in.Settings.fix()
	return &in, nil
}

func loadMembers(tx *store.Tx, code string) (map[string]*Member, error) {
	out := map[string]*Member{}
	err := tx.Iterate(memberPrefix(code), false, func(_, v []byte) error {
		var m Member
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		out[m.ID] = &m
		return nil
	})
	return out, err
}

// loadChat returns the kept chat lines in order, and the last sequence number.
func loadChat(tx *store.Tx, code string) ([]*Line, uint64, error) {
	var lines []*Line
	err := tx.Iterate(chatPrefix(code), true, func(_, v []byte) error {
		var l Line
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		lines = append(lines, &l)
		if len(lines) == HistoryLines {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	var last uint64
	if len(lines) > 0 {
		last = lines[len(lines)-1].Seq
	}
	return lines, last, nil
}

func touchUserRoom(tx *store.Tx, uid, code string, owner bool, now time.Time) error {
	return setJSON(tx, userRoomKey(uid, code), userRoom{Owner: owner, Visited: now.UnixMilli()})
}

// deleteRoomKeys removes every key of a room.
func deleteRoomKeys(tx *store.Tx, in *Info) error {
	var keys [][]byte
	collect := func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }
	if err := tx.Iterate(memberPrefix(in.Code), false, func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		uid := string(k[len(memberPrefix(in.Code)):])
		keys = append(keys, userRoomKey(uid, in.Code))
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Iterate(chatPrefix(in.Code), false, collect); err != nil {
		return err
	}
	if err := tx.Iterate(queuePrefix(in.Code), false, collect); err != nil {
		return err
	}
	keys = append(keys, roomKey(in.Code), inviteKey(in.Invite), userRoomKey(in.Owner, in.Code), syncKey(in.Code))
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
