package app_test

import (
	"bytes"
	"strings"
	"testing"

	"watchparty/config"
	"watchparty/engine/app"
	"watchparty/engine/apptest"
)

// cli runs a watchparty command in-process.
type cli struct {
	t   *testing.T
	env []string
}

func newCLI(t *testing.T, dataDir string, extra ...string) cli {
	return cli{t: t, env: append([]string{"WATCHPARTY_DATA_DIR=" + dataDir, "WATCHPARTY_LOG_LEVEL=warn"}, extra...)}
}

func (c cli) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	code := app.Run(app.Env{Args: args, Environ: c.env, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

// ok runs a command that must succeed and returns its output.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("watchparty %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs a command that must fail with code and an error containing want.
func (c cli) fails(code int, want string, args ...string) {
	c.t.Helper()
	got, _, errOut := c.run("", args...)
	if got != code || !strings.Contains(errOut, want) {
		c.t.Errorf("watchparty %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), got, errOut, code, want)
	}
}

func TestCLIUsers(t *testing.T) {
	c := newCLI(t, t.TempDir())
	if out := c.ok("user", "add", "Ann@Example.org", "--name", "Ann", "--password", "password-ann"); !strings.Contains(out, "created ann@example.org (Ann, admin)") {
		t.Errorf("first user add: %q", out)
	}
	// The password from standard input; the name from the email.
	code, out, errOut := c.run("password-bob\n", "user", "add", "bob@example.org")
	if code != 0 || !strings.Contains(out, "created bob@example.org (bob, user)") {
		t.Fatalf("user add with the password on stdin: %d %q %q", code, out, errOut)
	}
	c.ok("user", "add", "cy@example.org", "--name", "Cy", "--password", "password-cy", "--admin")

	list := c.ok("user", "list")
	for _, want := range []string{"EMAIL", "ann@example.org", "bob@example.org", "cy@example.org"} {
		if !strings.Contains(list, want) {
			t.Errorf("user list lacks %q:\n%s", want, list)
		}
	}
	if n := strings.Count(list, " admin "); n != 2 {
		t.Errorf("%d admins listed, want 2 (ann, cy):\n%s", n, list)
	}

	c.fails(1, "already exists", "user", "add", "ANN@example.org", "--password", "password-x")
	c.fails(1, "at least 8 characters", "user", "add", "dee@example.org", "--password", "short")
	c.fails(1, "usage: watchparty user passwd EMAIL", "user", "passwd")
	c.fails(1, "no such user", "user", "rm", "nobody@example.org")
	c.fails(1, "unknown user command", "user", "frobnicate")
	c.fails(1, "usage: watchparty user", "user")

	if out := c.ok("user", "passwd", "bob@example.org", "--password", "new-password-bob"); !strings.Contains(out, "password changed for bob@example.org") {
		t.Errorf("passwd: %q", out)
	}
	c.ok("user", "promote", "bob@example.org")
	c.ok("user", "demote", "ann@example.org")
	c.ok("user", "demote", "cy@example.org")
	c.fails(1, "last admin", "user", "demote", "bob@example.org")
	c.fails(1, "last admin", "user", "rm", "bob@example.org")
	if out := c.ok("user", "rm", "ann@example.org"); !strings.Contains(out, "removed ann@example.org") {
		t.Errorf("rm: %q", out)
	}
	list = c.ok("user", "list")
	if strings.Contains(list, "ann@example.org") || !strings.Contains(list, "bob@example.org") {
		t.Errorf("after rm:\n%s", list)
	}

	// The accounts work on a server with the same store.
	srv := apptest.StartServer(t, func(cfg *config.Config) { cfg.DataDir = c.env[0][len("WATCHPARTY_DATA_DIR="):] })
	srv.LogIn(t, "bob@example.org", "new-password-bob")
}

func TestCLIRefusesWhileServerRuns(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	c := newCLI(t, srv.DataDir)
	for _, args := range [][]string{
		{"user", "list"},
		{"user", "add", "x@example.org", "--password", "password-x"},
		{"user", "rm", "x@example.org"},
	} {
		code, _, errOut := c.run("", args...)
		if code != 1 || !strings.Contains(errOut, "data directory is in use") || !strings.Contains(errOut, srv.DataDir) {
			t.Errorf("watchparty %s while the server runs: exit %d, %q; want a clear refusal naming the directory", strings.Join(args, " "), code, errOut)
		}
	}
	// The server is unharmed.
	srv.SignUp(t, "Still Here")
}

func TestCLIVersion(t *testing.T) {
	out := newCLI(t, t.TempDir()).ok("version")
	if !strings.HasPrefix(out, "watchparty "+app.Version+"\n") || !strings.Contains(out, "features: ") {
		t.Fatalf("version: %q", out)
	}
	for _, f := range app.Features() {
		if !strings.Contains(out, f) {
			t.Errorf("version does not list %q: %q", f, out)
		}
	}
	if !strings.Contains(out, "web") {
		t.Errorf("version lists no web feature: %q", out)
	}
}

func TestCLIConfig(t *testing.T) {
	c := newCLI(t, t.TempDir(), "WATCHPARTY_WEBRTC_TURN_PASSWORD=hunter2-turn", "WATCHPARTY_REGISTRATION=invite")
	out := c.ok("config", "--listen", "127.0.0.1:9999")
	if strings.Contains(out, "hunter2") {
		t.Errorf("config shows the TURN password:\n%s", out)
	}
	for _, want := range []string{
		`webrtc.turn_password: "<redacted>"  # env`,
		`registration: "invite"  # env`,
		`listen: "127.0.0.1:9999"  # flag`,
		`log.format: "text"  # default`,
		"# file: none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
	c.fails(1, `limits.login_per_minute = "lots"`, "config", "--limits.login_per_minute", "lots")
	bad := newCLI(t, t.TempDir(), "WATCHPARTY_NO_SUCH_THING=1")
	bad.fails(1, "WATCHPARTY_NO_SUCH_THING", "config")
	bad.fails(1, "WATCHPARTY_NO_SUCH_THING", "serve")
}

func TestCLIHealthcheck(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	up := newCLI(t, t.TempDir(), "WATCHPARTY_LISTEN="+srv.Addr)
	if out := up.ok("healthcheck"); strings.TrimSpace(out) != "ok" {
		t.Errorf("healthcheck: %q", out)
	}
	_, port, _ := strings.Cut(srv.Addr, ":")
	wildcard := newCLI(t, t.TempDir(), "WATCHPARTY_LISTEN=:"+port)
	wildcard.ok("healthcheck")

	down := newCLI(t, t.TempDir(), "WATCHPARTY_LISTEN="+apptest.FreePort(t))
	down.fails(1, "server not answering", "healthcheck")
}

func TestCLIUnknownCommand(t *testing.T) {
	c := newCLI(t, t.TempDir())
	code, out, errOut := c.run("", "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "Commands:") || out != "" {
		t.Errorf("unknown command: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := c.run("", args...)
		if code != 0 || !strings.Contains(out, "Usage: watchparty") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	c.fails(1, "unknown flag", "serve", "--no-such-flag")
}
