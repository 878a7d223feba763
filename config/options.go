package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of an option's value.
type Kind int

// The kinds of option values.
const (
	String Kind = iota
	Int
	Bool
	Duration
	List // a list of strings; comma-separated in env and flags
)

func (k Kind) String() string {
	return [...]string{"string", "integer", "boolean", "duration", "list"}[k]
}

// Option describes one configuration key: its default, its environment
// variable, its help text and how its value is validated.
type Option struct {
	Key     string // dotted key as written in watchparty.yaml
	Kind    Kind
	Default any
	Help    string
	Secret  bool               // redacted by `watchparty config`
	Check   func(v any) error  // nil when any value of Kind is valid
	Allowed string             // human description of allowed values, used in errors
	set     func(*Config, any) // stores the value into the typed Config
}

// Env is the option's environment variable name.
func (o Option) Env() string {
	return "WATCHPARTY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(o.Key))
}

// Flag is the option's command-line flag name (without dashes).
func (o Option) Flag() string { return o.Key }

func oneOf(values ...string) (func(any) error, string) {
	allowed := strings.Join(values, ", ")
	return func(v any) error {
		s := v.(string)
		for _, x := range values {
			if s == x {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", allowed)
	}, "one of " + allowed
}

func intRange(lo, hi int) (func(any) error, string) {
	desc := fmt.Sprintf("an integer from %d to %d", lo, hi)
	return func(v any) error {
		n := v.(int)
		if n < lo || n > hi {
			return fmt.Errorf("must be %s", desc)
		}
		return nil
	}, desc
}

func durRange(lo, hi time.Duration) (func(any) error, string) {
	desc := fmt.Sprintf("a duration from %s to %s (e.g. 30s, 5m, 24h)", shortDuration(lo), shortDuration(hi))
	return func(v any) error {
		d := v.(time.Duration)
		if d < lo || d > hi {
			return fmt.Errorf("must be %s", desc)
		}
		return nil
	}, desc
}

// shortDuration writes 720h rather than 720h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func listenAddr(optional bool) (func(any) error, string) {
	desc := "a listen address host:port such as :8080 or 127.0.0.1:8080"
	if optional {
		desc += ", or empty to turn it off"
	}
	return func(v any) error {
		s := v.(string)
		if s == "" && optional {
			return nil
		}
		_, port, err := net.SplitHostPort(s)
		if err != nil || port == "" {
			return fmt.Errorf("must be %s", desc)
		}
		return nil
	}, desc
}

// loopbackAddr takes an empty address or host:port whose host is a
// loopback IP or localhost: the profiler is never reachable from outside.
func loopbackAddr() (func(any) error, string) {
	desc := "empty, or a loopback address such as 127.0.0.1:6060, [::1]:6060 or localhost:6060"
	return func(v any) error {
		s := v.(string)
		if s == "" {
			return nil
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || port == "" {
			return fmt.Errorf("must be %s", desc)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("must be %s", desc)
		}
		return nil
	}, desc
}

func urlCheck(optional bool) (func(any) error, string) {
	desc := "an absolute http(s) URL"
	if optional {
		desc += ", or empty"
	}
	return func(v any) error {
		s := v.(string)
		if s == "" && optional {
			return nil
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("must be %s", desc)
		}
		return nil
	}, desc
}

func basePath(v any) error {
	s := v.(string)
	if s == "" {
		return nil
	}
	if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.ContainsAny(s, "?#% ") {
		return fmt.Errorf("must be empty or a path like /watch (leading slash, no trailing slash)")
	}
	return nil
}

func nonEmpty(v any) error {
	if strings.TrimSpace(v.(string)) == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// options is the single table of every configuration key.
var options = buildOptions() //nolint:gochecknoglobals // the option table, built once and only read

func buildOptions() []Option { //nolint:funlen // the option table: one entry per option
	regCheck, regAllowed := oneOf("open", "invite", "closed")
	lvlCheck, lvlAllowed := oneOf("debug", "info", "warn", "error")
	fmtCheck, fmtAllowed := oneOf("text", "json")
	listen, listenDesc := listenAddr(false)
	optListen, optListenDesc := listenAddr(true)
	optURL, optURLDesc := urlCheck(true)
	loopback, loopbackDesc := loopbackAddr()
	reqURL, reqURLDesc := urlCheck(false)
	ttl, ttlDesc := durRange(5*time.Minute, 365*24*time.Hour)
	spTTL, spTTLDesc := durRange(time.Minute, 30*24*time.Hour)
	spConns, spConnsDesc := intRange(1, 100000)
	spPerIP, spPerIPDesc := intRange(1, 1000)
	spHello, spHelloDesc := durRange(time.Second, 5*time.Minute)
	spIdle, spIdleDesc := durRange(5*time.Second, 10*time.Minute)
	spLine, spLineDesc := intRange(4096, 1<<20)
	spSeek, spSeekDesc := intRange(50, 10000)
	guestTTL, guestTTLDesc := durRange(5*time.Minute, 7*24*time.Hour)
	perMin, perMinDesc := intRange(1, 10000)
	count, countDesc := intRange(1, 1000000)
	queueLen, queueLenDesc := intRange(1, 1000)
	linkBytes, linkBytesDesc := intRange(256, 6000)
	ms, msDesc := intRange(1, 60000)
	nudgePct, nudgePctDesc := intRange(1, 50)
	width, widthDesc := intRange(16, 7680)
	quality, qualityDesc := intRange(1, 100)
	port, portDesc := intRange(0, 65535)
	timeout, timeoutDesc := durRange(time.Second, 10*time.Minute)
	jobs, jobsDesc := intRange(1, 64)
	defHeight, defHeightDesc := intRange(144, 2160)
	encCheck, encAllowed := oneOf("auto", "software", "libx264", "vaapi", "nvenc", "qsv")
	presetCheck, presetAllowed := oneOf("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
	pixels, pixelsDesc := intRange(16*16, 16384*16384)
	fps, fpsDesc := intRange(1, 120)
	idle, idleDesc := durRange(100*time.Millisecond, 24*time.Hour)

	return []Option{
		{Key: "listen", Kind: String, Default: ":8080", Help: "HTTP listen address", Check: listen, Allowed: listenDesc,
			set: func(c *Config, v any) { c.Listen = v.(string) }},
		{Key: "data_dir", Kind: String, Default: "./data", Help: "directory of the Badger store", Check: nonEmpty, Allowed: "a directory path",
			set: func(c *Config, v any) { c.DataDir = v.(string) }},
		{Key: "base_url", Kind: String, Default: "", Help: "public URL of the server, used in invite links (empty: taken from each request)", Check: optURL, Allowed: optURLDesc,
			set: func(c *Config, v any) { c.BaseURL = v.(string) }},
		{Key: "base_path", Kind: String, Default: "", Help: "serve the app under this sub-path, e.g. /watch (behind a reverse proxy)", Check: basePath, Allowed: "empty or a path like /watch",
			set: func(c *Config, v any) { c.BasePath = v.(string) }},
		{Key: "trusted_proxies", Kind: List, Default: []string{}, Help: "IPs or CIDRs of reverse proxies whose X-Forwarded-* headers are honoured", Check: checkCIDRs, Allowed: "a list of IP addresses or CIDR ranges",
			set: func(c *Config, v any) { c.TrustedProxies = v.([]string) }},
		{Key: "log.level", Kind: String, Default: "info", Help: "log level", Check: lvlCheck, Allowed: lvlAllowed,
			set: func(c *Config, v any) { c.Log.Level = v.(string) }},
		{Key: "log.format", Kind: String, Default: "text", Help: "log format", Check: fmtCheck, Allowed: fmtAllowed,
			set: func(c *Config, v any) { c.Log.Format = v.(string) }},

		{Key: "registration", Kind: String, Default: "open", Help: "who may sign up: open, invite (admin-issued single-use links) or closed", Check: regCheck, Allowed: regAllowed,
			set: func(c *Config, v any) { c.Registration = v.(string) }},
		{Key: "session.ttl", Kind: Duration, Default: 30 * 24 * time.Hour, Help: "how long a log-in session lasts", Check: ttl, Allowed: ttlDesc,
			set: func(c *Config, v any) { c.Session.TTL = v.(time.Duration) }},
		{Key: "session.secure_cookie", Kind: Bool, Default: false, Help: "always mark the session cookie Secure (it is Secure anyway when served over TLS)",
			set: func(c *Config, v any) { c.Session.SecureCookie = v.(bool) }},
		{Key: "guests.allowed", Kind: Bool, Default: true, Help: "allow rooms to let guests in by invite link (on in a new room; its owner may turn it off)",
			set: func(c *Config, v any) { c.Guests.Allowed = v.(bool) }},
		{Key: "guests.ttl", Kind: Duration, Default: 12 * time.Hour, Help: "how long a guest session lasts", Check: guestTTL, Allowed: guestTTLDesc,
			set: func(c *Config, v any) { c.Guests.TTL = v.(time.Duration) }},

		{Key: "limits.login_per_minute", Kind: Int, Default: 10, Help: "log-in and sign-up attempts per minute per IP and per account", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.LoginPerMinute = v.(int) }},
		{Key: "limits.chat_per_10s", Kind: Int, Default: 20, Help: "chat messages a member may send per 10 seconds", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.ChatPer10s = v.(int) }},
		{Key: "limits.conns_per_ip", Kind: Int, Default: 64, Help: "simultaneous websocket and frame connections per client IP", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.ConnsPerIP = v.(int) }},
		{Key: "limits.members_per_room", Kind: Int, Default: 500, Help: "members connected to one room at once", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.MembersPerRoom = v.(int) }},
		{Key: "limits.rooms_per_user", Kind: Int, Default: 50, Help: "rooms one user may own", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.RoomsPerUser = v.(int) }},
		{Key: "limits.viewers_per_stream", Kind: Int, Default: 256, Help: "frame viewers per room stream", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.ViewersPerStream = v.(int) }},
		{Key: "limits.http_conns_per_ip", Kind: Int, Default: 256, Help: "TCP connections one client address (IPv6: /64) may hold open to the web listener; trusted proxies are exempt", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.HTTPConnsPerIP = v.(int) }},
		{Key: "limits.commands_per_10s", Kind: Int, Default: 20, Help: "playback and queue commands one connection may send per 10 seconds", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.CommandsPer10s = v.(int) }},
		{Key: "limits.guests_per_room", Kind: Int, Default: 100, Help: "guest members one room may have at once (guests leave the room when their session ends)", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.GuestsPerRoom = v.(int) }},
		{Key: "limits.guest_joins_per_minute", Kind: Int, Default: 10, Help: "guests one client address (IPv6: /64) may create per minute by invite links", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.GuestJoinsPerMinute = v.(int) }},
		{Key: "limits.room_guest_joins_per_minute", Kind: Int, Default: 30, Help: "guests one room may take in per minute, from all addresses", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.RoomGuestJoinsPerMinute = v.(int) }},
		{Key: "limits.queue_length", Kind: Int, Default: 200, Help: "videos a room's up-next queue may hold", Check: queueLen, Allowed: queueLenDesc,
			set: func(c *Config, v any) { c.Limits.QueueLength = v.(int) }},
		{Key: "limits.link_bytes", Kind: Int, Default: 2048, Help: "longest video link (bytes) a member may share or queue", Check: linkBytes, Allowed: linkBytesDesc,
			set: func(c *Config, v any) { c.Limits.LinkBytes = v.(int) }},
		{Key: "limits.streams", Kind: Int, Default: 8, Help: "frame streams running at once on the server (sources it runs and remote publishers)", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.Streams = v.(int) }},
		{Key: "limits.streams_per_user", Kind: Int, Default: 2, Help: "frame streams one user may run at once, in all rooms", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.Limits.StreamsPerUser = v.(int) }},

		{Key: "limits.media_searches_per_10s", Kind: Int, Default: 30, Help: "media library listings and searches a member may make per 10 seconds", Check: perMin, Allowed: perMinDesc,
			set: func(c *Config, v any) { c.Limits.MediaSearchesPer10s = v.(int) }},

		{Key: "youtube.iframe_api_url", Kind: String, Default: "https://www.youtube.com/iframe_api", Help: "URL of the YouTube IFrame Player API script", Check: reqURL, Allowed: reqURLDesc,
			set: func(c *Config, v any) { c.YouTube.IFrameAPIURL = v.(string) }},
		{Key: "media.dir", Kind: String, Default: "", Help: "folder of video files members may play from the server (empty: none)",
			set: func(c *Config, v any) { c.Media.Dir = v.(string) }},
		{Key: "media.ffmpeg", Kind: String, Default: "ffmpeg", Help: "the ffmpeg program (a path, or a name looked up on PATH); without it only files browsers play as they are can be watched",
			set: func(c *Config, v any) { c.Media.FFmpeg = v.(string) }},
		{Key: "media.ffprobe", Kind: String, Default: "ffprobe", Help: "the ffprobe program (a path, or a name looked up on PATH)",
			set: func(c *Config, v any) { c.Media.FFprobe = v.(string) }},
		{Key: "media.cache_max", Kind: String, Default: "10GiB", Help: "most disk space the transcode cache (under data_dir/media-cache) may take; the least recently used segments go first", Check: sizeCheck, Allowed: sizeDesc,
			set: func(c *Config, v any) { c.Media.CacheMax, _ = ParseSize(v.(string)) }},
		{Key: "media.transcode.max_jobs", Kind: Int, Default: 2, Help: "how many ffmpeg processes may convert videos at once; more wait in a queue and members are told", Check: jobs, Allowed: jobsDesc,
			set: func(c *Config, v any) { c.Media.Transcode.MaxJobs = v.(int) }},
		{Key: "media.transcode.encoder", Kind: String, Default: "auto", Help: "H.264 encoder: auto (the first hardware encoder that works, else software), software (libx264), or vaapi, nvenc, qsv; a hardware encoder is used when ffmpeg has it, its device is present and a trial encode works, libx264 otherwise (the log says why)", Check: encCheck, Allowed: encAllowed,
			set: func(c *Config, v any) { c.Media.Transcode.Encoder = v.(string) }},
		{Key: "media.transcode.preset", Kind: String, Default: "veryfast", Help: "the preset of libx264: faster presets use less CPU for a larger stream", Check: presetCheck, Allowed: presetAllowed,
			set: func(c *Config, v any) { c.Media.Transcode.Preset = v.(string) }},
		{Key: "media.transcode.vaapi_device", Kind: String, Default: "/dev/dri/renderD128", Help: "render node of the vaapi and qsv encoders",
			set: func(c *Config, v any) { c.Media.Transcode.VAAPIDevice = v.(string) }},
		{Key: "media.transcode.renditions", Kind: List, Default: []string{"1080", "720", "480"}, Help: "heights of the renditions offered besides the source (never above the source's)", Check: heightsCheck, Allowed: "a list of heights from 144 to 2160",
			set: func(c *Config, v any) { c.Media.Transcode.Renditions = heights(v.([]string)) }},
		{Key: "media.transcode.default_height", Kind: Int, Default: 720, Help: "members start on the highest rendition at most this tall (each may pick another)", Check: defHeight, Allowed: defHeightDesc,
			set: func(c *Config, v any) { c.Media.Transcode.DefaultHeight = v.(int) }},
		{Key: "links.allow_private_hosts", Kind: Bool, Default: false, Help: "let direct links name loopback, private and link-local addresses and local names (off: a member cannot make every member's browser fetch from their own network)",
			set: func(c *Config, v any) { c.Links.AllowPrivateHosts = v.(bool) }},

		{Key: "sync.dead_zone_ms", Kind: Int, Default: 40, Help: "drift below this is left alone", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.DeadZoneMS = v.(int) }},
		{Key: "sync.seek_threshold_ms", Kind: Int, Default: 1000, Help: "drift above this is corrected by a seek (HTML5 players)", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.SeekThresholdMS = v.(int) }},
		{Key: "sync.youtube_seek_threshold_ms", Kind: Int, Default: 300, Help: "drift above this is corrected by a seek (YouTube players)", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.YouTubeSeekThresholdMS = v.(int) }},
		{Key: "sync.trim_ms", Kind: Int, Default: 8, Help: "a drift above this for 2 s is trimmed by a small rate change (above half of it, right after a start or a nudge); a nudge runs until the drift is a quarter of this", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.TrimMS = v.(int) }},
		{Key: "sync.catch_up_ms", Kind: Int, Default: 700, Help: "a rate nudge removes the drift in about this much time", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.CatchUpMS = v.(int) }},
		{Key: "sync.max_nudge_pct", Kind: Int, Default: 10, Help: "largest rate change of a nudge, in percent of the rate", Check: nudgePct, Allowed: nudgePctDesc,
			set: func(c *Config, v any) { c.Sync.MaxNudgePct = v.(int) }},
		{Key: "sync.reaim_ms", Kind: Int, Default: 120, Help: "right after a start, a drift above this is corrected by starting again rather than by a nudge", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.ReaimMS = v.(int) }},
		{Key: "sync.join_catch_up_ms", Kind: Int, Default: 500, Help: "a start made late by up to this much (a late joiner's first, one after a seek whose data came late, one a busy page ran late) is made at once and played faster (up to twice the rate) until it has caught up, rather than aimed again (at most sync.dead_zone_ms: always aimed again)", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.JoinCatchUpMS = v.(int) }},
		{Key: "sync.lead_ms", Kind: Int, Default: 250, Help: "play commands are scheduled this far ahead so everyone starts together", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.LeadMS = v.(int) }},
		{Key: "sync.seek_lead_ms", Kind: Int, Default: 500, Help: "seeks are scheduled this far ahead: a seek into unbuffered media takes longer than a start", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.SeekLeadMS = v.(int) }},
		{Key: "sync.max_lead_ms", Kind: Int, Default: 1000, Help: "play and seeks are scheduled further ahead when a member's path needs it (its delay and how long its player takes to seek and start), up to this", Check: ms, Allowed: msDesc,
			set: func(c *Config, v any) { c.Sync.MaxLeadMS = v.(int) }},
		{Key: "sync.ready_timeout", Kind: Duration, Default: 15 * time.Second, Help: "longest a buffering member can hold the room with wait-for-everyone on", Check: timeout, Allowed: timeoutDesc,
			set: func(c *Config, v any) { c.Sync.ReadyTimeout = v.(time.Duration) }},

		{Key: "stream.listen", Kind: String, Default: "", Help: "TCP listen address of the frame protocol (empty: off)", Check: optListen, Allowed: optListenDesc,
			set: func(c *Config, v any) { c.Stream.Listen = v.(string) }},
		{Key: "stream.max_width", Kind: Int, Default: 1280, Help: "frames wider than this are scaled down", Check: width, Allowed: widthDesc,
			set: func(c *Config, v any) { c.Stream.MaxWidth = v.(int) }},
		{Key: "stream.max_pixels", Kind: Int, Default: 1280 * 720, Help: "frames of more pixels than this are scaled down (bounds what a stream costs to encode and to watch)", Check: pixels, Allowed: pixelsDesc,
			set: func(c *Config, v any) { c.Stream.MaxPixels = v.(int) }},
		{Key: "stream.max_source_pixels", Kind: Int, Default: 3840 * 2160, Help: "pictures and videos larger than this are refused before they are decoded, and remote publishers may not send them", Check: pixels, Allowed: pixelsDesc,
			set: func(c *Config, v any) { c.Stream.MaxSourcePixels = v.(int) }},
		{Key: "stream.max_fps", Kind: Int, Default: 30, Help: "frames per second a stream the server runs hands out at most (faster cameras have frames dropped before decoding)", Check: fps, Allowed: fpsDesc,
			set: func(c *Config, v any) { c.Stream.MaxFPS = v.(int) }},
		{Key: "stream.idle_timeout", Kind: Duration, Default: time.Minute, Help: "a stream the server runs itself stops when nobody has watched it for this long", Check: idle, Allowed: idleDesc,
			set: func(c *Config, v any) { c.Stream.IdleTimeout = v.(time.Duration) }},
		{Key: "stream.jpeg_quality", Kind: Int, Default: 75, Help: "JPEG quality of streamed frames", Check: quality, Allowed: qualityDesc,
			set: func(c *Config, v any) { c.Stream.JPEGQuality = v.(int) }},
		{Key: "stream.allow_camera", Kind: Bool, Default: false, Help: "members allowed to change the video may stream the server's cameras (camera:N, OpenCV builds)",
			set: func(c *Config, v any) { c.Stream.AllowCamera = v.(bool) }},
		{Key: "stream.allow_private_urls", Kind: Bool, Default: false, Help: "let room streams fetch http(s) sources on loopback, private and link-local addresses (off: members cannot make the server probe its own network)",
			set: func(c *Config, v any) { c.Stream.AllowPrivateURLs = v.(bool) }},

		{Key: "syncplay.listen", Kind: String, Default: "", Help: "TCP listen address for native players (mpv, VLC) through the Syncplay protocol, e.g. :8999 (empty: off)", Check: optListen, Allowed: optListenDesc,
			set: func(c *Config, v any) { c.Syncplay.Listen = v.(string) }},
		{Key: "syncplay.public_address", Kind: String, Default: "", Help: "host:port native players connect to, shown in the room page's command (empty: base_url's host and syncplay.listen's port)",
			set: func(c *Config, v any) { c.Syncplay.PublicAddress = v.(string) }},
		{Key: "syncplay.token_ttl", Kind: Duration, Default: 24 * time.Hour, Help: "how long a member's native-player access token stays valid", Check: spTTL, Allowed: spTTLDesc,
			set: func(c *Config, v any) { c.Syncplay.TokenTTL = v.(time.Duration) }},
		{Key: "syncplay.max_connections", Kind: Int, Default: 256, Help: "native players connected at once (all rooms)", Check: spConns, Allowed: spConnsDesc,
			set: func(c *Config, v any) { c.Syncplay.MaxConnections = v.(int) }},
		{Key: "syncplay.conns_per_ip", Kind: Int, Default: 8, Help: "native-player connections open at once from one client address", Check: spPerIP, Allowed: spPerIPDesc,
			set: func(c *Config, v any) { c.Syncplay.ConnsPerIP = v.(int) }},
		{Key: "syncplay.hello_timeout", Kind: Duration, Default: 10 * time.Second, Help: "time a native player has to log in after connecting", Check: spHello, Allowed: spHelloDesc,
			set: func(c *Config, v any) { c.Syncplay.HelloTimeout = v.(time.Duration) }},
		{Key: "syncplay.idle_timeout", Kind: Duration, Default: 30 * time.Second, Help: "a native player that sends no whole line for this long is disconnected (clients answer every second)", Check: spIdle, Allowed: spIdleDesc,
			set: func(c *Config, v any) { c.Syncplay.IdleTimeout = v.(time.Duration) }},
		{Key: "syncplay.max_line", Kind: Int, Default: 16384, Help: "longest protocol line a native player may send, in bytes", Check: spLine, Allowed: spLineDesc,
			set: func(c *Config, v any) { c.Syncplay.MaxLine = v.(int) }},
		{Key: "syncplay.seek_threshold_ms", Kind: Int, Default: 200, Help: "a native player further than this from the room's position is told to seek", Check: spSeek, Allowed: spSeekDesc,
			set: func(c *Config, v any) { c.Syncplay.SeekThresholdMS = v.(int) }},

		{Key: "webrtc.enabled", Kind: Bool, Default: false, Help: "enable screen, tab and camera sharing through the built-in SFU",
			set: func(c *Config, v any) { c.WebRTC.Enabled = v.(bool) }},
		{Key: "webrtc.udp_port", Kind: Int, Default: 50000, Help: "the one UDP port every WebRTC peer uses", Check: port, Allowed: portDesc,
			set: func(c *Config, v any) { c.WebRTC.UDPPort = v.(int) }},
		{Key: "webrtc.public_ips", Kind: List, Default: []string{}, Help: "public IPs announced to peers (NAT 1:1)", Check: checkIPs, Allowed: "a list of IP addresses",
			set: func(c *Config, v any) { c.WebRTC.PublicIPs = v.([]string) }},
		{Key: "webrtc.stun_servers", Kind: List, Default: []string{}, Help: "STUN server URLs passed to browsers, e.g. stun:stun.example.org:3478",
			set: func(c *Config, v any) { c.WebRTC.STUNServers = v.([]string) }},
		{Key: "webrtc.turn_servers", Kind: List, Default: []string{}, Help: "TURN server URLs passed to browsers",
			set: func(c *Config, v any) { c.WebRTC.TURNServers = v.([]string) }},
		{Key: "webrtc.turn_username", Kind: String, Default: "", Help: "TURN user name",
			set: func(c *Config, v any) { c.WebRTC.TURNUsername = v.(string) }},
		{Key: "webrtc.turn_password", Kind: String, Default: "", Help: "TURN password", Secret: true,
			set: func(c *Config, v any) { c.WebRTC.TURNPassword = v.(string) }},
		{Key: "webrtc.max_peers_per_room", Kind: Int, Default: 25, Help: "WebRTC peers per room", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.WebRTC.MaxPeersPerRoom = v.(int) }},
		{Key: "webrtc.max_tracks_per_peer", Kind: Int, Default: 4, Help: "tracks one peer may publish", Check: count, Allowed: countDesc,
			set: func(c *Config, v any) { c.WebRTC.MaxTracksPerPeer = v.(int) }},

		{Key: "tls.cert_file", Kind: String, Default: "", Help: "TLS certificate (PEM); with tls.key_file the server speaks HTTPS, reloaded on SIGHUP",
			set: func(c *Config, v any) { c.TLS.CertFile = v.(string) }},
		{Key: "tls.key_file", Kind: String, Default: "", Help: "TLS private key (PEM)",
			set: func(c *Config, v any) { c.TLS.KeyFile = v.(string) }},
		{Key: "metrics.enabled", Kind: Bool, Default: true, Help: "serve Prometheus metrics at /metrics",
			set: func(c *Config, v any) { c.Metrics.Enabled = v.(bool) }},
		{Key: "metrics.listen", Kind: String, Default: "", Help: "serve /metrics on this separate address instead of the main one (empty: main listener)", Check: optListen, Allowed: optListenDesc,
			set: func(c *Config, v any) { c.Metrics.Listen = v.(string) }},
		{Key: "debug.pprof_listen", Kind: String, Default: "", Help: "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060, for an operator's own use (empty: off)", Check: loopback, Allowed: loopbackDesc,
			set: func(c *Config, v any) { c.Debug.PprofListen = v.(string) }},
	}
}

