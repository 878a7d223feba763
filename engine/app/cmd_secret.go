package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// runSecret is `watchparty secret rotate [--logout-everyone]`, for a key
// that may have leaked (a backup in the wrong hands, an old disk).
func runSecret(ctx context.Context, e Env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: watchparty secret rotate [--logout-everyone]")
	}
	var everyone bool
	cfg, fs, err := loadConfig(e, "secret rotate", args[1:], func(fs *pflag.FlagSet) {
		fs.BoolVar(&everyone, "logout-everyone", false, "also end every log-in session (accounts and guests)")
	})
	if err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, _ := newLogger(cfg, e.Stderr)
	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := rotateSecret(st); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, "The secret key was replaced. Open pages must be reloaded before their forms work again,")
	fmt.Fprintln(e.Stdout, "stream tokens handed out before now no longer work, and browsers log in again without their")
	fmt.Fprintln(e.Stdout, "known-device exemption.")
	if everyone {
		n, err := accountService(cfg, st, serverOptions{}, nil).LogoutEveryone(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%d sessions were ended: everyone logs in again.\n", n)
	}
	return nil
}
