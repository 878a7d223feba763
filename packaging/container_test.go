package packaging_test

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"watchparty/engine/apptest"
)

const dockerfile = "container/Dockerfile"

// stage returns the lines of one FROM ... AS name stage, continuation lines
// joined.
func stage(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "FROM ") {
			in = strings.HasSuffix(line, " AS "+name)
		}
		if in && line != "" && line[0] != '#' {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no stage %q", dockerfile, name)
	}
	return out
}

var multiSpace = regexp.MustCompile(`\s+`)

// buildCommand returns the `go build` command a builder stage runs, with
// /out replaced by dir and the VERSION build argument filled in.
func buildCommand(t *testing.T, stageName, dir string) string {
	t.Helper()
	for _, line := range stage(t, stageName) {
		if !strings.HasPrefix(line, "RUN ") || !strings.Contains(line, "go build") {
			continue
		}
		cmd := multiSpace.ReplaceAllString(strings.TrimPrefix(line, "RUN "), " ")
		cmd = strings.ReplaceAll(cmd, "/out", dir)
		return strings.ReplaceAll(cmd, "${VERSION}", "0.0.0-container-test")
	}
	t.Fatalf("stage %s runs no go build", stageName)
	return ""
}

func TestDockerfileShape(t *testing.T) {
	for _, tt := range []struct {
		stage string
		want  []string
	}{
		{"builder", []string{"FROM golang:${GO_VERSION}-bookworm AS builder", "CGO_ENABLED=0 go build -trimpath"}},
		{"builder-gocv", []string{"libopencv-dev", "CGO_ENABLED=1 go build -tags gocv"}},
		{"static", []string{"FROM gcr.io/distroless/static-debian12:nonroot AS static", "VOLUME /data", "WATCHPARTY_DATA_DIR=/data",
			"EXPOSE 8080 9000 50000/udp", `HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/watchparty", "healthcheck"]`, "USER nonroot:nonroot"}},
		{"gocv", []string{"FROM debian:bookworm-slim AS gocv", "libopencv-core406", "ffmpeg", "VOLUME /data", "WATCHPARTY_DATA_DIR=/data",
			"EXPOSE 8080 9000 50000/udp", `CMD ["/watchparty", "healthcheck"]`, "USER nonroot:nonroot"}},
	} {
		t.Run(tt.stage, func(t *testing.T) {
			text := strings.Join(stage(t, tt.stage), "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("stage %s lacks %q", tt.stage, w)
				}
			}
		})
	}
}

// TestContainerStaticBuild runs the static stage's build command and checks
// the result is a static executable that runs on a base with no libc.
func TestContainerStaticBuild(t *testing.T) {
	fileCmd := need(t, "file", "file")
	dir := t.TempDir()
	cmd := buildCommand(t, "builder", dir)
	env := append(os.Environ(), "PATH="+filepath.Dir(goTool(t))+":"+os.Getenv("PATH"))
	run(t, repoRoot(t), env, "sh", "-c", cmd)
	bin := filepath.Join(dir, "watchparty")
	if fi, err := os.Stat(filepath.Join(dir, "data")); err != nil || !fi.IsDir() {
		t.Errorf("the stage's /out/data directory (the volume's mount point) is missing: %v", err)
	}

	apptest.CheckStatic(t, bin) // it must start on distroless/static
	if out := run(t, dir, nil, fileCmd, bin); !strings.Contains(out, "statically linked") {
		t.Errorf("file says: %s", out)
	}
	if out := run(t, dir, nil, bin, "version"); !strings.Contains(out, "0.0.0-container-test") {
		t.Errorf("version stamp missing: %s", out)
	}
	fi, _ := os.Stat(bin)
	t.Logf("static binary: %.1f MiB", float64(fi.Size())/(1<<20))
}

// containerRoot builds a root file system like the static image: the binary
// at /watchparty, /data owned by nonroot (65532), an /etc/passwd naming
// nonroot, and mount points for /proc and /tmp.
func containerRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"data", "proc", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(staticBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "watchparty"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nnonroot:x:65532:\n"), 0o644)
	if err := os.Chown(filepath.Join(root, "data"), 65532, 65532); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "data"), 0o750)
	// The path to the root must be traversable by nonroot.
	for d := root; d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, fi.Mode().Perm()|0o011)
		}
	}
	return root
}

