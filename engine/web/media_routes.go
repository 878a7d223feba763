package web

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/limit"
	"watchparty/engine/room"
)

// mediaRoutes serves the media library (media.dir) to the members of each
// room; see media.go.
func (s *Server) mediaRoutes(r fiber.Router) {
	m := s.media
	if m == nil {
		m = NewMedia(s.cfg, nil, s.log)
		s.media = m
	}
	h := &mediaHandler{
		m:        m,
		base:     s.base,
		searches: limit.NewKeyed(s.cfg.Limits.MediaSearchesPer10s, 10*time.Second),
		current: func(ctx context.Context, code string) *room.Video {
			norm, ok := room.NormalizeCode(code)
			if !ok {
				return nil
			}
			in, err := s.rooms.svc.Get(ctx, norm)
			if err != nil {
				return nil
			}
			return in.Video
		},
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
	s.mediaPlay = h
	h.routes(r)
}
