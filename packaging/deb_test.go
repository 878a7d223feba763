package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	debOnce sync.Once
	debDir  string
	debErr  string
)

// debs builds watchparty 1.0.0 and 1.0.1 packages once with
// packaging/deb/build.sh (the same script `make deb` runs).
func debs(t *testing.T) (v1, v2 string) {
	t.Helper()
	bin := staticBinary(t)
	debOnce.Do(func() {
		dir, err := os.MkdirTemp("", "watchparty-debs-")
		if err != nil {
			debErr = err.Error()
			return
		}
		env := append(os.Environ(), "PATH="+filepath.Dir(goTool(t))+":"+os.Getenv("PATH"), "SOURCE_DATE_EPOCH=1767225600")
		for _, v := range []string{"1.0.0", "v1.0.1"} {
			if out, err := runErr(repoRoot(t), env, "sh", "packaging/deb/build.sh", bin, v, "amd64", dir); err != nil {
				debErr = "build.sh " + v + ": " + err.Error() + "\n" + out
				return
			}
		}
		debDir = dir
	})
	if debDir == "" {
		t.Fatalf("building the .deb: %s", debErr)
	}
	return filepath.Join(debDir, "watchparty_1.0.0_amd64.deb"), filepath.Join(debDir, "watchparty_1.0.1_amd64.deb")
}

func TestDebInfoAndContents(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	v1, _ := debs(t)
	info := run(t, "", nil, dpkgDeb, "--info", v1)
	for _, want := range []string{"Package: watchparty", "Version: 1.0.0", "Architecture: amd64", "Pre-Depends: adduser",
		"Recommends: ffmpeg", "Section: net", "preinst", "postinst", "prerm", "postrm", "conffiles"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	ctl := t.TempDir()
	run(t, "", nil, dpkgDeb, "--control", v1, ctl)
	if b, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); strings.TrimSpace(string(b)) != "/etc/watchparty/watchparty.yaml" {
		t.Errorf("conffiles: %q", b)
	}

	contents := run(t, "", nil, dpkgDeb, "--contents", v1)
	tests := []struct{ mode, owner, path string }{
		{"-rwxr-xr-x", "root/root", "./usr/bin/watchparty"},
		{"-rw-r--r--", "root/root", "./lib/systemd/system/watchparty.service"},
		{"-rw-r-----", "root/watchparty", "./etc/watchparty/watchparty.yaml"},
		{"-rw-r--r--", "root/root", "./usr/share/doc/watchparty/copyright"},
		{"-rw-r--r--", "root/root", "./usr/share/doc/watchparty/changelog.gz"},
		{"-rw-r--r--", "root/root", "./usr/share/man/man1/watchparty.1.gz"},
		{"-rw-r--r--", "root/root", "./usr/share/lintian/overrides/watchparty"},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tt.mode) + ` ` + regexp.QuoteMeta(tt.owner) + ` .* ` + regexp.QuoteMeta(tt.path) + `$`)
		if !re.MatchString(contents) {
			t.Errorf("no %s %s %s in:\n%s", tt.mode, tt.owner, tt.path, contents)
		}
	}
	// The shipped unit and configuration are the repository's.
	x := t.TempDir()
	run(t, "", nil, dpkgDeb, "-x", v1, x)
	for src, dst := range map[string]string{"systemd/watchparty.service": "lib/systemd/system/watchparty.service", "../watchparty.yaml": "etc/watchparty/watchparty.yaml"} {
		a, _ := os.ReadFile(src)
		b, _ := os.ReadFile(filepath.Join(x, dst))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s in the package differs from %s", dst, src)
		}
	}
}

// TestDebLintian fails on any error or warning lintian reports (the
// accepted ones are overridden in packaging/deb/lintian-overrides, each
// with its reason).
func TestDebLintian(t *testing.T) {
	lintian := need(t, "lintian", "lintian")
	v1, _ := debs(t)
	out, err := runErr("", nil, lintian, "--tag-display-limit", "0", "--pedantic", "-I", v1)
	var problems []string
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 2 && line[1] == ':' && strings.Contains("EWIPX", line[:1]) {
			problems = append(problems, line)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Errorf("lintian: %v\n%s", err, strings.Join(problems, "\n"))
	}
}

func TestDebMaintainerScriptsParse(t *testing.T) {
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		for _, shell := range []string{"sh", "dash", "bash"} {
			if _, err := exec.LookPath(shell); err != nil {
				continue
			}
			if out, err := runErr("", nil, shell, "-n", filepath.Join("deb/scripts", s)); err != nil {
				t.Errorf("%s -n %s: %v %s", shell, s, err, out)
			}
		}
	}
}

