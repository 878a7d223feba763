package web

import (
	"github.com/gofiber/fiber/v2"

	"watchparty/engine/account"
)

// roomRoutes registers the room pages and the room websocket.
func (s *Server) roomRoutes(r fiber.Router) {}

// homeData adds the signed-in user's rooms to the home page.
func (s *Server) homeData(c *fiber.Ctx, u *account.User, data fiber.Map) error { return nil }
