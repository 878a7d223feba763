// Package config owns every configuration option of watchparty: its default,
// environment variable, flag, help text and validation. Values are layered
// flags > WATCHPARTY_* environment > watchparty.yaml > defaults.
package config

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the typed, validated configuration.
type Config struct {
	Listen         string
	DataDir        string
	BaseURL        string
	BasePath       string
	TrustedProxies []string
	Log            struct{ Level, Format string }
	Registration   string
	Session        struct {
		TTL          time.Duration
		SecureCookie bool
	}
	Guests struct {
		Allowed bool
		TTL     time.Duration
	}
	Limits struct {
		LoginPerMinute   int
		ChatPer10s       int
		ConnsPerIP       int
		MembersPerRoom   int
		RoomsPerUser     int
		ViewersPerStream int
		HTTPConnsPerIP   int
		// CommandsPer10s: playback and queue commands per connection.
		CommandsPer10s          int
		GuestsPerRoom           int
		GuestJoinsPerMinute     int
		RoomGuestJoinsPerMinute int
		QueueLength             int
		LinkBytes               int
		Streams                 int
		StreamsPerUser          int
		// MediaSearchesPer10s: library listings and searches per member.
		MediaSearchesPer10s int
	}
	YouTube struct{ IFrameAPIURL string }
	Media   struct {
		Dir     string
		FFmpeg  string
		FFprobe string
		// CacheMax is the byte cap of the transcode cache (parsed from
		// media.cache_max).
		CacheMax  int64
		Transcode struct {
			MaxJobs       int
			Encoder       string
			Preset        string
			VAAPIDevice   string
			Renditions    []int
			DefaultHeight int
		}
	}
	// Links: the rules for the direct links members share.
	Links struct{ AllowPrivateHosts bool }
	Sync  struct {
		DeadZoneMS             int
		SeekThresholdMS        int
		YouTubeSeekThresholdMS int
		TrimMS                 int
		CatchUpMS              int
		MaxNudgePct            int
		ReaimMS                int
		JoinCatchUpMS          int
		LeadMS                 int
		SeekLeadMS             int
		MaxLeadMS              int
		ReadyTimeout           time.Duration
	}
	Stream struct {
		Listen          string
		MaxWidth        int
		MaxPixels       int
		MaxSourcePixels int
		MaxFPS          int
		IdleTimeout     time.Duration
		JPEGQuality     int
		AllowCamera     bool
		// AllowPrivateURLs lets http(s) stream sources reach non-public addresses.
		AllowPrivateURLs bool
	}
	// Syncplay is the listener native players (mpv, VLC) join rooms
	// through (engine/syncplay).
	Syncplay struct {
		Listen          string
		PublicAddress   string
		TokenTTL        time.Duration
		MaxConnections  int
		ConnsPerIP      int
		HelloTimeout    time.Duration
		IdleTimeout     time.Duration
		MaxLine         int
		SeekThresholdMS int
	}
	WebRTC struct {
		Enabled          bool
		UDPPort          int
		PublicIPs        []string
		STUNServers      []string
		TURNServers      []string
		TURNUsername     string
		TURNPassword     string
		MaxPeersPerRoom  int
		MaxTracksPerPeer int
	}
	TLS struct {
		CertFile string
		KeyFile  string
	}
	Metrics struct {
		Enabled bool
		Listen  string
	}

	// Debug holds what an operator turns on to look inside the server.
	Debug struct {
		PprofListen string
	}

	// File is the configuration file that was read, empty when none.
	File string
	// values holds the effective value of every key, for Print.
	values map[string]any
	// origin tells where each value came from: default, file, env or flag.
	origin map[string]string
}

// Source says where configuration comes from. Env is in os.Environ form and
// is passed as a value so that tests never touch the process environment.
type Source struct {
	File  string            // path of a YAML file; empty for none
	Env   []string          // KEY=VALUE pairs; only WATCHPARTY_* are read
	Flags map[string]string // option key -> raw flag value, only flags that were set
}

// EnvConfigFile names the environment variable that may point at the config file.
const EnvConfigFile = "WATCHPARTY_CONFIG"

