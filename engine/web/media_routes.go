package web

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/media"
	"watchparty/engine/room"
)

// mediaRoutes serves the media library (media.dir) to the members of each
// room; see media.go.
func (s *Server) mediaRoutes(r fiber.Router) {
	lib, err := media.NewLibrary(s.cfg.Media.Dir)
	if err != nil {
		s.log.Error("media library disabled", "dir", s.cfg.Media.Dir, "err", err)
		lib, _ = media.NewLibrary("")
	}
	h := &mediaHandler{
		lib:  lib,
		base: s.base,
		user: func(c *fiber.Ctx) (string, bool) {
			u := s.currentUser(c)
			if u == nil {
				return "", false
			}
			return u.ID, true
		},
		member: func(ctx context.Context, code, uid string) error {
			norm, ok := room.NormalizeCode(code)
			if !ok {
				return errNoRoom
			}
			if _, err := s.rooms.svc.Get(ctx, norm); err != nil {
				if errors.Is(err, room.ErrNotFound) {
					return errNoRoom
				}
				return err
			}
			if _, err := s.rooms.svc.Member(ctx, norm, uid); err != nil {
				if errors.Is(err, room.ErrNotMember) {
					return errNotMember
				}
				return err
			}
			return nil
		},
	}
	h.routes(r)
}
