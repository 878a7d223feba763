package web

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/embed/i18n"
	"watchparty/engine/account"
	"watchparty/engine/room"
)

func (s *Server) home(c *fiber.Ctx) error {
	data := fiber.Map{}
	if u := s.currentUser(c); u != nil && !u.Guest {
		if err := s.homeData(c, u, data); err != nil {
			return err
		}
	}
	return s.render(c, "home", data)
}

func (s *Server) signupPage(c *fiber.Ctx) error {
	if s.currentUser(c) != nil && !s.currentUser(c).Guest {
		return c.Redirect(s.base+"/", fiber.StatusSeeOther)
	}
	T := s.catalogue(c)
	data := fiber.Map{"Title": T.T("sign_up"), "Invite": c.Query("invite")}
	switch s.accounts.Settings().Registration {
	case account.RegistrationClosed:
		c.Status(fiber.StatusForbidden)
		return s.render(c, "error", fiber.Map{"Status": 403, "Heading": T.T("signup_closed_title"), "Title": T.T("signup_closed_title"),
			"Message": errText(T, account.ErrRegistrationClosed)})
	case account.RegistrationInvite:
		if err := s.accounts.CheckInvite(c.UserContext(), c.Query("invite")); err != nil {
			msg := errText(T, account.ErrInviteRequired)
			if c.Query("invite") != "" {
				msg = errText(T, account.ErrInviteInvalid)
			}
			c.Status(fiber.StatusForbidden)
			return s.render(c, "error", fiber.Map{"Status": 403, "Heading": T.T("invite_needed_title"), "Title": T.T("invite_needed_title"), "Message": msg})
		}
	}
	return s.render(c, "signup", data)
}

// tooMany answers a rate-limited form with the wait time next to the form.
func (s *Server) tooMany(c *fiber.Ctx, page string, data fiber.Map, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	c.Status(fiber.StatusTooManyRequests)
	data["FormError"] = s.catalogue(c).Format("too_many_attempts", "s", secs)
	return s.render(c, page, data)
}

func (s *Server) signup(c *fiber.Ctx) error {
	in := account.SignUp{Email: c.FormValue("email"), Name: c.FormValue("name"), Password: c.FormValue("password"), Invite: c.FormValue("invite")}
	data := fiber.Map{"Title": s.catalogue(c).T("sign_up"), "Invite": in.Invite, "Values": map[string]string{"email": in.Email, "name": in.Name}}
	if ok, wait, by := s.logins.check(c.IP(), s.loginAttempt(c, in.Email)); !ok {
		s.refused(c, "sign-up rate limited", "by", by)
		return s.tooMany(c, "signup", data, wait)
	}
	u, err := s.accounts.Register(c.UserContext(), in)
	if err != nil {
		var fe *account.FieldError
		switch {
		case errors.As(err, &fe):
			data["Errors"] = map[string]string{fe.Field: errText(s.catalogue(c), fe.Err)}
		case errors.Is(err, account.ErrRegistrationClosed), errors.Is(err, account.ErrInviteRequired), errors.Is(err, account.ErrInviteInvalid):
			data["FormError"] = errText(s.catalogue(c), err)
		default:
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, "signup", data)
	}
	tok, err := s.accounts.NewSession(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	s.log.Info("account created", "user", u.ID, "admin", u.Admin)
	s.setSessionCookie(c, tok, s.cfg.Session.TTL)
	s.flash(c, "signedup")
	return c.Redirect(s.base+"/", fiber.StatusSeeOther)
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	if u := s.currentUser(c); u != nil && !u.Guest {
		return c.Redirect(s.safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return s.render(c, "login", fiber.Map{"Title": s.catalogue(c).T("log_in"), "Next": c.Query("next")})
}

// safeNext keeps redirects on this site: a path on this server, never
// "//host" or "/\\host", nor one that browsers turn into such by dropping
// tabs and line breaks.
func (s *Server) safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r == '\\' || r < 0x20 || r == 0x7f
	}) {
		return s.base + "/"
	}
	if s.base != "" && !strings.HasPrefix(next, s.base+"/") && next != s.base {
		return s.base + "/"
	}
	return next
}

