package web

import (
	"context"
	"errors"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/account"
	"watchparty/engine/limit"
	"watchparty/engine/room"
	"watchparty/engine/room/ws"
)

// Rooms is what the web server needs of the room service: the pages and
// forms act through it, and the websocket endpoint connects members.
type Rooms interface {
	ws.Rooms
	Create(ctx context.Context, u room.User, name string) (*room.Info, error)
	Get(ctx context.Context, code string) (*room.Info, error)
	Member(ctx context.Context, code, uid string) (*room.Member, error)
	CodeForInvite(ctx context.Context, token string) (string, error)
	Join(ctx context.Context, code string, u room.User, guestRoom string) (*room.Info, error)
	Leave(ctx context.Context, code, uid string) error
	Rename(ctx context.Context, code, by, name string) error
	SetLocked(ctx context.Context, code, by string, locked bool) error
	UpdateSettings(ctx context.Context, code, by string, set room.Settings) error
	RevokeInvite(ctx context.Context, code, by string) (string, error)
	Kick(ctx context.Context, code, by, target string) error
	Unban(ctx context.Context, code, by, target string) error
	SetRole(ctx context.Context, code, by, target string, role room.Role) error
	Delete(ctx context.Context, code, by string) error
	UserRooms(ctx context.Context, uid string) ([]room.Summary, error)
	OwnedFates(ctx context.Context, uid string) ([]room.Fate, error)
	Snapshot(ctx context.Context, code string) (room.Snapshot, error)
}

// roomWeb is the web side of rooms: the service, its websocket endpoint
// and the websocket limits.
type roomWeb struct {
	svc Rooms
	ws  *ws.Endpoint
	mu  sync.Mutex
	ips map[string]int // open room websockets per client IP

	// Guests made by invite links, per client address and per room.
	guestsByAddr, guestsByRoom *limit.Keyed
}

func newRoomWeb(s *Server, svc Rooms) *roomWeb {
	return &roomWeb{svc: svc, ws: ws.New(svc, ws.Options{Log: s.log, Metrics: s.metrics.Socket}), ips: map[string]int{},
		guestsByAddr: limit.NewKeyed(s.cfg.Limits.GuestJoinsPerMinute, time.Minute),
		guestsByRoom: limit.NewKeyed(s.cfg.Limits.RoomGuestJoinsPerMinute, time.Minute),
	}
}

// roomRoutes registers the room pages and the room websocket.
func (s *Server) roomRoutes(r fiber.Router) {
	r.Post("/rooms", s.requireAccount, s.createRoom)
	r.Post("/rooms/join", s.requireAccount, s.joinByCode)
	r.Get("/join", s.joinPage)
	r.Get("/i/:token", s.invitePage)
	r.Post("/i/:token", s.inviteJoin)
	rr := r.Group("/r/:code", s.roomCode)
	rr.Get("/", s.roomPage)
	rr.Get("/ws", s.roomSocketCheck, s.roomSocket)
	rr.Post("/join", s.requireUser, s.roomJoin)
	rr.Post("/leave", s.requireUser, s.roomLeave)
	rr.Post("/rename", s.requireUser, s.roomRename)
	rr.Post("/lock", s.requireUser, s.roomLock)
	rr.Post("/settings", s.requireUser, s.roomSettings)
	rr.Post("/invite", s.requireUser, s.roomInvite)
	rr.Post("/kick", s.requireUser, s.roomKick)
	rr.Post("/unban", s.requireUser, s.roomUnban)
	rr.Get("/banned", s.requireUser, s.roomBanned)
	rr.Post("/role", s.requireUser, s.roomRole)
	rr.Post("/delete", s.requireUser, s.roomDelete)
}