// Error is a configuration error naming the key, the value and what is allowed.
type Error struct {
	Key     string // option key, or the unknown key / variable
	From    string // "file", "env" or "flag"
	Value   string
	Allowed string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Err != nil && e.Allowed == "" && e.Value == "":
		fmt.Fprintf(&b, "config: %s (from %s): %v", e.Key, e.From, e.Err)
	default:
		fmt.Fprintf(&b, "config: %s = %q (from %s): %v", e.Key, e.Value, e.From, e.Err)
		// What is allowed, unless the check's own words already said it.
		if e.Allowed != "" && (e.Err == nil || !strings.Contains(e.Err.Error(), e.Allowed)) {
			fmt.Fprintf(&b, "; allowed: %s", e.Allowed)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownKey is wrapped by errors about keys no option has.
var ErrUnknownKey = errors.New("unknown key")

func lookup(key string) (Option, bool) {
	for _, o := range options {
		if o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

// Defaults returns the configuration with every option at its default.
// The error is only ever non-nil if the option table itself is wrong.
func Defaults() (*Config, error) { return Load(Source{}) }

// Load builds the configuration from its sources and validates it.
func Load(src Source) (*Config, error) {
	cfg := &Config{values: map[string]any{}, origin: map[string]string{}}
	raw := map[string]any{}
	from := map[string]string{}
	for _, o := range options {
		raw[o.Key] = o.Default
		from[o.Key] = "default"
	}

	file := src.File
	if file == "" {
		file = envValue(src.Env, EnvConfigFile)
	}
	if file != "" {
		fv := viper.New()
		fv.SetConfigFile(file)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", file, err)
		}
		keys := fv.AllKeys()
		sort.Strings(keys)
		for _, k := range keys {
			o, ok := lookup(k)
			if !ok {
				return nil, &Error{Key: k, From: "file " + file, Err: fmt.Errorf("%w; see watchparty.yaml for every key", ErrUnknownKey)}
			}
			raw[o.Key] = fv.Get(k)
			from[o.Key] = "file"
		}
		cfg.File = file
	}

	envNames := map[string]Option{}
	for _, o := range options {
		envNames[o.Env()] = o
	}
	for _, kv := range src.Env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "WATCHPARTY_") || name == EnvConfigFile {
			continue
		}
		o, known := envNames[name]
		if !known {
			return nil, &Error{Key: name, From: "env", Err: fmt.Errorf("%w: no option has this environment variable", ErrUnknownKey)}
		}
		raw[o.Key] = val
		from[o.Key] = "env"
	}

	flagKeys := make([]string, 0, len(src.Flags))
	for k := range src.Flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		o, ok := lookup(k)
		if !ok {
			return nil, &Error{Key: k, From: "flag", Err: ErrUnknownKey}
		}
		raw[o.Key] = src.Flags[k]
		from[o.Key] = "flag"
	}

	for _, o := range options {
		val, err := convert(o, raw[o.Key])
		if err != nil {
			return nil, &Error{Key: o.Key, From: from[o.Key], Value: show(raw[o.Key]), Allowed: allowed(o), Err: err}
		}
		if o.Check != nil {
			if err := o.Check(val); err != nil {
				return nil, &Error{Key: o.Key, From: from[o.Key], Value: show(raw[o.Key]), Allowed: o.Allowed, Err: err}
			}
		}
		o.set(cfg, val)
		cfg.values[o.Key] = val
		cfg.origin[o.Key] = from[o.Key]
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks options that depend on each other.
func (c *Config) Validate() error {
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return &Error{Key: "tls.cert_file", From: c.origin["tls.cert_file"], Value: c.TLS.CertFile,
			Err: errors.New("tls.cert_file and tls.key_file must be set together")}
	}
	if c.Sync.DeadZoneMS >= c.Sync.SeekThresholdMS {
		return &Error{Key: "sync.dead_zone_ms", From: c.origin["sync.dead_zone_ms"], Value: strconv.Itoa(c.Sync.DeadZoneMS),
			Err: fmt.Errorf("must be below sync.seek_threshold_ms (%d)", c.Sync.SeekThresholdMS)}
	}
	if c.Sync.DeadZoneMS >= c.Sync.YouTubeSeekThresholdMS {
		return &Error{Key: "sync.dead_zone_ms", From: c.origin["sync.dead_zone_ms"], Value: strconv.Itoa(c.Sync.DeadZoneMS),
			Err: fmt.Errorf("must be below sync.youtube_seek_threshold_ms (%d)", c.Sync.YouTubeSeekThresholdMS)}
	}
	if c.Sync.TrimMS >= c.Sync.DeadZoneMS {
		return &Error{Key: "sync.trim_ms", From: c.origin["sync.trim_ms"], Value: strconv.Itoa(c.Sync.TrimMS),
			Err: fmt.Errorf("must be below sync.dead_zone_ms (%d)", c.Sync.DeadZoneMS)}
	}
	if c.Stream.Listen != "" && c.Stream.Listen == c.Listen {
		return &Error{Key: "stream.listen", From: c.origin["stream.listen"], Value: c.Stream.Listen,
			Err: errors.New("must differ from listen")}
	}
	if c.Metrics.Listen != "" && c.Metrics.Listen == c.Listen {
		return &Error{Key: "metrics.listen", From: c.origin["metrics.listen"], Value: c.Metrics.Listen,
			Err: errors.New("must differ from listen")}
	}
	return nil
}

func allowed(o Option) string {
	if o.Allowed != "" {
		return o.Allowed
	}
	switch o.Kind {
	case Bool:
		return "true or false"
	case Int:
		return "an integer"
	case Duration:
		return "a duration such as 30s, 5m or 24h"
	case List:
		return "a list of strings (comma-separated in env and flags)"
	}
	return "a string"
}

func show(v any) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, ",")
	case []any:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = fmt.Sprint(x[i])
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// convert turns a raw value (typed from YAML, or a string from env and flags)
// into the option's kind, strictly: "maybe" is not a boolean (true/false,
// 1/0, on/off and yes/no are), 10 is not a duration, 1.5 is not an integer.
func convert(o Option, v any) (any, error) {
	switch o.Kind {
	case String:
		return toString(v)
	case Int:
		return toInt(v)
	case Bool:
		return toBool(v)
	case Duration:
		return toDuration(v)
	case List:
		return toList(v)
	}
	return nil, fmt.Errorf("unsupported kind %v", o.Kind)
}