func (s *Server) login(c *fiber.Ctx) error {
	email := c.FormValue("email")
	data := fiber.Map{"Title": s.catalogue(c).T("log_in"), "Next": c.FormValue("next"), "Values": map[string]string{"email": email}}
	at := s.loginAttempt(c, email)
	if ok, wait, by := s.logins.check(c.IP(), at); !ok {
		s.refused(c, "log-in rate limited", "by", by)
		return s.tooMany(c, "login", data, wait)
	}
	u, tok, err := s.accounts.Login(c.UserContext(), email, c.FormValue("password"))
	if errors.Is(err, account.ErrBadCredentials) {
		s.logins.failed(at)
		s.refused(c, "log-in failed")
		data["FormError"] = errText(s.catalogue(c), err)
		c.Status(fiber.StatusUnauthorized)
		return s.render(c, "login", data)
	}
	if err != nil {
		return err
	}
	if old := s.cookie(c, sessionCookie); old != "" {
		_ = s.accounts.Logout(c.UserContext(), old)
	}
	s.logins.succeeded(at)
	s.rememberDevice(c, email)
	s.log.Info("logged in", "user", u.ID)
	s.setSessionCookie(c, tok, s.cfg.Session.TTL)
	return c.Redirect(s.safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (s *Server) logout(c *fiber.Ctx) error {
	if tok := s.cookie(c, sessionCookie); tok != "" {
		if err := s.accounts.Logout(c.UserContext(), tok); err != nil {
			return err
		}
	}
	s.clearCookie(c, sessionCookie)
	s.flash(c, "loggedout")
	return c.Redirect(s.base+"/", fiber.StatusSeeOther)
}

func (s *Server) accountData(c *fiber.Ctx, data fiber.Map) (fiber.Map, error) {
	data["Title"] = s.catalogue(c).T("account_title")
	u := s.currentUser(c)
	fates, err := s.rooms.svc.OwnedFates(c.UserContext(), u.ID)
	if err != nil {
		return nil, err
	}
	data["Fates"] = fates
	if u.Admin {
		inv, err := s.accounts.Invites(c.UserContext())
		if err != nil {
			return nil, err
		}
		data["Invites"] = inv
	}
	return data, nil
}

func (s *Server) accountPage(c *fiber.Ctx) error {
	data, err := s.accountData(c, fiber.Map{})
	if err != nil {
		return err
	}
	return s.render(c, "account", data)
}

// formFailed re-renders the account page with a field error, or passes
// other errors on.
func (s *Server) formFailed(c *fiber.Ctx, err error, values map[string]string) error {
	var fe *account.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	data, derr := s.accountData(c, fiber.Map{"Errors": map[string]string{fe.Field: errText(s.catalogue(c), fe.Err)}, "Values": values})
	if derr != nil {
		return derr
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return s.render(c, "account", data)
}

func (s *Server) accountName(c *fiber.Ctx) error {
	u := s.currentUser(c)
	if _, err := s.accounts.Rename(c.UserContext(), u.ID, c.FormValue("name")); err != nil {
		return s.formFailed(c, err, map[string]string{"name": c.FormValue("name")})
	}
	s.flash(c, "name")
	return c.Redirect(s.base+"/account", fiber.StatusSeeOther)
}

// passwordChange runs a change to the signed-in account that its password
// guards (change), then answers (done). The login guard's limits apply: a
// wrong password counts as a failed login, and while the guard says wait
// the account page says so.
func (s *Server) passwordChange(c *fiber.Ctx, change func(u *account.User) error, done func(u *account.User) error) error {
	u := s.currentUser(c)
	at := s.loginAttempt(c, u.Email)
	if ok, wait, _ := s.logins.check(c.IP(), at); !ok {
		data, _ := s.accountData(c, fiber.Map{})
		return s.tooMany(c, "account", data, wait)
	}
	if err := change(u); err != nil {
		if errors.Is(err, account.ErrWrongPassword) {
			s.logins.failed(at)
		}
		return s.formFailed(c, err, nil)
	}
	return done(u)
}

func (s *Server) accountPassword(c *fiber.Ctx) error {
	tok, _ := c.Locals("session").(string)
	return s.passwordChange(c, func(u *account.User) error {
		return s.accounts.ChangePassword(c.UserContext(), u.ID, c.FormValue("current"), c.FormValue("password"), tok)
	}, func(*account.User) error {
		s.flash(c, "password")
		return c.Redirect(s.base+"/account", fiber.StatusSeeOther)
	})
}

func (s *Server) accountDelete(c *fiber.Ctx) error {
	var fates []room.Fate
	return s.passwordChange(c, func(u *account.User) error {
		var err error
		if fates, err = s.rooms.svc.OwnedFates(c.UserContext(), u.ID); err != nil {
			return err
		}
		err = s.accounts.DeleteWithPassword(c.UserContext(), u.ID, c.FormValue("delete_password"))
		if errors.Is(err, account.ErrLastAdmin) {
			err = &account.FieldError{Field: "delete_password", Err: err}
		}
		return err
	}, func(u *account.User) error { return s.deleted(c, u, fates) })
}

// deleted answers the deletion of u's account: what became of its rooms.
func (s *Server) deleted(c *fiber.Ctx, u *account.User, fates []room.Fate) error {
	s.log.Info("account deleted", "user", u.ID, "rooms", len(fates))
	s.clearCookie(c, sessionCookie)
	if len(fates) == 0 {
		s.flash(c, "deleted")
		return c.Redirect(s.base+"/", fiber.StatusSeeOther)
	}
	// Say what became of the rooms (the room service carries it out as the
	// deletion is published: engine/revoke).
	T := s.catalogue(c)
	lines := []string{T.T("flash_deleted")}
	for _, f := range fates {
		if f.Action == room.FateTransfer {
			lines = append(lines, T.Format("deleted_fate_transfer", "room", f.Name, "name", f.To))
		} else {
			lines = append(lines, T.Format("deleted_fate_delete", "room", f.Name))
		}
	}
	c.Locals("user", nil)
	return s.render(c, "home", fiber.Map{"Flash": strings.Join(lines, " ")})
}

func (s *Server) createInvite(c *fiber.Ctx) error {
	u := s.currentUser(c)
	if !u.Admin {
		return fiber.NewError(fiber.StatusForbidden, s.catalogue(c).T("invites_admin_only"))
	}
	days, err := strconv.Atoi(c.FormValue("days"))
	if err != nil || days < 1 || days > 90 {
		return s.formFailed(c, &account.FieldError{Field: "days", Err: errInviteDays}, nil)
	}
	inv, err := s.accounts.CreateInvite(c.UserContext(), u.ID, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	data, err := s.accountData(c, fiber.Map{"NewInvite": s.absURL(c, "/signup?invite="+inv.Token), "Flash": s.catalogue(c).T("flash_invite")})
	if err != nil {
		return err
	}
	return s.render(c, "account", data)
}

// absURL makes an absolute URL for links people share (invites).
func (s *Server) absURL(c *fiber.Ctx, p string) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/") + p
	}
	return c.Protocol() + "://" + c.Hostname() + s.base + p
}

// errInviteDays refuses an invite's lifetime out of range.
var errInviteDays = errors.New("enter a number of days from 1 to 90")

// errText is an account error in the page's language (its English text when
// the catalogues do not know it).
func errText(T i18n.Catalogue, err error) string {
	// accountErrors maps the account errors a form shows to their keys in the
	// catalogues.
	accountErrors := []struct {
		err error
		key string
	}{
		{account.ErrInvalidEmail, "acct_err_invalid_email"},
		{account.ErrEmailTaken, "acct_err_email_taken"},
		{account.ErrWeakPassword, "acct_err_weak_password"},
		{account.ErrLongPassword, "acct_err_long_password"},
		{account.ErrInvalidName, "acct_err_invalid_name"},
		{account.ErrBadCredentials, "acct_err_bad_credentials"},
		{account.ErrWrongPassword, "acct_err_wrong_password"},
		{account.ErrRegistrationClosed, "acct_err_registration_closed"},
		{account.ErrInviteRequired, "acct_err_invite_required"},
		{account.ErrInviteInvalid, "acct_err_invite_invalid"},
		{account.ErrLastAdmin, "acct_err_last_admin"},
		{errInviteDays, "acct_err_invite_days"},
	}
	for _, e := range accountErrors {
		if errors.Is(err, e.err) {
			return T.T(e.key)
		}
	}
	return err.Error()
}