// homeData adds the signed-in user's rooms to the home page.
func (s *Server) homeData(c *fiber.Ctx, u *account.User, data fiber.Map) error {
	list, err := s.rooms.svc.UserRooms(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	var mine, visited []room.Summary
	for _, r := range list {
		if r.Owner {
			mine = append(mine, r)
		} else {
			visited = append(visited, r)
		}
	}
	data["MyRooms"] = mine
	data["VisitedRooms"] = visited
	return nil
}

func roomUser(u *account.User) room.User { return room.User{ID: u.ID, Name: u.Name, Guest: u.Guest} }

// roomCode resolves :code; a code typed another way redirects to the
// canonical address.
func (s *Server) roomCode(c *fiber.Ctx) error {
	raw := c.Params("code")
	code, ok := room.NormalizeCode(raw)
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "No room has this code. Check it and try again.")
	}
	if raw != code && c.Method() == fiber.MethodGet && !strings.HasSuffix(c.Path(), "/ws") {
		return c.Redirect(s.base+"/r/"+code, fiber.StatusMovedPermanently)
	}
	c.Locals("room", code)
	return c.Next()
}

// requireUser lets signed-in users and guests through.
func (s *Server) requireUser(c *fiber.Ctx) error {
	if s.currentUser(c) == nil {
		if c.Method() != fiber.MethodGet {
			return fiber.NewError(fiber.StatusUnauthorized, "Please log in first.")
		}
		return c.Redirect(s.base+"/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	return c.Next()
}

// roomError turns a room error into a response a user can read.
func roomError(err error) error {
	if r := refusalFor(err); r != nil {
		return r
	}
	status := 0
	switch {
	case errors.Is(err, room.ErrNotFound), errors.Is(err, room.ErrInvite), errors.Is(err, room.ErrInvalidTarget):
		status = fiber.StatusNotFound
	case errors.Is(err, room.ErrForbidden), errors.Is(err, room.ErrNotMember), errors.Is(err, room.ErrLocked),
		errors.Is(err, room.ErrBanned), errors.Is(err, room.ErrGuestsOff), errors.Is(err, room.ErrGuestRoom),
		errors.Is(err, room.ErrOwnerLeave):
		status = fiber.StatusForbidden
	case errors.Is(err, room.ErrTooManyRooms), errors.Is(err, room.ErrRoomFull):
		status = fiber.StatusConflict
	case errors.Is(err, room.ErrInvalidName):
		status = fiber.StatusUnprocessableEntity
	case errors.Is(err, room.ErrClosed):
		status = fiber.StatusServiceUnavailable
	}
	if status == 0 {
		return err
	}
	return fiber.NewError(status, err.Error())
}

// done answers a room form: JSON for fetch(), else back to the room page.
func (s *Server) done(c *fiber.Ctx, code string, extra fiber.Map) error {
	if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") {
		out := fiber.Map{"ok": true}
		for k, v := range extra {
			out[k] = v
		}
		return c.JSON(out)
	}
	if code == "" {
		return c.Redirect(s.base+"/", fiber.StatusSeeOther)
	}
	return c.Redirect(s.base+"/r/"+code, fiber.StatusSeeOther)
}

func (s *Server) createRoom(c *fiber.Ctx) error {
	u := s.currentUser(c)
	in, err := s.rooms.svc.Create(c.UserContext(), roomUser(u), c.FormValue("name"))
	if err != nil {
		return roomError(err)
	}
	return c.Redirect(s.base+"/r/"+in.Code, fiber.StatusSeeOther)
}

func (s *Server) joinByCode(c *fiber.Ctx) error {
	code, ok := room.NormalizeCode(c.FormValue("code"))
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "That is not a room code: codes have 10 letters and digits, like ABCDE-FGHJK.")
	}
	u := s.currentUser(c)
	if _, err := s.rooms.svc.Join(c.UserContext(), code, roomUser(u), u.GuestRoom); err != nil {
		return roomError(err)
	}
	return c.Redirect(s.base+"/r/"+code, fiber.StatusSeeOther)
}

