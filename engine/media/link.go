// Package media knows what a room can play: it turns the links people paste
// into a described Source, serves the server's media folder safely, and
// converts SubRip subtitles to WebVTT for the browser.
//
// The package does no network I/O and imports nothing from the web layer.
package media

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says how a Source is played.
type Kind string

// Source kinds.
const (
	// KindYouTube is a YouTube video, played through the IFrame player.
	KindYouTube Kind = "youtube"
	// KindFile is a direct http(s) link to a video file.
	KindFile Kind = "file"
	// KindHLS is an http(s) link to an HLS playlist (.m3u8).
	KindHLS Kind = "hls"
	// KindLibrary is a file in the server's media folder.
	KindLibrary Kind = "library"
)

// MaxLinkBytes is the longest link ParseLink accepts.
const MaxLinkBytes = 2048

// LibraryPrefix starts a link to a file in the server's media folder, as in
// "media:films/Night.mp4".
const LibraryPrefix = "media:"

// MaxStartSeconds bounds the start offsets ParseLink takes from a link (a
// week); larger values are ignored.
const MaxStartSeconds = 7 * 24 * 3600

// ErrUnsupportedLink is wrapped by every ParseLink rejection.
var ErrUnsupportedLink = errors.New("unsupported link")

// accepted is the tail of every ParseLink error message.
const accepted = "use a YouTube link, a direct http(s) link to an .mp4/.webm/.ogg video or .m3u8 stream, or a file from the server's media library"

// Source describes what to play.
type Source struct {
	// Kind says how to play it.
	Kind Kind `json:"kind"`
	// URL is the canonical link: https://www.youtube.com/watch?v=ID for
	// YouTube, the cleaned http(s) URL (fragment removed) for files and HLS,
	// and "media:" + Path for the library. Equal sources have equal URLs.
	URL string `json:"url"`
	// Path is the slash-separated path inside the media folder (library only).
	Path string `json:"path,omitempty"`
	// VideoID is the 11-character YouTube video id (YouTube only).
	VideoID string `json:"videoId,omitempty"`
	// Start is the offset in seconds the link asks to start at (0 if none).
	Start float64 `json:"start,omitempty"`
	// Title is a display name derived from the link.
	Title string `json:"title"`
	// Burn is the stream index of a picture subtitle drawn into the video
	// (library only, "media:films/a.mkv#burn=3"); 0 for none.
	Burn int `json:"burn,omitempty"`
}

// remoteKind maps the file extensions accepted in direct links to their kind.
func remoteKind(ext string) (Kind, bool) {
	switch ext {
	case ".mp4", ".webm", ".ogg", ".ogv", ".m4v", ".mov":
		return KindFile, true
	case ".m3u8":
		return KindHLS, true
	}
	return "", false
}

func reject(format string, args ...any) error {
	return fmt.Errorf("%w: %s; %s", ErrUnsupportedLink, fmt.Sprintf(format, args...), accepted)
}