// inContainer returns a command that runs args inside root as the image
// runs them: a private mount namespace where root is mounted read-only with
// only /data writable, chrooted, as uid/gid 65532, with only the image's
// environment.
func inContainer(t *testing.T, root string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	need(t, "unshare", "util-linux")
	need(t, "chroot", "coreutils")
	if os.Geteuid() != 0 {
		t.Fatal("the container test needs root (mount namespaces and chroot); run the tests as root as make test does")
	}
	script := `set -e
mount --make-rprivate /
mount --bind "$ROOT" "$ROOT"
mount --bind "$ROOT/data" "$ROOT/data"
mount --rbind /proc "$ROOT/proc"
mount -o remount,bind,ro "$ROOT"
exec chroot --userspec=65532:65532 "$ROOT" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--", "sh", "-c", script, "sh"}, args...)...)
	cmd.Env = append([]string{"ROOT=" + root, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	return cmd
}

// TestContainerRunsNonRootWithReadOnlyRoot runs the static binary the way
// the static image does and checks the HEALTHCHECK command, the user, that
// only /data is written, an online backup into the volume, and a clean stop.
func TestContainerRunsNonRootWithReadOnlyRoot(t *testing.T) {
	root := containerRoot(t)
	addr := apptest.FreePort(t)
	env := []string{"WATCHPARTY_DATA_DIR=/data", "WATCHPARTY_LISTEN=" + addr}

	srv := inContainer(t, root, env, "/watchparty", "serve")
	var logs apptest.Output
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			srv.Process.Kill()
			<-exited
		}
	}()

	healthcheck := func() (string, error) {
		hc := inContainer(t, root, env, "/watchparty", "healthcheck")
		out, err := hc.CombinedOutput()
		return string(out), err
	}
	var out string
	healthy := false
	for range 400 {
		var err error
		if out, err = healthcheck(); err == nil {
			healthy = true
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("the server exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !healthy || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck never passed: %s\nserver log:\n%s", out, logs.String())
	}

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") {
			if f := strings.Fields(line); slices.ContainsFunc(f[1:], func(s string) bool { return s != "65532" }) {
				t.Errorf("server runs with %s, want 65532 throughout", line)
			}
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "data", "MANIFEST"), &st); err != nil {
		t.Fatalf("no store in /data: %v", err)
	}
	if st.Uid != 65532 {
		t.Errorf("store files owned by uid %d", st.Uid)
	}

	// The root is read-only: a backup outside /data fails, one into the
	// volume works (through the running server's control socket).
	bk := inContainer(t, root, env, "/watchparty", "backup", "/backup.bin")
	if out, err := bk.CombinedOutput(); err == nil || !strings.Contains(string(out), "read-only file system") {
		t.Errorf("writing outside /data: %v %s", err, out)
	}
	bk = inContainer(t, root, env, "/watchparty", "backup", "/data/backup.bin")
	if out, err := bk.CombinedOutput(); err != nil || !strings.Contains(string(out), "via the running server") {
		t.Errorf("backup into /data: %v %s", err, out)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !slices.Contains([]string{"data", "proc", "tmp", "etc", "watchparty"}, e.Name()) {
			t.Errorf("something wrote %s outside /data", e.Name())
		}
	}

	// docker stop sends SIGTERM: the server stops cleanly.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	stopped = true
	if _, err := healthcheck(); err == nil {
		t.Error("healthcheck passed with the server stopped")
	}
}

// TestContainerGocvRuntimeLibraries builds the gocv stage's binary and
// checks that every shared library it needs comes from a package the gocv
// runtime stage installs (or from debian:bookworm-slim itself).
func TestContainerGocvRuntimeLibraries(t *testing.T) {
	need(t, "pkg-config", "pkg-config")
	dpkgQuery := need(t, "dpkg-query", "dpkg")
	if out, err := runErr("", nil, "pkg-config", "--exists", "opencv4"); err != nil {
		t.Fatalf("OpenCV development files missing: apt-get install -y libopencv-dev (%v %s)", err, out)
	}
	dir := t.TempDir()
	cmd := buildCommand(t, "builder-gocv", dir)
	env := append(os.Environ(), "PATH="+filepath.Dir(goTool(t))+":"+os.Getenv("PATH"))
	run(t, repoRoot(t), env, "sh", "-c", cmd)
	f, err := elf.Open(filepath.Join(dir, "watchparty"))
	if err != nil {
		t.Fatal(err)
	}
	libs, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	installed := map[string]bool{}
	for _, line := range stage(t, "gocv") {
		if strings.Contains(line, "apt-get install") {
			for _, w := range strings.Fields(line) {
				installed[w] = true
			}
		}
	}
	// In debian:bookworm-slim already (priority required).
	base := map[string]bool{"libc6": true, "libgcc-s1": true, "libstdc++6": true}
	for _, lib := range libs {
		pkg := packageOfLibrary(t, dpkgQuery, lib)
		if !installed[pkg] && !base[pkg] {
			t.Errorf("the gocv binary needs %s from %s, which the gocv stage does not install", lib, pkg)
		}
	}
	t.Logf("gocv binary needs: %v", libs)
}

// packageOfLibrary finds the installed package that ships a shared library.
func packageOfLibrary(t *testing.T, dpkgQuery, lib string) string {
	t.Helper()
	out, err := runErr("", nil, dpkgQuery, "-S", "*/"+lib)
	if err != nil {
		t.Fatalf("no installed package ships %s: %s", lib, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		pkg, _, _ := strings.Cut(sc.Text(), ":")
		if !strings.Contains(pkg, ",") && !strings.HasSuffix(pkg, "-dev") {
			return pkg
		}
	}
	t.Fatalf("no runtime package for %s in %q", lib, out)
	return ""
}

// dpkgStatus reads the installed packages' Depends, Pre-Depends, priority and
// Installed-Size from dpkg's status file.
type debPackage struct {
	deps     [][]string // each entry: alternatives
	priority string
	sizeKiB  int
}

func dpkgStatus(t *testing.T) map[string]*debPackage {
	t.Helper()
	b, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Fatalf("reading dpkg's status (a Debian machine is needed): %v", err)
	}
	out := map[string]*debPackage{}
	provides := map[string]string{}
	for _, para := range strings.Split(string(b), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, " ") && last != "" {
				fields[last] += line
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			fields[k], last = strings.TrimSpace(v), k
		}
		if !strings.Contains(fields["Status"], "install ok installed") {
			continue
		}
		name := fields["Package"]
		p := &debPackage{priority: fields["Priority"]}
		p.sizeKiB, _ = strconv.Atoi(fields["Installed-Size"])
		for _, field := range []string{fields["Pre-Depends"], fields["Depends"]} {
			for _, dep := range strings.Split(field, ",") {
				var alts []string
				for _, a := range strings.Split(dep, "|") {
					a = strings.TrimSpace(a)
					if i := strings.IndexAny(a, " (:"); i >= 0 {
						a = a[:i]
					}
					if a != "" {
						alts = append(alts, a)
					}
				}
				if len(alts) > 0 {
					p.deps = append(p.deps, alts)
				}
			}
		}
		for _, pr := range strings.Split(fields["Provides"], ",") {
			pr = strings.TrimSpace(pr)
			if i := strings.IndexAny(pr, " ("); i >= 0 {
				pr = pr[:i]
			}
			if pr != "" {
				provides[pr] = name
			}
		}
		out[name] = p
	}
	for virtual, real := range provides {
		if _, ok := out[virtual]; !ok {
			out[virtual] = &debPackage{deps: [][]string{{real}}}
		}
	}
	return out
}

// closure is every installed package reached from roots through
// dependencies, taking the installed alternative of each.
func closure(db map[string]*debPackage, roots []string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		p, ok := db[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		for _, alts := range p.deps {
			for _, a := range alts {
				if _, ok := db[a]; ok {
					walk(a)
					break
				}
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return seen
}

// TestContainerImageSizeEstimate estimates both images' sizes from their
// contents, as no container engine runs here: the static binary plus the
// distroless base, and the gocv binary's OpenCV runtime closure (as apt
// resolved it on this machine) minus what bookworm-slim already holds
// (approximated by the priority-required packages and apt).
func TestContainerImageSizeEstimate(t *testing.T) {
	fi, err := os.Stat(staticBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	// Published sizes (uncompressed, amd64) of the bases, for the estimate.
	const distrolessStaticMiB, bookwormSlimMiB = 2.0, 74.8
	binMiB := float64(fi.Size()) / (1 << 20)
	t.Logf("static image ≈ %.1f MiB: binary %.1f MiB + distroless/static-debian12 %.1f MiB", binMiB+distrolessStaticMiB, binMiB, distrolessStaticMiB)

	db := dpkgStatus(t)
	var runtimePkgs []string
	for _, line := range stage(t, "gocv") {
		if strings.Contains(line, "apt-get install") {
			for _, w := range strings.Fields(line) {
				if strings.HasPrefix(w, "libopencv-") {
					runtimePkgs = append(runtimePkgs, w)
				}
			}
		}
	}
	for _, p := range runtimePkgs {
		if _, ok := db[p]; !ok {
			t.Fatalf("%s is not installed here, so its dependencies cannot be measured (apt-get install -y libopencv-dev installs it)", p)
		}
	}
	var required []string
	for name, p := range db {
		if p.priority == "required" {
			required = append(required, name)
		}
	}
	base := closure(db, append(required, "apt"))
	layer := closure(db, runtimePkgs)
	kib, n := 0, 0
	var added []string
	for name := range layer {
		if !base[name] {
			kib += db[name].sizeKiB
			n++
			added = append(added, name)
		}
	}
	slices.SortFunc(added, func(a, b string) int { return db[b].sizeKiB - db[a].sizeKiB })
	var top []string
	for _, name := range added[:min(8, len(added))] {
		top = append(top, fmt.Sprintf("%s %.0f MiB", name, float64(db[name].sizeKiB)/1024))
	}
	t.Logf("largest OpenCV runtime dependencies: %s", strings.Join(top, ", "))
	layerMiB := float64(kib) / 1024
	t.Logf("gocv image ≈ %.0f MiB: bookworm-slim %.1f MiB + OpenCV runtime %.0f MiB (%d packages) + binary (about %.0f MiB)",
		bookwormSlimMiB+layerMiB+binMiB+2, bookwormSlimMiB, layerMiB, n, binMiB+2)
	if n < len(runtimePkgs) {
		t.Errorf("the OpenCV layer counted %d packages, fewer than the %d named", n, len(runtimePkgs))
	}
}