func (s *Server) roomPage(c *fiber.Ctx) error {
	if s.currentUser(c) == nil {
		// Someone with only the code: say what the room is and how to get in.
		code := c.Locals("room").(string)
		in, err := s.rooms.svc.Get(c.UserContext(), code)
		if err != nil {
			return roomError(err)
		}
		return s.render(c, "room_join", fiber.Map{"Title": in.Title(), "Room": in, "Next": s.base + "/r/" + code})
	}
	u, code, in, err := s.visitRoom(c)
	if err != nil {
		return err
	}
	member, err := s.rooms.svc.Member(c.UserContext(), code, u.ID)
	if errors.Is(err, room.ErrNotMember) {
		data := fiber.Map{"Title": in.Title(), "Room": in}
		if _, banned := in.Banned[u.ID]; banned {
			data["Reason"] = "banned"
		} else if in.Locked {
			data["Reason"] = "locked"
		}
		return s.render(c, "room_join", data)
	} else if err != nil {
		return err
	}
	inviteURL := ""
	if in.MayInvite(member) {
		inviteURL = s.absURL(c, "/i/"+in.Invite)
	}
	// The browser starts fetching the page's two start-up scripts when it
	// commits the page, before it has read and scanned the page's 80 KB;
	// a page with a playback snapshot asks for its file first, on the
	// page's own connection, and adds them then (snapshot.go earlyFetch).
	snap := s.roomSnapshot(c, code)
	if snap == nil {
		c.Set(fiber.HeaderLink, s.roomLinks)
	}
	// The page carries the room's playback as it is now: never kept.
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.render(c, "room", fiber.Map{
		"Snapshot":     snap,
		"Title":        in.Title(),
		"Room":         in,
		"IsOwner":      in.Owner == u.ID,
		"InviteURL":    inviteURL,
		"WSPath":       s.base + "/r/" + code + "/ws",
		"YouTubeAPI":   s.cfg.YouTube.IFrameAPIURL,
		"GuestsServer": s.cfg.Guests.Allowed,
		"WebRTC":       s.cfg.WebRTC.Enabled,
		"Native":       s.syncplay != nil,
		"Banned":       bannedList(in),
		"Levels":       []room.Level{room.LevelEveryone, room.LevelModerators, room.LevelOwner},
		"Reactions":    room.Reactions(),
		"MaxChat":      room.MaxChatRunes,
	})
}

// visitor is the signed-in user asking for the room of :code, and that
// code; a guest may ask only for the room of their invite.
func (s *Server) visitor(c *fiber.Ctx) (*account.User, string, error) {
	code := c.Locals("room").(string)
	u := s.currentUser(c)
	if u.Guest && u.GuestRoom != code {
		return nil, "", roomError(room.ErrGuestRoom)
	}
	return u, code, nil
}

// visitRoom is visitor with the room.
func (s *Server) visitRoom(c *fiber.Ctx) (*account.User, string, *room.Info, error) {
	u, code, err := s.visitor(c)
	if err != nil {
		return nil, "", nil, err
	}
	in, err := s.rooms.svc.Get(c.UserContext(), code)
	if err != nil {
		return nil, "", nil, roomError(err)
	}
	return u, code, in, nil
}

// roomForm runs a room form's action by the signed-in user and answers it
// (done): back to the room, or to the home page when home is set.
func (s *Server) roomForm(c *fiber.Ctx, home bool, act func(ctx context.Context, code, by string) error) error {
	code := c.Locals("room").(string)
	if err := act(c.UserContext(), code, s.currentUser(c).ID); err != nil {
		return roomError(err)
	}
	if home {
		code = ""
	}
	return s.done(c, code, nil)
}

func (s *Server) roomJoin(c *fiber.Ctx) error {
	u := s.currentUser(c)
	return s.roomForm(c, false, func(ctx context.Context, code, _ string) error {
		_, err := s.rooms.svc.Join(ctx, code, roomUser(u), u.GuestRoom)
		return err
	})
}

// inviteRoom is the room an invite link (:token) leads to.
func (s *Server) inviteRoom(c *fiber.Ctx) (token, code string, in *room.Info, err error) {
	token = c.Params("token")
	ctx := c.UserContext()
	if code, err = s.rooms.svc.CodeForInvite(ctx, token); err == nil {
		in, err = s.rooms.svc.Get(ctx, code)
	}
	if err != nil {
		return "", "", nil, roomError(err)
	}
	return token, code, in, nil
}

