package media

import (
	"errors"
	"strings"
	"testing"
)

const id = "dQw4w9WgXcQ"
const ytURL = "https://www.youtube.com/watch?v=" + id

func TestParseLinkValid(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Source
	}{
		// YouTube forms.
		{name: "watch", raw: "https://www.youtube.com/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch without www", raw: "https://youtube.com/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch on mobile host", raw: "https://m.youtube.com/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch on music host", raw: "https://music.youtube.com/watch?v=" + id + "&feature=share",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch over http", raw: "http://www.youtube.com/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch without scheme", raw: "www.youtube.com/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "upper-case scheme and host", raw: "HTTPS://WWW.YOUTUBE.COM/watch?v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "surrounding spaces", raw: "  https://youtu.be/" + id + "\n",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch with playlist params", raw: "https://www.youtube.com/watch?v=" + id + "&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=3",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch with v not first", raw: "https://www.youtube.com/watch?feature=youtu.be&v=" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "watch with t seconds", raw: "https://www.youtube.com/watch?v=" + id + "&t=90",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 90, Title: "YouTube video " + id}},
		{name: "watch with t suffix s", raw: "https://www.youtube.com/watch?v=" + id + "&t=90s",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 90, Title: "YouTube video " + id}},
		{name: "watch with t units", raw: "https://www.youtube.com/watch?v=" + id + "&t=1h2m3s",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 3723, Title: "YouTube video " + id}},
		{name: "watch with t minutes only", raw: "https://www.youtube.com/watch?v=" + id + "&t=2m",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 120, Title: "YouTube video " + id}},
		{name: "watch with fragment t", raw: "https://www.youtube.com/watch?v=" + id + "#t=1m5s",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 65, Title: "YouTube video " + id}},
		{name: "unreadable t ignored", raw: "https://www.youtube.com/watch?v=" + id + "&t=soon",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "t out of order ignored", raw: "https://www.youtube.com/watch?v=" + id + "&t=3s2m",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "huge t ignored", raw: "https://www.youtube.com/watch?v=" + id + "&t=999999999",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "short link", raw: "https://youtu.be/" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "short link without scheme", raw: "youtu.be/" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "short link with si and t", raw: "https://youtu.be/" + id + "?si=AbCdEfGhIjKlMnOp&t=42",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 42, Title: "YouTube video " + id}},
		{name: "shorts", raw: "https://www.youtube.com/shorts/" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "shorts with trailing slash", raw: "https://youtube.com/shorts/" + id + "/?feature=share",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "embed with start", raw: "https://www.youtube.com/embed/" + id + "?start=30&autoplay=1",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 30, Title: "YouTube video " + id}},
		{name: "live", raw: "https://www.youtube.com/live/" + id + "?si=xyz",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "nocookie embed", raw: "https://www.youtube-nocookie.com/embed/" + id,
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Title: "YouTube video " + id}},
		{name: "nocookie embed without www", raw: "https://youtube-nocookie.com/embed/" + id + "?start=5",
			want: Source{Kind: KindYouTube, URL: ytURL, VideoID: id, Start: 5, Title: "YouTube video " + id}},
		{name: "id with dash and underscore", raw: "https://youtu.be/a-b_c-d_e-f",
			want: Source{Kind: KindYouTube, URL: "https://www.youtube.com/watch?v=a-b_c-d_e-f", VideoID: "a-b_c-d_e-f", Title: "YouTube video a-b_c-d_e-f"}},

		// Direct files.
		{name: "mp4", raw: "https://cdn.example.com/films/Big%20Buck%20Bunny.mp4",
			want: Source{Kind: KindFile, URL: "https://cdn.example.com/films/Big%20Buck%20Bunny.mp4", Title: "Big Buck Bunny"}},
		{name: "webm over http with port", raw: "http://192.168.1.5:8080/v/clip.webm",
			want: Source{Kind: KindFile, URL: "http://192.168.1.5:8080/v/clip.webm", Title: "clip"}},
		{name: "ogg", raw: "https://example.org/a.ogg", want: Source{Kind: KindFile, URL: "https://example.org/a.ogg", Title: "a"}},
		{name: "ogv", raw: "https://example.org/a.ogv", want: Source{Kind: KindFile, URL: "https://example.org/a.ogv", Title: "a"}},
		{name: "m4v", raw: "https://example.org/a.m4v", want: Source{Kind: KindFile, URL: "https://example.org/a.m4v", Title: "a"}},
		{name: "mov", raw: "https://example.org/a.mov", want: Source{Kind: KindFile, URL: "https://example.org/a.mov", Title: "a"}},
		{name: "upper-case extension", raw: "https://example.org/A.MP4", want: Source{Kind: KindFile, URL: "https://example.org/A.MP4", Title: "A"}},
		{name: "host lower-cased", raw: "https://Example.ORG/a.mp4", want: Source{Kind: KindFile, URL: "https://example.org/a.mp4", Title: "a"}},
		{name: "query string kept", raw: "https://example.org/a.mp4?token=abc&exp=1",
			want: Source{Kind: KindFile, URL: "https://example.org/a.mp4?token=abc&exp=1", Title: "a"}},
		{name: "query t is not a start time", raw: "https://example.org/a.mp4?t=abc",
			want: Source{Kind: KindFile, URL: "https://example.org/a.mp4?t=abc", Title: "a"}},
		{name: "media fragment start", raw: "https://example.org/a.mp4#t=90",
			want: Source{Kind: KindFile, URL: "https://example.org/a.mp4", Start: 90, Title: "a"}},
		{name: "media fragment range", raw: "https://example.org/a.webm#t=10.5,20",
			want: Source{Kind: KindFile, URL: "https://example.org/a.webm", Start: 10.5, Title: "a"}},
		{name: "media fragment npt clock", raw: "https://example.org/a.webm#t=npt:1:02:03",
			want: Source{Kind: KindFile, URL: "https://example.org/a.webm", Start: 3723, Title: "a"}},
		{name: "media fragment minutes clock", raw: "https://example.org/a.webm#t=2:03.5",
			want: Source{Kind: KindFile, URL: "https://example.org/a.webm", Start: 123.5, Title: "a"}},
		{name: "media fragment bad clock ignored", raw: "https://example.org/a.webm#t=1:75",
			want: Source{Kind: KindFile, URL: "https://example.org/a.webm", Title: "a"}},
		{name: "hls", raw: "https://stream.example.com/live/index.m3u8",
			want: Source{Kind: KindHLS, URL: "https://stream.example.com/live/index.m3u8", Title: "index"}},
		{name: "hls with query", raw: "https://stream.example.com/master.m3u8?session=1",
			want: Source{Kind: KindHLS, URL: "https://stream.example.com/master.m3u8?session=1", Title: "master"}},
		{name: "title control characters dropped", raw: "https://example.org/a%00b%1F.mp4",
			want: Source{Kind: KindFile, URL: "https://example.org/a%00b%1F.mp4", Title: "ab"}},
		{name: "title bidi override dropped", raw: "https://example.org/%E2%80%AEfilm.mp4",
			want: Source{Kind: KindFile, URL: "https://example.org/%E2%80%AEfilm.mp4", Title: "film"}},
		{name: "title falls back to host", raw: "https://example.org/.mp4",
			want: Source{Kind: KindFile, URL: "https://example.org/.mp4", Title: "example.org"}},

		// Library.
		{name: "library file", raw: "media:films/Night of the Living Dead.mp4",
			want: Source{Kind: KindLibrary, URL: "media:films/Night of the Living Dead.mp4", Path: "films/Night of the Living Dead.mp4", Title: "Night of the Living Dead"}},
		{name: "library prefix any case", raw: "MEDIA:a.mkv",
			want: Source{Kind: KindLibrary, URL: "media:a.mkv", Path: "a.mkv", Title: "a"}},
		{name: "library percent sign not an escape", raw: "media:100%.webm",
			want: Source{Kind: KindLibrary, URL: "media:100%.webm", Path: "100%.webm", Title: "100%"}},
		{name: "library unicode", raw: "media:Filme/Ärger im Paradies.mp4",
			want: Source{Kind: KindLibrary, URL: "media:Filme/Ärger im Paradies.mp4", Path: "Filme/Ärger im Paradies.mp4", Title: "Ärger im Paradies"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLink(tt.raw)
			if err != nil {
				t.Fatalf("ParseLink(%q) error: %v", tt.raw, err)
			}
			if got != tt.want {
				t.Fatalf("ParseLink(%q)\n got  %+v\n want %+v", tt.raw, got, tt.want)
			}
			again, err := ParseLink(got.URL)
			if err != nil || again.URL != got.URL || again.Kind != got.Kind || again.VideoID != got.VideoID {
				t.Fatalf("canonical URL %q does not parse to itself: %+v, %v", got.URL, again, err)
			}
		})
	}
}

