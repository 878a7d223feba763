// Package packaging_test checks the files under packaging/ and docs/deploy.md
// with the real tools: systemd-analyze, the static build the container
// stages run, a read-only non-root run of the binary, nfpm, dpkg-deb,
// lintian, nginx and Caddy. A missing tool fails the test with the Debian
// package to install; `make test` installs them all.
package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the module root, two levels up from packaging/.
func repoRoot(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// need returns the path of a command, failing the test with the package
// that provides it.
func need(t testing.TB, cmd, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		t.Fatalf("%s is not installed: this test needs the Debian package %s (apt-get install -y %s, or run make test)", cmd, debianPackage, debianPackage)
	}
	return p
}

func goTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command on PATH or in %s", p)
	}
	return p
}

// run runs a command and fails the test when it fails, showing its output.
func run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  string
)

// staticBinary builds the watchparty binary once per test run the way the
// container's static stage and `make release` do, and returns its path.
func staticBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "watchparty-packaging-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		buildDir = dir
		bin := filepath.Join(dir, "watchparty")
		env := append(os.Environ(), "CGO_ENABLED=0")
		out, err := runErr(repoRoot(t), env, goTool(t), "build", "-trimpath",
			"-ldflags", "-s -w -X watchparty/engine/app.Version=0.0.0-test", "-o", bin, ".")
		if err != nil {
			buildErr = err.Error() + "\n" + out
			return
		}
		buildBin = bin
	})
	if buildBin == "" {
		t.Fatalf("building watchparty: %s", buildErr)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{buildDir, debDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}
