package syncplay_test

import (
	"testing"
	"time"

	"watchparty/engine/store"
	"watchparty/engine/syncplay"
)

// tokenBackends are the syncplay.TokenRepo implementations TestTokenRepo
// runs on; a second backend adds its line here and passes the same test.
var tokenBackends = []struct {
	name string
	open func(t *testing.T) syncplay.TokenRepo
}{
	{"badger", func(t *testing.T) syncplay.TokenRepo {
		st, err := store.Open(t.TempDir(), quietLog(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return syncplay.NewBadgerTokens(st)
	}},
}

// TestTokenRepo: a token's record comes back by its hash, another hash
// finds nothing, and a second token does not overwrite the first.
func TestTokenRepo(t *testing.T) {
	for _, b := range tokenBackends {
		t.Run(b.name, func(t *testing.T) {
			r := b.open(t)
			if _, err := r.Token("h1"); err == nil {
				t.Error("Token of an unknown hash has no error")
			}
			for h, rec := range map[string]syncplay.TokenRecord{"h1": {Room: "abc", User: "u_1"}, "h2": {Room: "abc", User: "g_2"}} {
				if err := r.PutToken(h, rec, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := r.Token("h1"); err != nil || got != (syncplay.TokenRecord{Room: "abc", User: "u_1"}) {
				t.Errorf("Token(h1) = %+v, %v", got, err)
			}
			if got, err := r.Token("h2"); err != nil || got.User != "g_2" {
				t.Errorf("Token(h2) = %+v, %v", got, err)
			}
			if _, err := r.Token("h3"); err == nil {
				t.Error("Token of another hash has no error")
			}
		})
	}
}
