package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite ../watchparty.yaml from the option table")

// writeFile writes a YAML file into a temporary directory and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "watchparty.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, src Source) *Config {
	t.Helper()
	c, err := Load(src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c, err := Defaults()
	if err != nil {
		t.Fatalf("the option table's defaults do not validate: %v", err)
	}
	if c.Listen != ":8080" || c.DataDir != "./data" || c.Registration != "open" || c.Session.TTL != 30*24*time.Hour {
		t.Errorf("unexpected defaults: listen %q data_dir %q registration %q session.ttl %s", c.Listen, c.DataDir, c.Registration, c.Session.TTL)
	}
	for _, o := range Options() {
		if got := c.Origin(o.Key); got != "default" {
			t.Errorf("%s: origin %q, want default", o.Key, got)
		}
		if !reflect.DeepEqual(c.Value(o.Key), o.Default) {
			t.Errorf("%s: value %#v, want the table default %#v", o.Key, c.Value(o.Key), o.Default)
		}
	}
}

func TestOptionTable(t *testing.T) {
	seenKey := map[string]bool{}
	seenEnv := map[string]string{}
	for _, o := range Options() {
		if seenKey[o.Key] {
			t.Errorf("%s: duplicate key", o.Key)
		}
		seenKey[o.Key] = true
		if other, ok := seenEnv[o.Env()]; ok {
			t.Errorf("%s and %s share the environment variable %s", o.Key, other, o.Env())
		}
		seenEnv[o.Env()] = o.Key
		if strings.TrimSpace(o.Help) == "" {
			t.Errorf("%s: no help text", o.Key)
		}
		if o.Check != nil && o.Allowed == "" {
			t.Errorf("%s: has a check but no description of the allowed values", o.Key)
		}
		if o.Key != strings.ToLower(o.Key) {
			t.Errorf("%s: keys are lower case (viper folds case)", o.Key)
		}
		if strings.Count(o.Key, ".") > 2 {
			t.Errorf("%s: keys have at most two levels of sections", o.Key)
		}
		for _, other := range Options() {
			if strings.HasPrefix(other.Key, o.Key+".") {
				t.Errorf("%s is both a key and a section of %s", o.Key, other.Key)
			}
		}
	}
}

// TestPrecedence checks flag > env > file > default for one key of each kind.
func TestPrecedence(t *testing.T) {
	cases := []struct {
		name, key             string
		file, env, flag       string // raw values; file is YAML
		wantFile, wantEnv     any
		wantFlag, wantDefault any
	}{
		{name: "string", key: "log.level", file: "warn", env: "error", flag: "debug",
			wantDefault: "info", wantFile: "warn", wantEnv: "error", wantFlag: "debug"},
		{name: "int", key: "limits.login_per_minute", file: "20", env: "30", flag: "40",
			wantDefault: 10, wantFile: 20, wantEnv: 30, wantFlag: 40},
		{name: "bool", key: "session.secure_cookie", file: "true", env: "false", flag: "true",
			wantDefault: false, wantFile: true, wantEnv: false, wantFlag: true},
		{name: "duration", key: "session.ttl", file: "48h", env: "2h30m", flag: "15m",
			wantDefault: 30 * 24 * time.Hour, wantFile: 48 * time.Hour, wantEnv: 150 * time.Minute, wantFlag: 15 * time.Minute},
		{name: "list", key: "trusted_proxies", file: "[10.0.0.1, 10.1.0.0/16]", env: "192.168.1.1, 192.168.2.0/24", flag: "127.0.0.1",
			wantDefault: []string{}, wantFile: []string{"10.0.0.1", "10.1.0.0/16"}, wantEnv: []string{"192.168.1.1", "192.168.2.0/24"}, wantFlag: []string{"127.0.0.1"}},
		{name: "top-level string", key: "listen", file: `"127.0.0.1:9000"`, env: ":9001", flag: "[::1]:9002",
			wantDefault: ":8080", wantFile: "127.0.0.1:9000", wantEnv: ":9001", wantFlag: "[::1]:9002"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := lookup(tc.key)
			if !ok {
				t.Fatalf("no option %s", tc.key)
			}
			file := writeFile(t, yamlFor(tc.key, tc.file))
			env := []string{o.Env() + "=" + tc.env, "HOME=/root", "PATH=/usr/bin"}
			flags := map[string]string{tc.key: tc.flag}

			steps := []struct {
				layer  string
				src    Source
				want   any
				origin string
			}{
				{"defaults", Source{}, tc.wantDefault, "default"},
				{"file", Source{File: file}, tc.wantFile, "file"},
				{"env over file", Source{File: file, Env: env}, tc.wantEnv, "env"},
				{"flag over env and file", Source{File: file, Env: env, Flags: flags}, tc.wantFlag, "flag"},
				{"flag over file", Source{File: file, Flags: flags}, tc.wantFlag, "flag"},
				{"env without file", Source{Env: env}, tc.wantEnv, "env"},
			}
			for _, st := range steps {
				c := mustLoad(t, st.src)
				if got := c.Value(tc.key); !reflect.DeepEqual(got, st.want) {
					t.Errorf("%s: %s = %#v, want %#v", st.layer, tc.key, got, st.want)
				}
				if got := c.Origin(tc.key); got != st.origin {
					t.Errorf("%s: origin %q, want %q", st.layer, got, st.origin)
				}
			}
		})
	}
}

