package packaging_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "systemd/watchparty.service"

// unitDirectives reads a unit file into section.Key -> values.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a directive: %q", path, line)
		}
		out[section+"."+k] = append(out[section+"."+k], v)
	}
	return out
}

func TestSystemdUnitHardening(t *testing.T) {
	d := unitDirectives(t, unitFile)
	tests := []struct {
		key, want string
	}{
		{"Service.Type", "notify"},
		{"Service.NotifyAccess", "main"},
		{"Service.WatchdogSec", "30"},
		{"Service.ExecStart", "/usr/bin/watchparty serve --config /etc/watchparty/watchparty.yaml"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.User", "watchparty"},
		{"Service.StateDirectory", "watchparty"},
		{"Service.Environment", "WATCHPARTY_DATA_DIR=/var/lib/watchparty"},
		{"Service.LimitNOFILE", "65536"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.AmbientCapabilities", ""},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"},
		{"Service.SystemCallFilter", "@system-service"},
		{"Service.SystemCallArchitectures", "native"},
		{"Service.LockPersonality", "yes"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			vals, ok := d[tt.key]
			if !ok {
				t.Fatalf("%s is not set", tt.key)
			}
			if vals[len(vals)-1] != tt.want {
				t.Errorf("%s=%q, want %q", tt.key, vals[len(vals)-1], tt.want)
			}
		})
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointing at a freshly built binary (verify checks that the
// command exists). Any message, even a warning, fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	sa := need(t, "systemd-analyze", "systemd")
	bin := staticBinary(t)
	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(src), "/usr/bin/watchparty", bin)
	dir := t.TempDir()
	path := filepath.Join(dir, "watchparty.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runErr(dir, nil, sa, "verify", path)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The check has teeth: a misspelt value is reported.
	bad := strings.Replace(unit, "ProtectSystem=strict", "ProtectSystem=strickt", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := runErr(dir, nil, sa, "verify", path); !strings.Contains(out, "strickt") {
		t.Errorf("systemd-analyze verify did not notice a bad value: %q", out)
	}
}
