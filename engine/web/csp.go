package web

import (
	"net/url"
	"strings"

	"watchparty/config"
)

// contentSecurityPolicy is the policy of every response. No script, style
// or handler is written inline in the pages but the room page's import map
// and styles, each allowed by its hash (scripts, styles), so scripts come
// only from this server and the YouTube IFrame API; pages may not be framed; forms post
// only here. Media (direct links) may come from any http(s) address: which
// addresses a link may name is decided when the link is shared (see
// media.ParseLink and links.allow_private_hosts).
func contentSecurityPolicy(cfg *config.Config, scripts, styles []string) string {
	youtube := []string{"https://www.youtube.com", "https://s.ytimg.com"}
	frames := []string{"https://www.youtube.com", "https://www.youtube-nocookie.com"}
	if o := origin(cfg.YouTube.IFrameAPIURL); o != "" && !contains(youtube, o) {
		youtube = append(youtube, o)
		frames = append(frames, o)
	}
	directives := []string{
		"default-src 'self'",
		"script-src 'self' " + strings.Join(append(youtube, scripts...), " "),
		"style-src " + strings.Join(append([]string{"'self'"}, styles...), " "),
		"img-src 'self' data: blob: https://i.ytimg.com",
		"media-src 'self' blob: http: https:",
		"connect-src 'self' http: https:",
		"frame-src " + strings.Join(frames, " "),
		"font-src 'self'",
		"worker-src 'self' blob:",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}
	return strings.Join(directives, "; ")
}

// origin is scheme://host[:port] of a URL, "" when it has none.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
