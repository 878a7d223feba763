package web

import (
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/room"
)

// Syncplay is what the web server needs to let members join with a native
// player (engine/syncplay): the token signer, and where players connect.
type Syncplay struct {
	Tokens   TokenIssuer
	TokenTTL time.Duration
	// Addr returns the listener's address, "" when syncplay.listen is off.
	Addr func() string
	// Public is syncplay.public_address: the address to show, when set.
	Public string
}

// TokenIssuer makes a member's access token for a room
// (engine/syncplay.Tokens).
type TokenIssuer interface {
	Issue(code, uid string, ttl time.Duration) (string, error)
}

func (s *Server) syncplayRoutes(r fiber.Router) {
	if s.syncplay == nil {
		return
	}
	r.Post("/r/:code/syncplay/token", s.roomCode, s.requireUser, s.syncplayToken)
}

// syncplayToken hands a member an access token for the Syncplay listener
// and the command line that uses it. The token names the member and the
// room; kicks, bans and roles are checked again when the player connects.
func (s *Server) syncplayToken(c *fiber.Ctx) error {
	u, code, err := s.visitor(c)
	if err != nil {
		return err
	}
	addr := s.syncplay.Public
	if addr == "" {
		addr = publicFrameAddr(s.syncplay.Addr(), c.Hostname())
	}
	if addr == "" {
		return fiber.NewError(fiber.StatusNotFound, "Native players are not enabled on this server (syncplay.listen).")
	}
	m, err := s.rooms.svc.Member(c.UserContext(), code, u.ID)
	if err != nil {
		return roomError(err)
	}
	ttl := s.syncplay.TokenTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if !m.Expires.IsZero() {
		ttl = min(ttl, time.Until(m.Expires))
	}
	if ttl <= 0 {
		return roomError(room.ErrNotMember)
	}
	tok, err := s.syncplay.Tokens.Issue(code, u.ID, ttl)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"room": code, "token": tok, "addr": addr, "expires": time.Now().Add(ttl).UnixMilli(),
		"command": syncplayCommand(addr, m.Name, code, tok)})
}

// syncplayCommand is the command line a member copies: the stock client,
// told the server, the room and the token, with the name quoted for a
// POSIX shell.
func syncplayCommand(addr, name, code, tok string) string {
	host := addr
	if h, p, err := net.SplitHostPort(addr); err == nil && strings.Contains(h, ":") {
		host = "[" + h + "]:" + p
	}
	return "syncplay --host " + host + " --name " + shellQuote(name) + " --room " + code + " --password " + tok
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