// yamlFor writes "a.b: v" as a nested YAML mapping.
func yamlFor(key, val string) string {
	if sec, k, ok := strings.Cut(key, "."); ok {
		return fmt.Sprintf("%s:\n  %s: %s\n", sec, k, val)
	}
	return fmt.Sprintf("%s: %s\n", key, val)
}

// TestTypedFields checks that values land in the typed Config, not only in Value.
func TestTypedFields(t *testing.T) {
	file := writeFile(t, `
listen: 127.0.0.1:7000
data_dir: /var/lib/watchparty
registration: invite
trusted_proxies: [10.0.0.0/8]
session:
  ttl: 2h
  secure_cookie: true
limits:
  login_per_minute: 3
webrtc:
  enabled: true
  public_ips: [203.0.113.7]
  turn_password: s3cret
sync:
  ready_timeout: 20s
`)
	c := mustLoad(t, Source{File: file, Env: []string{"WATCHPARTY_GUESTS_ALLOWED=false", "WATCHPARTY_STREAM_LISTEN=127.0.0.1:7001"}})
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:7000"},
		{"data_dir", c.DataDir, "/var/lib/watchparty"},
		{"registration", c.Registration, "invite"},
		{"trusted_proxies", c.TrustedProxies, []string{"10.0.0.0/8"}},
		{"session.ttl", c.Session.TTL, 2 * time.Hour},
		{"session.secure_cookie", c.Session.SecureCookie, true},
		{"limits.login_per_minute", c.Limits.LoginPerMinute, 3},
		{"webrtc.enabled", c.WebRTC.Enabled, true},
		{"webrtc.public_ips", c.WebRTC.PublicIPs, []string{"203.0.113.7"}},
		{"webrtc.turn_password", c.WebRTC.TURNPassword, "s3cret"},
		{"sync.ready_timeout", c.Sync.ReadyTimeout, 20 * time.Second},
		{"guests.allowed", c.Guests.Allowed, false},
		{"stream.listen", c.Stream.Listen, "127.0.0.1:7001"},
		{"file", c.File, file},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestEnvOnlyKeys(t *testing.T) {
	// A file that sets other keys, and keys that only the environment sets:
	// every one of them must reach the Config.
	file := writeFile(t, "listen: :9999\n")
	c := mustLoad(t, Source{File: file, Env: []string{
		"WATCHPARTY_SESSION_TTL=1h",
		"WATCHPARTY_LIMITS_CHAT_PER_10S=5",
		"WATCHPARTY_WEBRTC_TURN_SERVERS=turn:a.example:3478, turn:b.example:3478",
		"WATCHPARTY_METRICS_ENABLED=false",
		"UNRELATED=1",
	}})
	if c.Session.TTL != time.Hour {
		t.Errorf("session.ttl = %s, want 1h", c.Session.TTL)
	}
	if c.Limits.ChatPer10s != 5 {
		t.Errorf("limits.chat_per_10s = %d, want 5", c.Limits.ChatPer10s)
	}
	if want := []string{"turn:a.example:3478", "turn:b.example:3478"}; !reflect.DeepEqual(c.WebRTC.TURNServers, want) {
		t.Errorf("webrtc.turn_servers = %q, want %q", c.WebRTC.TURNServers, want)
	}
	if c.Metrics.Enabled {
		t.Error("metrics.enabled stayed true")
	}
	if c.Listen != ":9999" || c.Origin("listen") != "file" {
		t.Errorf("listen = %q from %s, want :9999 from file", c.Listen, c.Origin("listen"))
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	file := writeFile(t, "registration: closed\n")
	c := mustLoad(t, Source{Env: []string{EnvConfigFile + "=" + file}})
	if c.Registration != "closed" || c.File != file {
		t.Errorf("registration %q, file %q: WATCHPARTY_CONFIG was not read", c.Registration, c.File)
	}
	// An explicit file wins over the variable.
	other := writeFile(t, "registration: invite\n")
	c = mustLoad(t, Source{File: other, Env: []string{EnvConfigFile + "=" + file}})
	if c.Registration != "invite" {
		t.Errorf("registration %q, want invite from the explicit file", c.Registration)
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(Source{File: missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Load of a missing file: %v; want an error naming the file", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	cases := []struct {
		name, yaml, key string
	}{
		{"top level", "listen: :8080\ncolour: red\n", "colour"},
		{"nested", "log:\n  level: debug\n  colour: red\n", "log.colour"},
		{"typo in section", "limits:\n  login_per_mintue: 5\n", "limits.login_per_mintue"},
		{"unknown section", "database:\n  url: x\n", "database.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{File: writeFile(t, tc.yaml)})
			if err == nil {
				t.Fatal("Load accepted an unknown key")
			}
			if !errors.Is(err, ErrUnknownKey) {
				t.Errorf("error %v does not wrap ErrUnknownKey", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Errorf("error %v: want a *config.Error for key %q", err, tc.key)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q does not name the key %q", err, tc.key)
			}
		})
	}

	t.Run("env", func(t *testing.T) {
		_, err := Load(Source{Env: []string{"WATCHPARTY_LISTN=:9000"}})
		if err == nil || !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "WATCHPARTY_LISTN") {
			t.Fatalf("unknown variable: %v; want an unknown-key error naming WATCHPARTY_LISTN", err)
		}
	})
	t.Run("flag", func(t *testing.T) {
		_, err := Load(Source{Flags: map[string]string{"lissten": ":1"}})
		if err == nil || !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "lissten") {
			t.Fatalf("unknown flag key: %v", err)
		}
	})
	t.Run("other variables are ignored", func(t *testing.T) {
		mustLoad(t, Source{Env: []string{"LISTEN=x", "WATCHPARTYLISTEN=y", "watchparty_listen=z", "NOEQUALS"}})
	})
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		name    string
		src     func(t *testing.T) Source
		key     string
		value   string
		allowed string // part of the allowed-values text
	}{
		{"int from env", envSrc("WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=ten"), "limits.login_per_minute", "ten", "an integer from 1 to 10000"},
		{"int out of range", envSrc("WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=0"), "limits.login_per_minute", "0", "an integer from 1 to 10000"},
		{"float in file", fileSrc("limits:\n  login_per_minute: 1.5\n"), "limits.login_per_minute", "1.5", "an integer"},
		{"bool from env", envSrc("WATCHPARTY_SESSION_SECURE_COOKIE=maybe"), "session.secure_cookie", "maybe", "true or false"},
		{"bool in file", fileSrc("webrtc:\n  enabled: sometimes\n"), "webrtc.enabled", "sometimes", "true or false"},
		{"duration without unit from env", envSrc("WATCHPARTY_SESSION_TTL=10"), "session.ttl", "10", "a duration from 5m to 8760h"},
		{"duration without unit in file", fileSrc("session:\n  ttl: 10\n"), "session.ttl", "10", "a duration from 5m to 8760h"},
		{"duration too short", flagSrc("session.ttl", "1s"), "session.ttl", "1s", "a duration from 5m to 8760h"},
		{"listen address without port", envSrc("WATCHPARTY_LISTEN=localhost"), "listen", "localhost", "a listen address host:port"},
		{"listen address from flag", flagSrc("listen", "8080"), "listen", "8080", "a listen address host:port"},
		{"enum", envSrc("WATCHPARTY_REGISTRATION=public"), "registration", "public", "one of open, invite, closed"},
		{"enum in file", fileSrc("log:\n  format: xml\n"), "log.format", "xml", "one of text, json"},
		{"cidr", envSrc("WATCHPARTY_TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/33"), "trusted_proxies", "10.0.0.0/33", "a list of IP addresses or CIDR ranges"},
		{"cidr in file", fileSrc("trusted_proxies: [not-an-ip]\n"), "trusted_proxies", "not-an-ip", "a list of IP addresses or CIDR ranges"},
		{"ip list", envSrc("WATCHPARTY_WEBRTC_PUBLIC_IPS=203.0.113.300"), "webrtc.public_ips", "203.0.113.300", "a list of IP addresses"},
		{"url", envSrc("WATCHPARTY_BASE_URL=example.org"), "base_url", "example.org", "an absolute http(s) URL"},
		{"base path", envSrc("WATCHPARTY_BASE_PATH=watch/"), "base_path", "watch/", "empty or a path like /watch"},
		{"port", envSrc("WATCHPARTY_WEBRTC_UDP_PORT=70000"), "webrtc.udp_port", "70000", "an integer from 0 to 65535"},
		{"empty data dir", envSrc("WATCHPARTY_DATA_DIR= "), "data_dir", " ", "a directory path"},
		{"profiler on every address", envSrc("WATCHPARTY_DEBUG_PPROF_LISTEN=:6060"), "debug.pprof_listen", ":6060", "a loopback address"},
		{"profiler on a public address", flagSrc("debug.pprof_listen", "192.0.2.1:6060"), "debug.pprof_listen", "192.0.2.1:6060", "a loopback address"},
		{"profiler on a host name", flagSrc("debug.pprof_listen", "example.org:6060"), "debug.pprof_listen", "example.org:6060", "a loopback address"},
		{"list of maps", fileSrc("trusted_proxies:\n  - a: b\n"), "trusted_proxies", "", "a list of IP addresses or CIDR ranges"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.src(t))
			if err == nil {
				t.Fatal("Load accepted a bad value")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			msg := err.Error()
			if ce.Key != tc.key || !strings.Contains(msg, tc.key) {
				t.Errorf("message %q: want key %q (got key %q)", msg, tc.key, ce.Key)
			}
			if tc.value != "" && !strings.Contains(msg, strconv.Quote(tc.value)) && !strings.Contains(msg, tc.value) {
				t.Errorf("message %q does not show the value %q", msg, tc.value)
			}
			if !strings.Contains(msg, tc.allowed) {
				t.Errorf("message %q does not say what is allowed (%q)", msg, tc.allowed)
			}
			if n := strings.Count(msg, ce.Allowed); n != 1 {
				t.Errorf("message %q says what is allowed %d times", msg, n)
			}
		})
	}
}