func toString(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	}
	return nil, errors.New("must be a string")
}

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err == nil {
			return n, nil
		}
	}
	return nil, errors.New("must be an integer")
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "on", "yes":
			return true, nil
		case "false", "0", "off", "no", "":
			return false, nil
		}
	}
	return nil, errors.New("must be true or false")
}

func toDuration(v any) (any, error) {
	switch x := v.(type) {
	case time.Duration:
		return x, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err == nil {
			return d, nil
		}
	}
	return nil, errors.New("must be a duration with a unit, such as 30s, 5m or 24h")
}

func toList(v any) (any, error) {
	switch x := v.(type) {
	case []string:
		return append([]string{}, x...), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("must be a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	case string:
		out := []string{}
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case nil:
		return []string{}, nil
	}
	return nil, errors.New("must be a list of strings")
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// Value returns the effective value of a key.
func (c *Config) Value(key string) any { return c.values[key] }

// Origin tells where a key's value came from: default, file, env or flag.
func (c *Config) Origin(key string) string { return c.origin[key] }

// Print writes the effective configuration as YAML-like lines, secrets redacted.
func (c *Config) Print(w io.Writer) error {
	if c.File != "" {
		fmt.Fprintf(w, "# file: %s\n", c.File)
	} else {
		fmt.Fprintln(w, "# file: none (defaults, environment and flags)")
	}
	for _, o := range options {
		val := c.values[o.Key]
		s := formatValue(o, val)
		if o.Secret && show(val) != "" {
			s = `"<redacted>"`
		}
		if _, err := fmt.Fprintf(w, "%s: %s  # %s\n", o.Key, s, c.origin[o.Key]); err != nil {
			return err
		}
	}
	return nil
}

func formatValue(o Option, v any) string {
	switch o.Kind {
	case String:
		return strconv.Quote(v.(string))
	case List:
		l := v.([]string)
		q := make([]string, len(l))
		for i := range l {
			q[i] = strconv.Quote(l[i])
		}
		return "[" + strings.Join(q, ", ") + "]"
	case Duration:
		return v.(time.Duration).String()
	}
	return fmt.Sprint(v)
}

// RegisterFlags adds a flag for every option to fs. The returned function
// gives the raw values of the flags that were set, for Source.Flags.
func RegisterFlags(fs *pflag.FlagSet) func() map[string]string {
	vals := map[string]*string{}
	for _, o := range options {
		vals[o.Key] = fs.String(o.Flag(), "", fmt.Sprintf("%s (%s, default %s, env %s)", o.Help, o.Kind, show(o.Default), o.Env()))
		if o.Kind == Bool {
			// A bare --webrtc.enabled means true, as with any boolean flag.
			fs.Lookup(o.Flag()).NoOptDefVal = "true"
		}
	}
	return func() map[string]string {
		out := map[string]string{}
		fs.Visit(func(f *pflag.Flag) {
			if p, ok := vals[f.Name]; ok {
				out[f.Name] = *p
			}
		})
		return out
	}
}
