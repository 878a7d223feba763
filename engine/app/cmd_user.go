package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"watchparty/config"
	"watchparty/engine/account"
	"watchparty/engine/room"
	"watchparty/engine/store"
)

// runUser is `watchparty user add|list|passwd|rm|promote|demote`.
func runUser(ctx context.Context, e Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: watchparty user add|list|passwd|rm|promote|demote [EMAIL] [flags]")
	}
	c := userCmd{e: e, sub: args[0]}
	cfg, fs, err := loadConfig(e, "user "+c.sub, args[1:], func(fs *pflag.FlagSet) {
		fs.StringVar(&c.name, "name", "", "display name (add)")
		fs.StringVar(&c.password, "password", "", "password (add, passwd); read from standard input when not given")
		fs.BoolVar(&c.admin, "admin", false, "make the new account an admin (add)")
	})
	if err != nil {
		return err
	}
	c.cfg, c.rest = cfg, fs.Args()
	c.log, _ = newLogger(cfg, e.Stderr)
	c.st, err = openStore(cfg, c.log)
	if err != nil {
		return err
	}
	defer c.st.Close()
	c.acc = accountService(cfg, c.st, serverOptions{}, nil)
	switch c.sub {
	case "add":
		return c.add(ctx)
	case "list":
		return c.list(ctx)
	case "passwd":
		return c.passwd(ctx)
	case "rm":
		return c.rm(ctx)
	case "promote", "demote":
		return c.setAdmin(ctx, c.sub == "promote")
	}
	return fmt.Errorf("unknown user command %q (want add, list, passwd, rm, promote or demote)", c.sub)
}

// userCmd is one run of `watchparty user`: its flags, its arguments and
// the store it opened.
type userCmd struct {
	e              Env
	sub            string
	name, password string
	admin          bool
	rest           []string // arguments after the flags

	cfg *config.Config
	log *slog.Logger
	st  *store.Store
	acc *account.Service
}

// email is the one argument the sub-command takes.
func (c *userCmd) email() (string, error) {
	if len(c.rest) != 1 {
		return "", fmt.Errorf("usage: watchparty user %s EMAIL", c.sub)
	}
	return c.rest[0], nil
}

// readPassword returns --password, or else a line of standard input.
func (c *userCmd) readPassword() (string, error) {
	if c.password != "" {
		return c.password, nil
	}
	fmt.Fprint(c.e.Stderr, "Password: ")
	line, err := bufio.NewReader(c.e.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password given (use --password or standard input)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (c *userCmd) add(ctx context.Context) error {
	email, err := c.email()
	if err != nil {
		return err
	}
	name := c.name
	if name == "" {
		name = strings.SplitN(email, "@", 2)[0]
	}
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	u, err := c.acc.AdminCreate(ctx, account.SignUp{Email: email, Name: name, Password: pw}, c.admin)
	if err != nil {
		return err
	}
	role := "user"
	if u.Admin || c.admin {
		role = "admin"
	}
	fmt.Fprintf(c.e.Stdout, "created %s (%s, %s)\n", u.Email, u.Name, role)
	return nil
}

func (c *userCmd) list(ctx context.Context) error {
	users, err := c.acc.Users(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tCREATED")
	for _, u := range users {
		role := "user"
		if u.Admin {
			role = "admin"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Name, role, u.Created.Format(time.DateOnly))
	}
	return tw.Flush()
}

func (c *userCmd) passwd(ctx context.Context) error {
	email, err := c.email()
	if err != nil {
		return err
	}
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	if err := c.acc.SetPassword(ctx, email, pw); err != nil {
		return err
	}
	fmt.Fprintf(c.e.Stdout, "password changed for %s; their sessions were logged out\n", email)
	return nil
}

func (c *userCmd) rm(ctx context.Context) error {
	email, err := c.email()
	if err != nil {
		return err
	}
	u, err := c.acc.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	if err := c.acc.Delete(ctx, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(c.e.Stdout, "removed %s\n", email)
	// No server runs (it would hold the store): its rooms are settled here.
	rooms := room.New(roomOptions(c.cfg, c.st, c.log, nil))
	fates, err := rooms.ForgetUser(ctx, u.ID)
	rooms.Close()
	for _, f := range fates {
		if f.Action == room.FateTransfer {
			fmt.Fprintf(c.e.Stdout, "room %s (%s) now belongs to %s\n", f.Name, room.FormatCode(f.Code), f.To)
		} else {
			fmt.Fprintf(c.e.Stdout, "room %s (%s) was deleted: it had no moderator\n", f.Name, room.FormatCode(f.Code))
		}
	}
	return err
}

func (c *userCmd) setAdmin(ctx context.Context, admin bool) error {
	email, err := c.email()
	if err != nil {
		return err
	}
	if err := c.acc.SetAdmin(ctx, email, admin); err != nil {
		return err
	}
	fmt.Fprintf(c.e.Stdout, "%s is now %s\n", email, map[bool]string{true: "an admin", false: "a regular user"}[admin])
	return nil
}
