package web

import (
	"github.com/gofiber/fiber/v2"
)

// refused logs a refused request once per kind and address per minute (see
// limit.Refusals) and keeps the access log from logging it again.
func (s *Server) refused(c *fiber.Ctx, kind string, args ...any) {
	c.Locals(refusedKey, true)
	ok, more := s.refusalLog.Take(kind + "\x00" + c.IP())
	if !ok {
		return
	}
	args = append(args, "ip", c.IP())
	if more > 0 {
		args = append(args, "not_logged_since", more)
	}
	s.log.Warn(kind, args...)
}

const refusedKey = "web.refused"