func TestParseLinkInvalid(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantMsg string // a fragment the error must contain
	}{
		{"empty", "", "empty"},
		{"blank", "   \t ", "empty"},
		{"javascript", "javascript:alert(1)//.mp4", "javascript: links"},
		{"javascript mixed case", "JavaScript:alert(document.cookie)", "javascript: links"},
		{"data", "data:video/mp4;base64,AAAA", "data: links"},
		{"file", "file:///etc/passwd.mp4", "file: links"},
		{"ftp", "ftp://example.org/a.mp4", "ftp: links"},
		{"credentials", "https://user:pass@example.org/a.mp4", "user name or password"},
		{"user only", "https://user@example.org/a.mp4", "user name or password"},
		{"credentials on youtube", "https://user:pass@www.youtube.com/watch?v=" + id, "user name or password"},
		{"too long", "https://example.org/" + strings.Repeat("a", MaxLinkBytes) + ".mp4", "longer than 2048"},
		{"canonical form too long", "https://example.org/" + strings.Repeat(" ", 1000) + ".mp4", "longer than 2048"},
		{"control character", "https://example.org/a\x01.mp4", "control characters"},
		{"newline inside", "https://example.org/a\n.mp4", "control characters"},
		{"DEL", "https://example.org/a\x7f.mp4", "control characters"},
		{"invalid utf8", "https://example.org/\xff.mp4", "UTF-8"},
		{"no extension", "https://example.org/video", "must end in"},
		{"unknown extension", "https://example.org/a.avi", "must end in"},
		{"extension only in query", "https://example.org/watch?file=a.mp4", "must end in"},
		{"extension only in fragment", "https://example.org/page#a.mp4", "must end in"},
		{"html page", "https://example.org/index.html", "must end in"},
		{"direct link without scheme", "example.org/a.mp4", "must start with http"},
		{"relative path", "/videos/a.mp4", "full http(s) address"},
		{"protocol relative", "//example.org/a.mp4", "full http(s) address"},
		{"no host", "https:///a.mp4", "no host"},
		{"opaque http", "http:a.mp4", "no host"},
		{"bad url", "https://exa mple.org/a.mp4", "not a valid URL"},
		{"youtube channel", "https://www.youtube.com/@somechannel", "one video"},
		{"youtube playlist", "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG", "one video"},
		{"youtube home", "https://www.youtube.com/", "one video"},
		{"youtube watch without v", "https://www.youtube.com/watch?list=abc", "one video"},
		{"youtube short id", "https://youtu.be/abc", "exactly 11"},
		{"youtube long id", "https://www.youtube.com/watch?v=" + id + "X", "exactly 11"},
		{"youtube id bad character", "https://www.youtube.com/watch?v=dQw4w9WgX.Q", "exactly 11"},
		{"youtube id escaped", "https://youtu.be/dQw4w9WgX%51", "exactly 11"},
		{"youtube extra segment", "https://youtu.be/" + id + "/extra", "one video"},
		{"nocookie watch", "https://www.youtube-nocookie.com/watch?v=" + id, "one video"},
		{"lookalike host", "https://youtube.com.evil.example/watch?v=" + id, "must end in"},
		{"lookalike host without scheme", "youtube.com.evil.example/watch?v=" + id, "must start with http"},
		{"library empty", "media:", "empty"},
		{"library absolute", "media:/etc/passwd.mp4", "relative"},
		{"library dotdot", "media:../secret.mp4", "dot segment"},
		{"library dotdot inside", "media:a/../../b.mp4", "dot segment"},
		{"library hidden", "media:.private/a.mp4", "hidden"},
		{"library encoded dotdot", "media:%2e%2e/a.mp4", "percent escape"},
		{"library backslash", `media:a\..\b.mp4`, "forward slashes"},
		{"library double slash", "media:a//b.mp4", "empty segment"},
		{"library not a video", "media:notes.txt", "must name a video"},
		{"library subtitle", "media:a.srt", "must name a video"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLink(tt.raw)
			if err == nil {
				t.Fatalf("ParseLink(%q) = %+v, want an error", tt.raw, got)
			}
			if !errors.Is(err, ErrUnsupportedLink) {
				t.Fatalf("error %v does not wrap ErrUnsupportedLink", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", msg, tt.wantMsg)
			}
			if !strings.Contains(msg, "a YouTube link, a direct http(s) link to an .mp4/.webm/.ogg video or .m3u8 stream, or a file from the server's media library") {
				t.Fatalf("error %q does not say what is accepted", msg)
			}
			if got != (Source{}) {
				t.Fatalf("error came with a non-zero Source %+v", got)
			}
		})
	}
}