// invitePage opens an invite link: members go to the room, account holders
// confirm that they want to join, others may log in, sign up, or join as a
// guest when allowed.
func (s *Server) invitePage(c *fiber.Ctx) error {
	token, code, in, err := s.inviteRoom(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	u := s.currentUser(c)
	if u != nil && (!u.Guest || u.GuestRoom == code) {
		if _, err := s.rooms.svc.Member(ctx, code, u.ID); err == nil {
			return c.Redirect(s.base+"/r/"+code, fiber.StatusSeeOther)
		}
		// Joining changes who is in the room, so it takes the form's POST:
		// a link opened by another site (an image, a redirect) must not
		// make anyone a member.
		return s.render(c, "room_join", fiber.Map{"Title": in.Title(), "Room": in, "Invite": token, "Next": s.base + "/i/" + token})
	}
	return s.render(c, "room_join", fiber.Map{
		"Title": in.Title(), "Room": in, "Invite": token,
		"GuestOK": s.cfg.Guests.Allowed && in.Settings.GuestsAllowed && !in.Locked,
		"Next":    s.base + "/i/" + token,
	})
}

// inviteJoin makes a guest session from an invite link and a display name.
func (s *Server) inviteJoin(c *fiber.Ctx) error {
	token, code, in, err := s.inviteRoom(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if !s.cfg.Guests.Allowed || !in.Settings.GuestsAllowed {
		return roomError(room.ErrGuestsOff)
	}
	if in.Locked {
		return roomError(room.ErrLocked)
	}
	for _, l := range []struct {
		lim *limit.Keyed
		key string
	}{{s.rooms.guestsByAddr, limit.AddrKey(c.IP())}, {s.rooms.guestsByRoom, code}} {
		if ok, wait := l.lim.Allow(l.key); !ok {
			s.refused(c, "guest join rate limited", "room", code)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return refuse(fiber.StatusTooManyRequests, "slow_down", errors.New("too many guests at once"))
		}
	}
	tok, g, err := s.accounts.NewGuestSession(ctx, c.FormValue("name"), code)
	if err != nil {
		var fe *account.FieldError
		if errors.As(err, &fe) {
			c.Status(fiber.StatusUnprocessableEntity)
			return s.render(c, "room_join", fiber.Map{
				"Title": in.Title(), "Room": in, "Invite": token, "GuestOK": true,
				"Next": s.base + "/i/" + token, "Errors": map[string]string{"name": fe.Err.Error()},
				"Values": map[string]string{"name": c.FormValue("name")},
			})
		}
		return err
	}
	gu := roomUser(g)
	gu.Addr = limit.AddrKey(c.IP())
	if _, err := s.rooms.svc.Join(ctx, code, gu, code); err != nil {
		return roomError(err)
	}
	s.setSessionCookie(c, tok, s.cfg.Guests.TTL)
	return c.Redirect(s.base+"/r/"+code, fiber.StatusSeeOther)
}

func (s *Server) roomLeave(c *fiber.Ctx) error {
	return s.roomForm(c, true, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.Leave(ctx, code, by)
	})
}

func (s *Server) roomRename(c *fiber.Ctx) error {
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.Rename(ctx, code, by, c.FormValue("name"))
	})
}

func (s *Server) roomLock(c *fiber.Ctx) error {
	locked := c.FormValue("locked") == "1" || c.FormValue("locked") == "true"
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.SetLocked(ctx, code, by, locked)
	})
}

func (s *Server) roomSettings(c *fiber.Ctx) error {
	on := func(k string) bool { v := c.FormValue(k); return v == "1" || v == "on" || v == "true" }
	set := room.Settings{
		GuestsAllowed: on("guests_allowed"),
		Control:       room.Level(c.FormValue("control")),
		ChangeVideo:   room.Level(c.FormValue("change_video")),
		ManageQueue:   room.Level(c.FormValue("manage_queue")),
		Invite:        room.Level(c.FormValue("invite")),
		WaitForAll:    on("wait_for_all"),
		Voice:         on("voice"),
	}
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.UpdateSettings(ctx, code, by, set)
	})
}

func (s *Server) roomInvite(c *fiber.Ctx) error {
	code := c.Locals("room").(string)
	tok, err := s.rooms.svc.RevokeInvite(c.UserContext(), code, s.currentUser(c).ID)
	if err != nil {
		return roomError(err)
	}
	return s.done(c, code, fiber.Map{"invite": s.absURL(c, "/i/"+tok)})
}

func (s *Server) roomKick(c *fiber.Ctx) error {
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.Kick(ctx, code, by, c.FormValue("user"))
	})
}

func (s *Server) roomUnban(c *fiber.Ctx) error {
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.Unban(ctx, code, by, c.FormValue("user"))
	})
}

