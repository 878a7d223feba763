package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad writes arbitrary content to a YAML file and loads it: Load never
// panics, and every error is a *config.Error or a read error naming the file.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"", "listen: \":8080\"\n", "limits:\n  conns_per_ip: 64\n  chat_per_10s: 0\n",
		"session:\n  ttl: 10\n", "webrtc:\n  public_ips: [1.2.3.4, nope]\n", "unknown_key: 1\n",
		"listen: [1, 2]\n", "log: {level: loud}\n", ":\n- -\n  : ]\n", "data_dir: !!binary AAAA\n",
		"a: &x [*x]\n", "sync:\n  dead_zone_ms: 5000\n", "stream:\n  listen: \":8080\"\n",
		"trusted_proxies: 10.0.0.0/8\n", "guests:\n  allowed: maybe\n", "\xff\xfe\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "watchparty.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Source{File: path})
		if err == nil {
			if cfg == nil {
				t.Fatal("no configuration and no error")
			}
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Load accepted a configuration that Validate refuses: %v", verr)
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) && !strings.Contains(err.Error(), "reading "+path) {
			t.Fatalf("error is neither a *config.Error nor a read error: %T %v", err, err)
		}
	})
}
