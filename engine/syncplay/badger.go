package syncplay

import (
	"encoding/json"
	"time"

	"watchparty/engine/store"
)

// tokenKey is where a token is kept in the store:
// syncplaytoken/<hash>, a TokenRecord (JSON) with the token's TTL.
func tokenKey(hash string) []byte { return store.Key("syncplaytoken", hash) }

// NewBadgerTokens returns the TokenRepo that keeps tokens in st.
func NewBadgerTokens(st *store.Store) TokenRepo { return badgerTokens{st} }

type badgerTokens struct{ st *store.Store }

func (b badgerTokens) PutToken(hash string, r TokenRecord, ttl time.Duration) error {
	rec, _ := json.Marshal(r)
	return b.st.Update(func(tx *store.Tx) error { return tx.SetTTL(tokenKey(hash), rec, ttl) })
}

func (b badgerTokens) Token(hash string) (TokenRecord, error) {
	var rec TokenRecord
	err := b.st.View(func(tx *store.Tx) error {
		v, err := tx.Get(tokenKey(hash))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &rec)
	})
	return rec, err
}