func TestParseStart(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   float64
		wantOK bool
	}{
		{"seconds", "90", 90, true},
		{"seconds suffix", "90s", 90, true},
		{"fraction", "12.5", 12.5, true},
		{"fraction suffix", "12.5s", 12.5, true},
		{"zero", "0", 0, true},
		{"hours minutes seconds", "1h2m3s", 3723, true},
		{"hours only", "2h", 7200, true},
		{"minutes seconds", "4m20s", 260, true},
		{"hours seconds", "1h5s", 3605, true},
		{"clock", "1:02:03", 3723, true},
		{"short clock", "2:03", 123, true},
		{"clock with fraction", "0:00:01.25", 1.25, true},
		{"npt with end", "npt:10,20", 10, true},
		{"end only", ",20", 0, false},
		{"empty", "", 0, false},
		{"negative", "-5", 0, false},
		{"units out of order", "2m1h", 0, false},
		{"unit repeated", "1m1m", 0, false},
		{"trailing number without unit", "1m30", 0, false},
		{"unit without number", "hms", 0, false},
		{"fraction in units", "1.5m", 0, false},
		{"clock seconds too big", "1:60", 0, false},
		{"clock minutes too big with hours", "1:60:00", 0, false},
		{"clock four parts", "1:2:3:4", 0, false},
		{"exponent", "1e3", 0, false},
		{"infinity", "Inf", 0, false},
		{"NaN", "NaN", 0, false},
		{"hex", "0x10", 0, false},
		{"just a dot", ".", 0, false},
		{"beyond a week", "604801", 0, false},
		{"a week", "604800", 604800, true},
		{"overlong", strings.Repeat("1", 40), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStart(tt.in)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("parseStart(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