func envSrc(kv ...string) func(*testing.T) Source {
	return func(*testing.T) Source { return Source{Env: kv} }
}

func fileSrc(yaml string) func(*testing.T) Source {
	return func(t *testing.T) Source { return Source{File: writeFile(t, yaml)} }
}

func flagSrc(key, val string) func(*testing.T) Source {
	return func(*testing.T) Source { return Source{Flags: map[string]string{key: val}} }
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		key  string
		text string
	}{
		{"tls cert without key", []string{"WATCHPARTY_TLS_CERT_FILE=/etc/cert.pem"}, "tls.cert_file", "tls.cert_file and tls.key_file must be set together"},
		{"tls key without cert", []string{"WATCHPARTY_TLS_KEY_FILE=/etc/key.pem"}, "tls.cert_file", "must be set together"},
		{"dead zone above seek threshold", []string{"WATCHPARTY_SYNC_DEAD_ZONE_MS=2000"}, "sync.dead_zone_ms", "must be below sync.seek_threshold_ms"},
		{"dead zone above youtube threshold", []string{"WATCHPARTY_SYNC_DEAD_ZONE_MS=500"}, "sync.dead_zone_ms", "must be below sync.youtube_seek_threshold_ms"},
		{"trim above dead zone", []string{"WATCHPARTY_SYNC_TRIM_MS=40"}, "sync.trim_ms", "must be below sync.dead_zone_ms"},
		{"stream on the http address", []string{"WATCHPARTY_LISTEN=:9000", "WATCHPARTY_STREAM_LISTEN=:9000"}, "stream.listen", "must differ from listen"},
		{"metrics on the http address", []string{"WATCHPARTY_METRICS_LISTEN=:8080"}, "metrics.listen", "must differ from listen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Source{Env: tc.env})
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("error %v; want a *config.Error for %s", err, tc.key)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("message %q lacks %q", err, tc.text)
			}
		})
	}
	mustLoad(t, Source{Env: []string{"WATCHPARTY_TLS_CERT_FILE=/c.pem", "WATCHPARTY_TLS_KEY_FILE=/k.pem"}})
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0"} {
		mustLoad(t, Source{Flags: map[string]string{"debug.pprof_listen": addr}})
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	file := writeFile(t, "webrtc:\n  turn_password: hunter2-secret\n")
	c := mustLoad(t, Source{File: file, Env: []string{"WATCHPARTY_LOG_LEVEL=debug"}, Flags: map[string]string{"listen": ":9100"}})
	var b strings.Builder
	if err := c.Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "hunter2") {
		t.Errorf("Print shows the TURN password:\n%s", out)
	}
	for _, want := range []string{
		"# file: " + file,
		`webrtc.turn_password: "<redacted>"  # file`,
		`log.level: "debug"  # env`,
		`listen: ":9100"  # flag`,
		`registration: "open"  # default`,
		"session.ttl: 720h0m0s  # default",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
	// Every option is printed.
	for _, o := range Options() {
		if !strings.Contains(out, "\n"+o.Key+": ") {
			t.Errorf("Print output lacks %s", o.Key)
		}
	}
	// An empty secret is shown as empty, so an operator sees it is unset.
	c = mustLoad(t, Source{})
	b.Reset()
	_ = c.Print(&b)
	if !strings.Contains(b.String(), `webrtc.turn_password: ""  # default`) {
		t.Errorf("an unset secret should print as empty:\n%s", b.String())
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	set := RegisterFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9200", "--session.ttl=3h", "--webrtc.enabled", "--trusted_proxies", "10.0.0.1,10.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, Source{Env: []string{"WATCHPARTY_LISTEN=:1"}, Flags: set()})
	if c.Listen != "127.0.0.1:9200" || c.Session.TTL != 3*time.Hour || !c.WebRTC.Enabled {
		t.Errorf("flags not applied: listen %q ttl %s webrtc %v", c.Listen, c.Session.TTL, c.WebRTC.Enabled)
	}
	if want := []string{"10.0.0.1", "10.0.0.2"}; !reflect.DeepEqual(c.TrustedProxies, want) {
		t.Errorf("trusted_proxies = %q, want %q", c.TrustedProxies, want)
	}
	if got := c.Origin("log.level"); got != "default" {
		t.Errorf("an unset flag changed log.level (origin %s)", got)
	}
	// Every option has a flag whose help names its environment variable.
	for _, o := range Options() {
		f := fs.Lookup(o.Flag())
		if f == nil {
			t.Errorf("no flag for %s", o.Key)
			continue
		}
		if !strings.Contains(f.Usage, o.Env()) {
			t.Errorf("flag --%s: usage %q does not name %s", o.Key, f.Usage, o.Env())
		}
	}
}

