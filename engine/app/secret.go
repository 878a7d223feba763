package app

import (
	"crypto/rand"
	"errors"

	"watchparty/engine/store"
)

// secretKey is where the server's secret key lives in the store. It keys
// CSRF tokens, the cookies that mark known browsers, and frame stream
// tokens; session tokens are random and kept only as hashes.
const secretKey = "meta/secret"

// serverSecret returns the server's random secret key, created on first use.
func serverSecret(st *store.Store) ([]byte, error) {
	var out []byte
	err := st.UpdateSync(func(tx *store.Tx) error {
		v, err := tx.Get([]byte(secretKey))
		if err == nil && len(v) == 32 {
			out = v
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out, err = newSecret()
		if err != nil {
			return err
		}
		return tx.Set([]byte(secretKey), out)
	})
	return out, err
}

func newSecret() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

// rotateSecret replaces the server's secret key.
func rotateSecret(st *store.Store) error {
	next, err := newSecret()
	if err != nil {
		return err
	}
	return st.UpdateSync(func(tx *store.Tx) error { return tx.Set([]byte(secretKey), next) })
}
