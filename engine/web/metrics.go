package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"watchparty/engine/metrics"
)

// countRequests counts every answered request by status class, and refused
// log-ins by reason. It runs outside requestLog, which has already turned
// handler errors into their final status.
func (s *Server) countRequests(c *fiber.Ctx) error {
	err := c.Next()
	status := c.Response().StatusCode()
	s.metrics.HTTP.Request(status)
	if c.Method() == fiber.MethodPost && c.Path() == s.base+"/login" {
		switch status {
		case fiber.StatusUnauthorized:
			s.metrics.HTTP.LoginFailure(metrics.LoginCredentials)
		case fiber.StatusTooManyRequests:
			s.metrics.HTTP.LoginFailure(metrics.LoginRateLimited)
		}
	}
	return err
}

// metricsRoute serves h at /metrics when the app wants metrics on the main
// listener.
func (s *Server) metricsRoute(r fiber.Router, h http.Handler) {
	if h == nil {
		return
	}
	r.Get("/metrics", adaptor.HTTPHandler(h))
}
