package syncplay

import (
	"crypto/md5" //nolint:gosec // the Syncplay client sends md5(password); see Tokens
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"watchparty/engine/store"
)

// ErrBadToken is a password that is no live access token for the room.
var ErrBadToken = errors.New("syncplay: not a valid access token for this room")

// Tokens issues and checks members' access tokens. The Syncplay client
// never sends the password it is given: it sends the hex MD5 of it. So a
// token is random (128 bits, nothing to guess from its hash) and stored,
// under the SHA-256 of that MD5, with the room and member it opens and a
// TTL; the store never holds what a client sends.
type Tokens struct {
	st  *store.Store
	now func() time.Time
}

// NewTokens keeps tokens in st.
func NewTokens(st *store.Store) *Tokens { return &Tokens{st: st, now: time.Now} }

type tokenRecord struct {
	Room string `json:"room"`
	User string `json:"user"`
}

func tokenKey(wire string) []byte {
	h := sha256.Sum256([]byte(wire))
	return store.Key("syncplaytoken", hex.EncodeToString(h[:]))
}

// wireForm is what the client sends for a password: its MD5 in hex.
func wireForm(password string) string {
	h := md5.Sum([]byte(password)) //nolint:gosec // the protocol's choice, not a secret's protection
	return hex.EncodeToString(h[:])
}

// Issue makes a token that lets member uid into room code for ttl.
func (t *Tokens) Issue(code, uid string, ttl time.Duration) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := "wp" + base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
	rec, _ := json.Marshal(tokenRecord{Room: code, User: uid})
	if err := t.st.Update(func(tx *store.Tx) error { return tx.SetTTL(tokenKey(wireForm(tok)), rec, ttl) }); err != nil {
		return "", fmt.Errorf("syncplay: storing a token: %w", err)
	}
	return tok, nil
}

// Check returns the member a password lets into room code. The password
// is the client's MD5 of the token, or (from other clients) the token.
func (t *Tokens) Check(code, password string) (string, error) {
	w := password
	if !isMD5Hex(password) {
		w = wireForm(password)
	}
	var rec tokenRecord
	err := t.st.View(func(tx *store.Tx) error {
		b, err := tx.Get(tokenKey(w))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &rec)
	})
	if err != nil || rec.Room != code || rec.User == "" {
		return "", ErrBadToken
	}
	return rec.User, nil
}

func isMD5Hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
