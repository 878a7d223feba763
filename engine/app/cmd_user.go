package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"watchparty/engine/account"
	"watchparty/engine/room"
)

// runUser is `watchparty user add|list|passwd|rm|promote|demote`.
func runUser(ctx context.Context, e Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: watchparty user add|list|passwd|rm|promote|demote [EMAIL] [flags]")
	}
	sub, args := args[0], args[1:]
	var name, password string
	var admin bool
	cfg, fs, err := loadConfig(e, "user "+sub, args, func(fs *pflag.FlagSet) {
		fs.StringVar(&name, "name", "", "display name (add)")
		fs.StringVar(&password, "password", "", "password (add, passwd); read from standard input when not given")
		fs.BoolVar(&admin, "admin", false, "make the new account an admin (add)")
	})
	if err != nil {
		return err
	}
	rest := fs.Args()
	log, _ := newLogger(cfg, e.Stderr)
	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	acc := accountService(cfg, st, serverOptions{}, nil)
	needEmail := func() (string, error) {
		if len(rest) != 1 {
			return "", fmt.Errorf("usage: watchparty user %s EMAIL", sub)
		}
		return rest[0], nil
	}
	readPassword := func() (string, error) {
		if password != "" {
			return password, nil
		}
		fmt.Fprint(e.Stderr, "Password: ")
		line, err := bufio.NewReader(e.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password given (use --password or standard input)")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	switch sub {
	case "add":
		email, err := needEmail()
		if err != nil {
			return err
		}
		if name == "" {
			name = strings.SplitN(email, "@", 2)[0]
		}
		pw, err := readPassword()
		if err != nil {
			return err
		}
		u, err := acc.AdminCreate(ctx, account.SignUp{Email: email, Name: name, Password: pw}, admin)
		if err != nil {
			return err
		}
		role := "user"
		if u.Admin || admin {
			role = "admin"
		}
		fmt.Fprintf(e.Stdout, "created %s (%s, %s)\n", u.Email, u.Name, role)
	case "list":
		users, err := acc.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tCREATED")
		for _, u := range users {
			role := "user"
			if u.Admin {
				role = "admin"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Name, role, u.Created.Format(time.DateOnly))
		}
		return tw.Flush()
	case "passwd":
		email, err := needEmail()
		if err != nil {
			return err
		}
		pw, err := readPassword()
		if err != nil {
			return err
		}
		if err := acc.SetPassword(ctx, email, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "password changed for %s; their sessions were logged out\n", email)
	case "rm":
		email, err := needEmail()
		if err != nil {
			return err
		}
		u, err := acc.UserByEmail(ctx, email)
		if err != nil {
			return err
		}
		if err := acc.Delete(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "removed %s\n", email)
		// No server runs (it would hold the store): its rooms are settled here.
		rooms := room.New(roomOptions(cfg, st, log, nil))
		fates, err := rooms.ForgetUser(ctx, u.ID)
		rooms.Close()
		for _, f := range fates {
			if f.Action == room.FateTransfer {
				fmt.Fprintf(e.Stdout, "room %s (%s) now belongs to %s\n", f.Name, room.FormatCode(f.Code), f.To)
			} else {
				fmt.Fprintf(e.Stdout, "room %s (%s) was deleted: it had no moderator\n", f.Name, room.FormatCode(f.Code))
			}
		}
		return err
	case "promote", "demote":
		email, err := needEmail()
		if err != nil {
			return err
		}
		if err := acc.SetAdmin(ctx, email, sub == "promote"); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s is now %s\n", email, map[bool]string{true: "an admin", false: "a regular user"}[sub == "promote"])
	default:
		return fmt.Errorf("unknown user command %q (want add, list, passwd, rm, promote or demote)", sub)
	}
	return nil
}