// ParseLink reads a pasted link and describes what it plays. Accepted forms:
//
//   - YouTube: youtube.com/watch?v=ID (also www., m. and music.), youtu.be/ID,
//     youtube.com/shorts/ID, /embed/ID, /live/ID and youtube-nocookie.com/embed/ID,
//     with or without the https:// scheme. Extra parameters (list=, index=,
//     si=, feature=) are ignored; t= or start= (or #t=) set Start.
//   - Direct files: http(s) URLs whose path ends in .mp4, .webm, .ogg, .ogv,
//     .m4v or .mov (KindFile) or .m3u8 (KindHLS). A media fragment #t= sets
//     Start.
//   - Library files: "media:" followed by a relative slash path to a video in
//     the media folder.
//
// Start times may be written 90, 90s, 1h2m3s, 1:02:03 or 12.5; an unreadable
// start time is ignored, since the link itself is still good. Everything
// else (other schemes, credentials in the URL, control characters, links
// over MaxLinkBytes) is rejected with an error wrapping ErrUnsupportedLink.
func ParseLink(raw string) (Source, error) {
	if len(raw) > MaxLinkBytes {
		return Source{}, reject("the link is longer than %d bytes", MaxLinkBytes)
	}
	if !utf8.ValidString(raw) {
		return Source{}, reject("the link is not valid UTF-8")
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Source{}, reject("the link is empty")
	}
	for _, r := range raw {
		if unicode.IsControl(r) {
			return Source{}, reject("the link contains control characters")
		}
	}
	if len(raw) >= len(LibraryPrefix) && strings.EqualFold(raw[:len(LibraryPrefix)], LibraryPrefix) {
		return parseLibraryLink(raw[len(LibraryPrefix):])
	}

	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, reject("the link is not a valid URL")
	}
	schemeless := false
	if u.Scheme == "" {
		if strings.HasPrefix(raw, "/") {
			return Source{}, reject("the link must be a full http(s) address")
		}
		if u, err = url.Parse("https://" + raw); err != nil {
			return Source{}, reject("the link is not a valid URL")
		}
		schemeless = true
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "http", "https":
		u.Scheme = scheme
	default:
		return Source{}, reject("%s: links are not accepted", scheme)
	}
	if u.User != nil {
		return Source{}, reject("links with a user name or password are not accepted")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return Source{}, reject("the link has no host name")
	}
	u.Host = strings.ToLower(u.Host)

	if isYouTubeHost(u.Hostname()) {
		return parseYouTube(u)
	}
	if schemeless {
		return Source{}, reject("direct links must start with http:// or https://")
	}
	return parseDirect(u)
}

// isYouTubeHost says whether host is one of YouTube's.
func isYouTubeHost(host string) bool {
	switch host {
	case "youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be",
		"www.youtu.be", "youtube-nocookie.com", "www.youtube-nocookie.com":
		return true
	}
	return false
}

func parseYouTube(u *url.URL) (Source, error) {
	host := strings.TrimPrefix(u.Hostname(), "www.")
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	var id string
	switch {
	case host == "youtu.be":
		if len(segs) == 1 {
			id = segs[0]
		}
	case host == "youtube-nocookie.com":
		if len(segs) == 2 && strings.EqualFold(segs[0], "embed") {
			id = segs[1]
		}
	case len(segs) == 1 && strings.EqualFold(segs[0], "watch"):
		id = u.Query().Get("v")
	case len(segs) == 2:
		switch strings.ToLower(segs[0]) {
		case "shorts", "embed", "live":
			id = segs[1]
		}
	}
	if id == "" {
		return Source{}, reject("a YouTube link must point to one video (watch?v=, youtu.be/, shorts/, embed/ or live/)")
	}
	if !validVideoID(id) {
		return Source{}, reject("a YouTube video id is exactly 11 letters, digits, '-' or '_'")
	}
	q := u.Query()
	start, ok := parseStart(q.Get("t"))
	if !ok {
		start, ok = parseStart(q.Get("start"))
	}
	if !ok {
		start, _ = fragmentStart(u.Fragment)
	}
	return Source{
		Kind:    KindYouTube,
		URL:     "https://www.youtube.com/watch?v=" + id,
		VideoID: id,
		Start:   start,
		Title:   "YouTube video " + id,
	}, nil
}

func validVideoID(id string) bool {
	if len(id) != 11 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func parseDirect(u *url.URL) (Source, error) {
	ext := strings.ToLower(path.Ext(u.Path))
	kind, ok := remoteKind(ext)
	if !ok {
		return Source{}, reject("a direct link must end in .mp4, .webm, .ogg, .ogv, .m4v, .mov or .m3u8")
	}
	start, _ := fragmentStart(u.Fragment)
	u.Fragment = ""
	u.RawFragment = ""
	canonical := u.String()
	if len(canonical) > MaxLinkBytes {
		return Source{}, reject("the link is longer than %d bytes", MaxLinkBytes)
	}
	title := cleanTitle(strings.TrimSuffix(path.Base(u.Path), path.Ext(u.Path)))
	if title == "" {
		title = u.Hostname()
	}
	return Source{Kind: kind, URL: canonical, Start: start, Title: title}, nil
}

func parseLibraryLink(rel string) (Source, error) {
	rel, frag, _ := strings.Cut(rel, "#")
	burn := 0
	var start float64
	for part := range strings.SplitSeq(frag, "&") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "burn":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 1000 {
				burn = n
			}
		case "t":
			start, _ = parseStart(v)
		}
	}
	if err := checkRelPath(rel); err != nil {
		return Source{}, reject("%s", err.Error())
	}
	if !isVideoExt(strings.ToLower(path.Ext(rel))) {
		return Source{}, reject("media library links must name a video file (%s)", videoExtList)
	}
	u := LibraryPrefix + rel
	if burn > 0 {
		u += "#burn=" + strconv.Itoa(burn)
	}
	return Source{
		Kind:  KindLibrary,
		URL:   u,
		Path:  rel,
		Start: start,
		Burn:  burn,
		Title: cleanTitle(strings.TrimSuffix(path.Base(rel), path.Ext(rel))),
	}, nil
}