// roomBanned gives the owner the members removed from the room, for the
// Settings dialog, which asks again when someone is removed while it is open.
func (s *Server) roomBanned(c *fiber.Ctx) error {
	code := c.Locals("room").(string)
	in, err := s.rooms.svc.Get(c.UserContext(), code)
	if err != nil {
		return roomError(err)
	}
	if in.Owner != s.currentUser(c).ID {
		return roomError(room.ErrForbidden)
	}
	return c.JSON(fiber.Map{"banned": bannedList(in)})
}

// bannedMember is one removed member, as the Settings dialog lists them.
type bannedMember struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// bannedList is the room's removed members by name.
func bannedList(in *room.Info) []bannedMember {
	out := make([]bannedMember, 0, len(in.Banned))
	for id, name := range in.Banned {
		out = append(out, bannedMember{ID: id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (s *Server) roomRole(c *fiber.Ctx) error {
	return s.roomForm(c, false, func(ctx context.Context, code, by string) error {
		err := s.rooms.svc.SetRole(ctx, code, by, c.FormValue("user"), room.Role(c.FormValue("role")))
		if err != nil && !errors.Is(err, room.ErrForbidden) && !errors.Is(err, room.ErrInvalidTarget) {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}
		return err
	})
}

func (s *Server) roomDelete(c *fiber.Ctx) error {
	return s.roomForm(c, true, func(ctx context.Context, code, by string) error {
		return s.rooms.svc.Delete(ctx, code, by)
	})
}

// roomSocketCheck refuses a websocket before the upgrade: no session (401),
// a foreign or missing Origin (403), not a member (403), no such room (404).
func (s *Server) roomSocketCheck(c *fiber.Ctx) error {
	u := s.currentUser(c)
	if u == nil {
		return fiber.NewError(fiber.StatusUnauthorized, "Please log in first.")
	}
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || !s.originAllowed(c, origin) {
		s.refused(c, "room websocket from a foreign origin refused", "origin", origin)
		return fiber.NewError(fiber.StatusForbidden, "This connection came from another site and was refused.")
	}
	code := c.Locals("room").(string)
	if u.Guest && u.GuestRoom != code {
		return roomError(room.ErrGuestRoom)
	}
	if _, err := s.rooms.svc.Member(c.UserContext(), code, u.ID); err != nil {
		if errors.Is(err, room.ErrNotMember) {
			if _, gerr := s.rooms.svc.Get(c.UserContext(), code); errors.Is(gerr, room.ErrNotFound) {
				return roomError(gerr)
			}
		}
		return roomError(err)
	}
	if !ws.IsUpgrade(c.Context()) {
		return fiber.ErrUpgradeRequired
	}
	return c.Next()
}

// roomSocket upgrades the room websocket and serves it (see
// docs/protocol.md). What the connection needs of the request is taken
// before the upgrade: the request is not kept while the member stays.
func (s *Server) roomSocket(c *fiber.Ctx) error {
	u, _ := c.Locals("user").(*account.User)
	code, _ := c.Locals("room").(string)
	if u == nil || code == "" {
		return fiber.ErrUnauthorized
	}
	ru := roomUser(u)
	// The connection ends with the session it came with (engine/revoke).
	if tok, _ := c.Locals("session").(string); tok != "" {
		ru.Session = account.SessionID(tok)
	}
	ru.Expires, _ = c.Locals("session_expires").(time.Time)
	ip := limit.AddrKey(c.IP()) // IPv6: the /64
	admit := func() (func(), bool) {
		if !s.rooms.acquireIP(ip, s.cfg.Limits.ConnsPerIP) {
			return nil, false
		}
		return func() { s.rooms.releaseIP(ip) }, true
	}
	if err := s.rooms.ws.Upgrade(c.Context(), code, ru, admit); err != nil {
		return fiber.ErrUpgradeRequired
	}
	return nil
}

func (rw *roomWeb) acquireIP(ip string, limit int) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if limit > 0 && rw.ips[ip] >= limit {
		return false
	}
	rw.ips[ip]++
	return true
}

func (rw *roomWeb) releaseIP(ip string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.ips[ip]--; rw.ips[ip] <= 0 {
		delete(rw.ips, ip)
	}
}