// shims are stand-ins for the commands the maintainer scripts run on a real
// system (user management and systemd). They log their arguments; getent
// answers from a marker that adduser creates and deluser removes.
func writeShims(t *testing.T) (dir, logFile string) {
	t.Helper()
	dir = t.TempDir()
	logFile = filepath.Join(dir, "calls.log")
	marker := filepath.Join(dir, "user-exists")
	shims := map[string]string{
		"adduser":            `touch "` + marker + `"`,
		"deluser":            `rm -f "` + marker + `"`,
		"delgroup":           ``,
		"systemctl":          ``,
		"deb-systemd-helper": ``,
		"deb-systemd-invoke": ``,
		"getent":             `[ -e "` + marker + `" ] && { echo "watchparty:x:999:999::/var/lib/watchparty:/usr/sbin/nologin"; exit 0; }; exit 2`,
	}
	for name, body := range shims {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>\"" + logFile + "\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, logFile
}

// TestDebInstallUpgradeRemovePurge installs the package into a scratch root
// with dpkg --root, running the maintainer scripts without chroot (dpkg sets
// DPKG_ROOT, which the scripts honour for paths) and with shims for
// adduser, deluser, getent, systemctl and deb-systemd-*. It covers: first
// install, an upgrade with systemd "running" (a /run/systemd/system in the
// scratch root) and an edited conffile, remove and purge.
func TestDebInstallUpgradeRemovePurge(t *testing.T) {
	dpkg := need(t, "dpkg", "dpkg")
	if os.Geteuid() != 0 {
		t.Fatal("dpkg --root needs root; run the tests as root as make test does")
	}
	v1, v2 := debs(t)
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/available"), nil, 0o644)
	shims, logFile := writeShims(t)
	env := []string{"PATH=" + shims + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	dpkgRun := func(args ...string) string {
		t.Helper()
		os.Remove(logFile)
		return run(t, "", env, dpkg, append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)...)
	}
	calls := func() string {
		b, _ := os.ReadFile(logFile)
		return string(b)
	}
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join(root, p))
		return err == nil
	}

	out := dpkgRun("-i", v1)
	if !strings.Contains(out, "systemctl enable --now watchparty") {
		t.Errorf("no first-install hint in: %s", out)
	}
	c := calls()
	if !strings.Contains(c, "adduser --system --group --home /var/lib/watchparty") {
		t.Errorf("install did not create the system user: %q", c)
	}
	if strings.Contains(c, "systemctl") || strings.Contains(c, "deb-systemd-invoke") {
		t.Errorf("install touched systemd while it is not running (a container): %q", c)
	}
	for _, p := range []string{"usr/bin/watchparty", "lib/systemd/system/watchparty.service", "etc/watchparty/watchparty.yaml"} {
		if !exists(p) {
			t.Errorf("%s not installed", p)
		}
	}
	if v := run(t, "", nil, filepath.Join(root, "usr/bin/watchparty"), "version"); !strings.Contains(v, "0.0.0-test") {
		t.Errorf("installed binary: %s", v)
	}

	// Upgrade on a machine where systemd runs, with an edited conffile and data.
	os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755)
	conf := filepath.Join(root, "etc/watchparty/watchparty.yaml")
	edited := append(readFile(t, conf), []byte("\n# edited by the admin\n")...)
	os.WriteFile(conf, edited, 0o640)
	os.MkdirAll(filepath.Join(root, "var/lib/watchparty"), 0o750)
	os.WriteFile(filepath.Join(root, "var/lib/watchparty/MANIFEST"), []byte("data"), 0o600)
	dpkgRun("-i", v2)
	c = calls()
	if strings.Contains(c, "adduser") {
		t.Errorf("upgrade created the user again: %q", c)
	}
	for _, want := range []string{"systemctl --system daemon-reload", "deb-systemd-invoke try-restart watchparty.service"} {
		if !strings.Contains(c, want) {
			t.Errorf("upgrade did not run %q: %q", want, c)
		}
	}
	if strings.Contains(c, "deb-systemd-invoke stop") {
		t.Errorf("upgrade stopped the service: %q", c)
	}
	if got := readFile(t, conf); string(got) != string(edited) {
		t.Error("upgrade replaced the edited configuration")
	}
	if status := run(t, "", env, dpkg, "--root="+root, "-s", "watchparty"); !strings.Contains(status, "Version: 1.0.1") {
		t.Errorf("after upgrade: %s", status)
	}

	dpkgRun("--remove", "watchparty")
	c = calls()
	for _, want := range []string{"deb-systemd-invoke stop watchparty.service", "deb-systemd-helper mask watchparty.service", "systemctl --system daemon-reload"} {
		if !strings.Contains(c, want) {
			t.Errorf("remove did not run %q: %q", want, c)
		}
	}
	if exists("usr/bin/watchparty") {
		t.Error("remove left the binary")
	}
	if !exists("etc/watchparty/watchparty.yaml") || !exists("var/lib/watchparty/MANIFEST") {
		t.Error("remove deleted the configuration or the data (only purge may)")
	}

	dpkgRun("--purge", "watchparty")
	c = calls()
	for _, want := range []string{"deluser --system watchparty", "deb-systemd-helper purge watchparty.service"} {
		if !strings.Contains(c, want) {
			t.Errorf("purge did not run %q: %q", want, c)
		}
	}
	for _, p := range []string{"var/lib/watchparty", "etc/watchparty/watchparty.yaml", "etc/watchparty"} {
		if exists(p) {
			t.Errorf("purge left %s", p)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
