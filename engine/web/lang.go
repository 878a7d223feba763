package web

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/embed/i18n"
	"watchparty/engine/room"
)

// langCookie keeps a visitor's own choice of language.
const langCookie = "wp_lang"

// lang picks the page's language: ?lang=xx (which is then kept in a cookie),
// the cookie, else the browser's Accept-Language.
func (s *Server) lang(c *fiber.Ctx) string {
	if v, ok := c.Locals("lang").(string); ok {
		return v
	}
	choice := s.cookie(c, langCookie)
	if q := c.Query("lang"); i18n.Supported(q) {
		choice = q
		if s.cookie(c, langCookie) != q {
			s.setCookie(c, langCookie, q, 365*24*time.Hour)
		}
	}
	l := i18n.Pick(choice, c.Get(fiber.HeaderAcceptLanguage))
	c.Locals("lang", l)
	return l
}

// catalogue is the strings of the request's language.
func (s *Server) catalogue(c *fiber.Ctx) i18n.Catalogue { return i18n.Get(s.lang(c)) }

// pageRefusal is a request the server turns down for a reason a person can act
// on: it is shown as a page that says what happened and offers the way
// forward (or as JSON for fetch).
type pageRefusal struct {
	status int
	reason string // a key: refuse_<reason>_title and _text in the catalogues
	err    error
}

func (r *pageRefusal) Error() string { return r.err.Error() }
func (r *pageRefusal) Unwrap() error { return r.err }

func refuse(status int, reason string, err error) error {
	return &pageRefusal{status: status, reason: reason, err: err}
}

// refusalFor returns the pageRefusal for a room error, or nil.
func refusalFor(err error) *pageRefusal {
	// refusalReasons maps room errors to the pageRefusal pages.
	refusalReasons := []struct {
		err    error
		status int
		reason string
	}{
		{room.ErrNotFound, fiber.StatusNotFound, "not_found"},
		{room.ErrInvite, fiber.StatusNotFound, "invite"},
		{room.ErrLocked, fiber.StatusForbidden, "locked"},
		{room.ErrBanned, fiber.StatusForbidden, "banned"},
		{room.ErrGuestsOff, fiber.StatusForbidden, "guests_off"},
		{room.ErrGuestRoom, fiber.StatusForbidden, "guest_room"},
		{room.ErrRoomFull, fiber.StatusConflict, "full"},
		{room.ErrTooManyGuests, fiber.StatusConflict, "too_many_guests"},
		{room.ErrTooManyRooms, fiber.StatusConflict, "too_many"},
	}
	for _, r := range refusalReasons {
		if errors.Is(err, r.err) {
			return &pageRefusal{status: r.status, reason: r.reason, err: err}
		}
	}
	return nil
}

type pageAction struct {
	Href, Label string
	Primary     bool
}

// refusalPage renders a pageRefusal: its title and text in the page's language
// and the actions that lead on (JSON for fetch and API paths).
func (s *Server) refusalPage(c *fiber.Ctx, r *pageRefusal, wantsJSON bool) error {
	T := s.catalogue(c)
	text := T.T("refuse_" + r.reason + "_text")
	if wantsJSON {
		return c.Status(r.status).JSON(fiber.Map{"error": text, "status": r.status, "reason": r.reason})
	}
	data := fiber.Map{"Status": r.status, "Heading": T.T("refuse_" + r.reason + "_title"), "Message": text, "Icon": "warn"}
	var actions []pageAction
	next := url.QueryEscape(c.OriginalURL())
	u := s.currentUser(c)
	switch r.reason {
	case "not_found", "bad_code", "invite":
		data["JoinBox"] = true
		data["Icon"] = "search"
	case "locked", "banned":
		data["Icon"] = "lock"
	case "guests_off", "guest_create", "guest_room", "too_many_guests":
		data["Icon"] = "people"
		if u != nil && u.Guest && u.GuestRoom != "" {
			actions = append(actions, pageAction{Href: s.base + "/r/" + u.GuestRoom, Label: T.T("your_room")})
		}
		if s.accounts.Settings().Registration == "open" {
			actions = append(actions, pageAction{Href: s.base + "/signup", Label: T.T("create_account"), Primary: true})
		}
		if u == nil || u.Guest {
			actions = append(actions, pageAction{Href: s.base + "/login?next=" + next, Label: T.T("log_in")})
		}
	}
	data["Actions"] = actions
	data["Title"] = data["Heading"]
	c.Status(r.status)
	return s.render(c, "error", data)
}

// joinPage takes the home page's "join by code" box: a code typed any way
// goes to its room; anything else is refused with the box again.
func (s *Server) joinPage(c *fiber.Ctx) error {
	code, ok := room.NormalizeCode(c.Query("code"))
	if !ok {
		return refuse(fiber.StatusNotFound, "bad_code", errors.New("not a room code"))
	}
	return c.Redirect(s.base+"/r/"+code, fiber.StatusSeeOther)
}
