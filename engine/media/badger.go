package media

import (
	"encoding/json"
	"strings"
	"time"

	"watchparty/engine/store"
)

// Key layout in the store:
//
//	media/resume/<room>/<rel>  resumeRec (JSON), with its TTL
//	media/probe/<rel>          Probed (JSON)
//	media/kf/<rel>             Keyframes (JSON)
func resumeKey(room, rel string) []byte { return store.Key("media", "resume", room, rel) }
func probeKey(rel string) []byte        { return store.Key("media", "probe", rel) }
func keyframeKey(rel string) []byte     { return store.Key("media", "kf", rel) }

type resumeRec struct {
	Pos float64 `json:"pos"`
	Dur float64 `json:"dur,omitempty"`
}

// NewBadger returns the Repo that keeps media records in st.
func NewBadger(st *store.Store) Repo { return badgerRepo{st} }

type badgerRepo struct{ st *store.Store }

func (r badgerRepo) PutResume(room, rel string, pos, dur float64, ttl time.Duration) error {
	raw, _ := json.Marshal(resumeRec{Pos: pos, Dur: dur})
	return r.st.Update(func(tx *store.Tx) error { return tx.SetTTL(resumeKey(room, rel), raw, ttl) })
}

func (r badgerRepo) DeleteResume(room, rel string) error {
	return r.st.Update(func(tx *store.Tx) error { return tx.Delete(resumeKey(room, rel)) })
}

func (r badgerRepo) Resumes(room string, fn func(rel string, pos float64) bool) error {
	prefix := string(store.Key("media", "resume", room)) + "/"
	return r.st.View(func(tx *store.Tx) error {
		return tx.Iterate([]byte(prefix), false, func(key, val []byte) error {
			var rec resumeRec
			if json.Unmarshal(val, &rec) != nil {
				return nil
			}
			if !fn(strings.TrimPrefix(string(key), prefix), rec.Pos) {
				return store.ErrStop
			}
			return nil
		})
	})
}

func (r badgerRepo) Probe(rel string) (Probed, bool) {
	var p Probed
	raw, err := r.st.Get(probeKey(rel))
	if err != nil || json.Unmarshal(raw, &p) != nil {
		return Probed{}, false
	}
	return p, true
}

func (r badgerRepo) PutProbe(rel string, p Probed) error {
	raw, _ := json.Marshal(p)
	return r.st.Update(func(tx *store.Tx) error { return tx.Set(probeKey(rel), raw) })
}

func (r badgerRepo) Keyframes(rel string) (Keyframes, bool) {
	var k Keyframes
	raw, err := r.st.Get(keyframeKey(rel))
	if err != nil || json.Unmarshal(raw, &k) != nil {
		return Keyframes{}, false
	}
	return k, true
}

func (r badgerRepo) PutKeyframes(rel string, k Keyframes) error {
	raw, _ := json.Marshal(k)
	return r.st.Update(func(tx *store.Tx) error { return tx.Set(keyframeKey(rel), raw) })
}