const sizeDesc = "a size such as 500MiB, 10GiB or 2TB (at least 16MiB)"

func sizeCheck(v any) error {
	n, err := ParseSize(v.(string))
	if err != nil {
		return err
	}
	if n < 16<<20 {
		return fmt.Errorf("must be at least 16MiB")
	}
	return nil
}

// ParseSize reads a byte size: a number with an optional unit, B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); K, M, G
// and T alone are binary.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || f < 0 {
		return 0, fmt.Errorf("must be %s", sizeDesc)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1e3, "m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9, "t": 1 << 40, "tib": 1 << 40, "tb": 1e12}[unit]
	if mult == 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("must be %s", sizeDesc)
	}
	return int64(f * mult), nil
}

func heightsCheck(v any) error {
	list := v.([]string)
	if len(list) > 8 {
		return fmt.Errorf("at most 8 renditions")
	}
	for _, s := range list {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 144 || n > 2160 {
			return fmt.Errorf("%q is not a height from 144 to 2160", s)
		}
	}
	return nil
}

func heights(list []string) []int {
	var out []int
	for _, s := range list {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func checkCIDRs(v any) error {
	for _, s := range v.([]string) {
		if net.ParseIP(s) != nil {
			continue
		}
		if _, _, err := net.ParseCIDR(s); err != nil {
			return fmt.Errorf("%q is neither an IP address nor a CIDR range", s)
		}
	}
	return nil
}

func checkIPs(v any) error {
	for _, s := range v.([]string) {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("%q is not an IP address", s)
		}
	}
	return nil
}

// Options returns the table of every option, in documentation order.
func Options() []Option { return append([]Option(nil), options...) }