// sampleFile is the documented configuration file at the top of the repository.
const sampleFile = "../watchparty.yaml"

// TestSampleFile keeps watchparty.yaml in step with the option table: it must
// be exactly what sampleYAML renders (run `go test ./config -update` after
// changing the table), parse cleanly, set every option, and set each to its
// default.
func TestSampleFile(t *testing.T) {
	want := sampleYAML()
	if *update {
		if err := os.WriteFile(sampleFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./config -run TestSampleFile -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale; regenerate it with: go test ./config -run TestSampleFile -update\n%s", sampleFile, firstDiff(string(got), want))
	}

	c, err := Load(Source{File: sampleFile})
	if err != nil {
		t.Fatalf("the sample file does not load: %v", err)
	}
	def, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range Options() {
		if c.Origin(o.Key) != "file" {
			t.Errorf("%s is missing from %s", o.Key, sampleFile)
		}
		if !reflect.DeepEqual(c.Value(o.Key), def.Value(o.Key)) {
			t.Errorf("%s: the sample file says %#v, the default is %#v", o.Key, c.Value(o.Key), def.Value(o.Key))
		}
		if !strings.Contains(string(got), "# Env: "+o.Env()+"\n") {
			t.Errorf("%s: the sample file does not name %s", o.Key, o.Env())
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  file:  %q\n  table: %q", i+1, x, y)
		}
	}
	return ""
}

// sampleYAML renders the documented configuration file from the option table:
// every key at its default, with its help, allowed values and environment
// variable as comments. Sections are grouped in table order.
func sampleYAML() string {
	var b strings.Builder
	b.WriteString(`# watchparty configuration.
#
# Every key is listed here at its default value, so this file changes nothing
# until you edit it. Use it with:  watchparty --config watchparty.yaml
# (or WATCHPARTY_CONFIG=watchparty.yaml). Without a file the server runs on
# the same defaults.
#
# Each key can also be set by an environment variable (named on its "Env:" line)
# and by a command-line flag named like the key (--log.level debug). Precedence:
# flags > environment > this file > defaults. Durations need a unit (30s, 5m,
# 24h); lists are YAML lists here and comma-separated in the environment and
# flags. An unknown key or an invalid value stops start-up with a message that
# names the key, the value and what is allowed.
#
# This file is generated from the option table in config/options.go by
# "go test ./config -run TestSampleFile -update"; a test fails when it is stale.
`)
	var order []string
	groups := map[string][]Option{}
	for _, o := range Options() {
		sec, _, nested := strings.Cut(o.Key, ".")
		if !nested {
			sec = ""
		}
		if _, ok := groups[sec]; !ok {
			order = append(order, sec)
		}
		groups[sec] = append(groups[sec], o)
	}
	// Top-level keys first, then the sections.
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "" && order[j] != "" })
	for _, sec := range order {
		indent := ""
		if sec != "" {
			b.WriteString("\n" + sec + ":\n")
			indent = "  "
		}
		sub := ""
		for i, o := range groups[sec] {
			if sec == "" || i > 0 {
				b.WriteString("\n")
			}
			// A third level (media.transcode.max_jobs) nests once more.
			if rest := strings.TrimPrefix(o.Key, sec+"."); sec != "" && strings.Contains(rest, ".") {
				if s, _, _ := strings.Cut(rest, "."); s != sub {
					sub = s
					b.WriteString("  " + sub + ":\n")
				}
				indent = "    "
			} else if sec != "" {
				sub, indent = "", "  "
			}
			name := o.Key[strings.LastIndexByte(o.Key, '.')+1:]
			help := strings.ToUpper(o.Help[:1]) + o.Help[1:]
			fmt.Fprintf(&b, "%s# %s.\n", indent, strings.TrimSuffix(help, "."))
			fmt.Fprintf(&b, "%s# Allowed: %s.\n", indent, allowed(o))
			if o.Secret {
				fmt.Fprintf(&b, "%s# Secret: shown as <redacted> by `watchparty config`.\n", indent)
			}
			fmt.Fprintf(&b, "%s# Env: %s\n", indent, o.Env())
			fmt.Fprintf(&b, "%s%s: %s\n", indent, name, sampleValue(o))
		}
	}
	return b.String()
}

func sampleValue(o Option) string {
	switch o.Kind {
	case String:
		return strconv.Quote(o.Default.(string))
	case List:
		l := o.Default.([]string)
		q := make([]string, len(l))
		for i := range l {
			q[i] = strconv.Quote(l[i])
		}
		return "[" + strings.Join(q, ", ") + "]"
	case Duration:
		return shortDuration(o.Default.(time.Duration))
	}
	return fmt.Sprint(o.Default)
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10GiB", 10 << 30, true}, {"500MiB", 500 << 20, true}, {"2TB", 2e12, true}, {"1.5G", 3 << 29, true},
		{"64 MB", 64e6, true}, {"123", 123, true}, {"", 0, false}, {"-1GiB", 0, false}, {"10 parsecs", 0, false},
		{"1e3GiB", 0, false}, {"99999999999TiB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
	if _, err := Load(Source{Flags: map[string]string{"media.cache_max": "1MiB"}}); err == nil || !strings.Contains(err.Error(), "at least 16MiB") {
		t.Errorf("a 1MiB cache: %v", err)
	}
}
