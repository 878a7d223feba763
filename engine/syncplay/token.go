package syncplay

import (
	"crypto/md5" //nolint:gosec // the Syncplay client sends md5(password); see Tokens
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrBadToken is a password that is no live access token for the room.
var ErrBadToken = errors.New("syncplay: not a valid access token for this room")

// Tokens issues and checks members' access tokens. The Syncplay client
// never sends the password it is given: it sends the hex MD5 of it. So a
// token is random (128 bits, nothing to guess from its hash) and stored,
// under the SHA-256 of that MD5, with the room and member it opens and a
// TTL; the store never holds what a client sends.
type Tokens struct {
	repo TokenRepo
	now  func() time.Time
}

// NewTokens keeps tokens in repo.
func NewTokens(repo TokenRepo) *Tokens { return &Tokens{repo: repo, now: time.Now} }

// TokenRepo keeps access tokens by the hash of what the client sends.
// badger.go keeps them in the store (NewBadgerTokens); repo_test.go is the
// test every TokenRepo passes.
type TokenRepo interface {
	// PutToken keeps a token's record under hash for ttl.
	PutToken(hash string, r TokenRecord, ttl time.Duration) error
	// Token returns the record kept under hash; an error when there is
	// none (or it cannot be read).
	Token(hash string) (TokenRecord, error)
}

// TokenRecord is the room and member a token opens.
type TokenRecord struct {
	Room string `json:"room"`
	User string `json:"user"`
}

// tokenHash is what a token is kept under: the SHA-256 of its wire form.
func tokenHash(wire string) string {
	h := sha256.Sum256([]byte(wire))
	return hex.EncodeToString(h[:])
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
	if err := t.repo.PutToken(tokenHash(wireForm(tok)), TokenRecord{Room: code, User: uid}, ttl); err != nil {
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
	rec, err := t.repo.Token(tokenHash(w))
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