// cleanTitle drops control and format characters (such as the bidi
// overrides that make "gpj.exe" read backwards) and bounds the length of a
// title.
func cleanTitle(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	const maxRunes = 200
	if utf8.RuneCountInString(s) > maxRunes {
		s = string([]rune(s)[:maxRunes])
	}
	return s
}

// fragmentStart reads a start time from a fragment such as "t=90" or the
// media-fragment forms "t=npt:10,20" and "t=1:02:03".
func fragmentStart(fragment string) (float64, bool) {
	for part := range strings.SplitSeq(fragment, "&") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			return parseStart(v)
		}
	}
	return 0, false
}

// parseStart reads a start offset in seconds. It accepts plain numbers with
// an optional "s" suffix (90, 90s, 12.5), unit forms (1h2m3s, 2m, 1h), clock
// forms (1:02:03, 2:03.5), a leading "npt:" and a trailing ",end" (both from
// media fragments). It reports false for anything else, for negative or
// non-finite values and for values over MaxStartSeconds.
func parseStart(v string) (float64, bool) {
	v = strings.TrimPrefix(v, "npt:")
	v, _, _ = strings.Cut(v, ",")
	if v == "" || len(v) > 32 {
		return 0, false
	}
	var secs float64
	var ok bool
	switch {
	case strings.Contains(v, ":"):
		secs, ok = parseClock(v)
	case strings.ContainsAny(v, "hm") || strings.HasSuffix(v, "s") && strings.ContainsAny(v[:len(v)-1], "hms"):
		secs, ok = parseUnits(v)
	default:
		secs, ok = parseSeconds(strings.TrimSuffix(v, "s"))
	}
	if !ok || secs > MaxStartSeconds {
		return 0, false
	}
	return secs, true
}

// parseSeconds reads digits with an optional fraction ("90", "12.5").
func parseSeconds(v string) (float64, bool) {
	whole, frac, hasDot := strings.Cut(v, ".")
	if !allDigits(whole) || hasDot && !allDigits(frac) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseUnits reads "1h2m3s"-style durations: units in the order h, m, s,
// each at most once, whole numbers only.
func parseUnits(v string) (float64, bool) {
	units := []struct {
		suffix byte
		scale  float64
	}{{'h', 3600}, {'m', 60}, {'s', 1}}
	var total float64
	next := 0
	for v != "" {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 || i == len(v) {
			return 0, false
		}
		n, _ := strconv.Atoi(v[:i])
		found := false
		for next < len(units) {
			u := units[next]
			next++
			if v[i] == u.suffix {
				total += float64(n) * u.scale
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
		v = v[i+1:]
	}
	return total, true
}

// parseClock reads "h:mm:ss(.f)" or "m:ss(.f)".
func parseClock(v string) (float64, bool) {
	parts := strings.Split(v, ":")
	if len(parts) > 3 {
		return 0, false
	}
	sec, ok := parseSeconds(parts[len(parts)-1])
	if !ok || sec >= 60 {
		return 0, false
	}
	total := sec
	scale := 60.0
	for i := len(parts) - 2; i >= 0; i-- {
		p := parts[i]
		if !allDigits(p) || len(p) > 6 {
			return 0, false
		}
		n, _ := strconv.Atoi(p)
		if i > 0 && n >= 60 { // minutes when hours are given
			return 0, false
		}
		total += float64(n) * scale
		scale *= 60
	}
	return total, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
