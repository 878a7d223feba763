package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/limit"
	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/room"
)

// mediaFixture is a media folder with a video, subtitles, a hidden file, a
// file outside the folder and symlinks in and out of it.
func mediaFixture(t *testing.T) (root string, video []byte) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "media")
	outside := filepath.Join(dir, "secret")
	for _, d := range []string{root, filepath.Join(root, "films"), filepath.Join(root, ".hidden"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	video = make([]byte, 10_000)
	for i := range video {
		video[i] = byte(i * 7)
	}
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "films", "Night Walk.webm"), video)
	write(filepath.Join(root, "films", "Night Walk.en.vtt"), []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"))
	write(filepath.Join(root, "films", "Night Walk.fr.srt"), []byte("1\r\n00:00:01,500 --> 00:00:02,000\r\nbonjour <i>toi</i>\r\n\r\n"))
	write(filepath.Join(root, "films", "broken.srt"), []byte("1\n00:00:02,000 --> 00:00:01,000\nbackwards\n"))
	write(filepath.Join(root, "films", "notes.txt"), []byte("not a video"))
	write(filepath.Join(root, ".hidden", "private.mp4"), []byte("hidden"))
	write(filepath.Join(root, ".dot.mp4"), []byte("hidden"))
	write(filepath.Join(outside, "leak.mp4"), []byte("outside the library"))
	if err := os.Symlink(filepath.Join(outside, "leak.mp4"), filepath.Join(root, "abs-link.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret/leak.mp4", filepath.Join(root, "rel-link.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "outdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("films/Night Walk.webm", filepath.Join(root, "inside-link.webm")); err != nil {
		t.Fatal(err)
	}
	return root, video
}

// newMediaApp serves the media endpoints; the user is named by the X-User
// header, and only "ann" is a member of room ROOM1.
func newMediaApp(t *testing.T, root string) *fiber.App {
	t.Helper()
	return newMediaAppLimited(t, root, limit.NewKeyed(1000, time.Second))
}

// newMediaAppLimited is newMediaApp with searches limited by searches.
func newMediaAppLimited(t *testing.T, root string, searches *limit.Keyed) *fiber.App {
	t.Helper()
	lib, err := media.NewLibrary(root)
	if err != nil {
		t.Fatal(err)
	}
	h := &mediaHandler{
		m:        &Media{Lib: lib, Index: media.NewIndex(lib)},
		searches: searches,
		current:  func(context.Context, string) *room.Video { return nil },
		member: func(_ context.Context, code, uid string) error {
			switch {
			case code != "ROOM1":
				return errNoRoom
			case uid != "ann":
				return fmt.Errorf("room: %w", errNotMember)
			}
			return nil
		},
		user: func(c *fiber.Ctx) (string, bool) { u := c.Get("X-User"); return u, u != "" },
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	h.routes(app)
	return app
}

func mediaGet(t *testing.T, app *fiber.App, method, target, user string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "http://x.test/", nil)
	// Keep the target exactly as written (escapes and dot segments).
	req.URL.Opaque = target
	req.RequestURI = target
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, body
}

const videoPath = "/r/ROOM1/media/file/films/Night%20Walk.webm"

func TestMediaRanges(t *testing.T) {
	root, video := mediaFixture(t)
	app := newMediaApp(t, root)
	size := len(video)
	tests := []struct {
		name      string
		rng       string
		status    int
		from, to  int // expected body video[from:to]
		contRange string
	}{
		{"whole file", "", 200, 0, size, ""},
		{"first bytes", "bytes=0-99", 206, 0, 100, "bytes 0-99/10000"},
		{"open-ended from zero", "bytes=0-", 206, 0, size, "bytes 0-9999/10000"},
		{"middle", "bytes=4000-4999", 206, 4000, 5000, "bytes 4000-4999/10000"},
		{"to the end", "bytes=9990-", 206, 9990, size, "bytes 9990-9999/10000"},
		{"end past the size is clamped", "bytes=9000-20000", 206, 9000, size, "bytes 9000-9999/10000"},
		{"suffix", "bytes=-500", 206, 9500, size, "bytes 9500-9999/10000"},
		{"suffix longer than the file", "bytes=-20000", 206, 0, size, "bytes 0-9999/10000"},
		{"start past the end", "bytes=10000-", 416, 0, 0, "bytes */10000"},
		{"reversed", "bytes=500-100", 416, 0, 0, "bytes */10000"},
		{"garbage", "bytes=abc", 416, 0, 0, "bytes */10000"},
		{"empty suffix", "bytes=-0", 416, 0, 0, "bytes */10000"},
		{"negative", "bytes=--5", 416, 0, 0, "bytes */10000"},
		{"other unit ignored", "items=0-5", 200, 0, size, ""},
		{"several ranges: whole file", "bytes=0-5,10-20", 200, 0, size, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.rng != "" {
				hdr["Range"] = tt.rng
			}
			resp, body := mediaGet(t, app, "GET", videoPath, "ann", hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tt.contRange {
				t.Fatalf("Content-Range %q, want %q", got, tt.contRange)
			}
			if tt.status == 416 {
				return
			}
			if string(body) != string(video[tt.from:tt.to]) {
				t.Fatalf("body: %d bytes, want video[%d:%d]", len(body), tt.from, tt.to)
			}
			if resp.Header.Get("Content-Length") != fmt.Sprint(tt.to-tt.from) {
				t.Fatalf("Content-Length %q", resp.Header.Get("Content-Length"))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "video/webm" {
				t.Fatalf("Content-Type %q, want video/webm", ct)
			}
			if resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Fatal("no Accept-Ranges")
			}
		})
	}

	// A range for another version of the file gets the whole file.
	resp, body := mediaGet(t, app, "GET", videoPath, "ann", map[string]string{"Range": "bytes=0-9", "If-Range": `"old"`})
	if resp.StatusCode != 200 || len(body) != size {
		t.Fatalf("stale If-Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	etag := resp.Header.Get("ETag")
	resp, body = mediaGet(t, app, "GET", videoPath, "ann", map[string]string{"Range": "bytes=0-9", "If-Range": etag})
	if resp.StatusCode != 206 || len(body) != 10 {
		t.Fatalf("current If-Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	// HEAD: headers, no body.
	resp, body = mediaGet(t, app, "HEAD", videoPath, "ann", map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != 206 || len(body) != 0 || resp.Header.Get("Content-Length") != "100" {
		t.Fatalf("HEAD: %d, %d bytes, length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
	}
	// A symlink that stays inside the folder is served.
	resp, body = mediaGet(t, app, "GET", "/r/ROOM1/media/file/inside-link.webm", "ann", nil)
	if resp.StatusCode != 200 || len(body) != size {
		t.Fatalf("inside symlink: %d", resp.StatusCode)
	}
}

func TestMediaRefusesEscapesAndHiddenFiles(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaApp(t, root)
	tests := []struct {
		name   string
		target string
	}{
		{"dot dot", "/r/ROOM1/media/file/../../secret/leak.mp4"},
		{"dot dot inside", "/r/ROOM1/media/file/films/../../secret/leak.mp4"},
		{"encoded dot dot", "/r/ROOM1/media/file/%2e%2e/secret/leak.mp4"},
		{"encoded slash", "/r/ROOM1/media/file/..%2f..%2fsecret%2fleak.mp4"},
		{"double encoded", "/r/ROOM1/media/file/%252e%252e%252fsecret%252fleak.mp4"},
		{"backslash", "/r/ROOM1/media/file/..%5csecret%5cleak.mp4"},
		{"absolute", "/r/ROOM1/media/file/%2fetc%2fpasswd.mp4"},
		{"nul byte", "/r/ROOM1/media/file/films/Night%00.webm"},
		{"absolute symlink out", "/r/ROOM1/media/file/abs-link.mp4"},
		{"relative symlink out", "/r/ROOM1/media/file/rel-link.mp4"},
		{"through a linked folder", "/r/ROOM1/media/file/outdir/leak.mp4"},
		{"hidden folder", "/r/ROOM1/media/file/.hidden/private.mp4"},
		{"hidden file", "/r/ROOM1/media/file/.dot.mp4"},
		{"not a video", "/r/ROOM1/media/file/films/notes.txt"},
		{"missing", "/r/ROOM1/media/file/films/none.webm"},
		{"a folder", "/r/ROOM1/media/file/films"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mediaGet(t, app, "GET", tt.target, "ann", nil)
			if resp.StatusCode != 403 && resp.StatusCode != 404 && resp.StatusCode != 400 {
				t.Fatalf("%s: status %d, want 403, 404 or 400", tt.target, resp.StatusCode)
			}
			if strings.Contains(string(body), "outside the library") || strings.Contains(string(body), "hidden") && resp.StatusCode == 200 {
				t.Fatalf("%s leaked: %q", tt.target, body)
			}
		})
	}
}

func TestMediaMembersOnly(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaApp(t, root)
	for _, tt := range []struct {
		name, target, user string
		status             int
	}{
		{"no session: file", videoPath, "", 401},
		{"no session: list", "/r/ROOM1/media", "", 401},
		{"not a member: file", videoPath, "bob", 403},
		{"not a member: list", "/r/ROOM1/media?q=night", "bob", 403},
		{"not a member: subtitles", "/r/ROOM1/media/file/films/Night%20Walk.fr.srt", "bob", 403},
		{"unknown room", "/r/NOPE/media/file/films/Night%20Walk.webm", "ann", 404},
		{"member", videoPath, "ann", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mediaGet(t, app, "GET", tt.target, tt.user, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 200 && len(body) > 0 && strings.Contains(string(body), "\x07") {
				t.Fatal("refusal carried file content")
			}
		})
	}
}

func TestMediaSubtitles(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaApp(t, root)
	resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media/file/films/Night%20Walk.fr.srt", "ann", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/vtt") {
		t.Fatalf("srt: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want := "WEBVTT\n\n00:00:01.500 --> 00:00:02.000\nbonjour <i>toi</i>\n"
	if !strings.HasPrefix(string(body), "WEBVTT") || !strings.Contains(string(body), "00:00:01.500 --> 00:00:02.000\nbonjour <i>toi</i>") {
		t.Fatalf("converted:\n%s\nwant like:\n%s", body, want)
	}
	resp, body = mediaGet(t, app, "GET", "/r/ROOM1/media/file/films/Night%20Walk.en.vtt", "ann", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/vtt") || !strings.HasPrefix(string(body), "WEBVTT") {
		t.Fatalf("vtt: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = mediaGet(t, app, "GET", "/r/ROOM1/media/file/films/broken.srt", "ann", nil)
	if resp.StatusCode != 422 {
		t.Fatalf("broken srt: %d, want 422", resp.StatusCode)
	}
}

func TestMediaList(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaApp(t, root)
	resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media?q=night", "ann", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	s := string(body)
	for _, want := range []string{
		`"path":"films/Night Walk.webm"`, `"link":"media:films/Night Walk.webm"`, `"contentType":"video/webm"`,
		`"url":"/r/ROOM1/media/file/films/Night%20Walk.webm"`, `"path":"films/Night Walk.fr.srt"`, `"format":"srt"`,
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("list lacks %s:\n%s", want, s)
		}
	}
	for _, bad := range []string{"leak", "private", ".dot", "notes.txt"} {
		if strings.Contains(s, bad) {
			t.Fatalf("list shows %s:\n%s", bad, s)
		}
	}
	_, body = mediaGet(t, app, "GET", "/r/ROOM1/media?q=nothing+matches", "ann", nil)
	if !strings.Contains(string(body), `"entries":[]`) {
		t.Fatalf("empty search: %s", body)
	}
}

// TestMediaSearchesLimited: a member lists and searches the library at most
// limits.media_searches_per_10s times per 10 s; more are answered 429 with
// Retry-After.
func TestMediaSearchesLimited(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaAppLimited(t, root, limit.NewKeyed(3, 10*time.Second))
	for i := range 3 {
		if resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media?q=night", "ann", nil); resp.StatusCode != 200 {
			t.Fatalf("search %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media?q=night", "ann", nil)
	if resp.StatusCode != fiber.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("search 4 within 10 s: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		h             string
		size          int64
		start, length int64
		ok, use       bool
	}{
		{"bytes=0-0", 1, 0, 1, true, true},
		{"bytes=0-", 0, 0, 0, false, false},
		{"bytes=-1", 0, 0, 0, false, false},
		{" bytes = 5 - 9 ", 10, 5, 5, true, true},
		{"BYTES=1-1", 10, 1, 1, true, true},
		{"bytes=99999999999999999999-", 10, 0, 0, false, false},
		{"bytes", 10, 0, 0, true, false},
	}
	for _, tt := range tests {
		s, n, ok, use := parseRange(tt.h, tt.size)
		if s != tt.start || n != tt.length || ok != tt.ok || use != tt.use {
			t.Errorf("parseRange(%q, %d) = %d,%d,%v,%v want %d,%d,%v,%v", tt.h, tt.size, s, n, ok, use, tt.start, tt.length, tt.ok, tt.use)
		}
	}
}

// TestMediaFileVersionKept: the play answer names the file's version; a
// request for that version may be kept by the browser (a seek into what it
// loaded then needs no round trip), a request without it or for an older
// version is asked again each time, and a replaced file has a new version.
func TestMediaFileVersionKept(t *testing.T) {
	root, _ := mediaFixture(t)
	app := newMediaApp(t, root)
	resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media/play?f=films/Night%20Walk.webm", "ann", nil)
	var play struct{ URL string }
	if err := json.Unmarshal(body, &play); err != nil || resp.StatusCode != 200 {
		t.Fatalf("play: %d %s (%v)", resp.StatusCode, body, err)
	}
	path, v, ok := strings.Cut(play.URL, "?v=")
	if !ok || path != videoPath || v == "" {
		t.Fatalf("play URL %q; want %s?v=<version>", play.URL, videoPath)
	}
	cache := func(target string) string {
		t.Helper()
		resp, _ := mediaGet(t, app, "GET", target, "ann", map[string]string{"Range": "bytes=0-99"})
		if resp.StatusCode != 206 {
			t.Fatalf("%s: status %d", target, resp.StatusCode)
		}
		return resp.Header.Get("Cache-Control")
	}
	if got := cache(play.URL); !strings.Contains(got, "immutable") || !strings.Contains(got, "private") {
		t.Errorf("the current version: Cache-Control %q; want private and immutable", got)
	}
	for _, target := range []string{videoPath, videoPath + "?v=old"} {
		if got := cache(target); got != "private, no-cache" {
			t.Errorf("%s: Cache-Control %q; want private, no-cache", target, got)
		}
	}
	// The file is replaced: the old version is asked again each time.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "films", "Night Walk.webm"), later, later); err != nil {
		t.Fatal(err)
	}
	if got := cache(play.URL); got != "private, no-cache" {
		t.Errorf("a replaced file's old version: Cache-Control %q; want private, no-cache", got)
	}
}

// TestMediaPlayTail: the play answer of an MP4 whose index (moov) follows
// its media data names where the page asks for the file's end first: the
// start of the 32 KB block holding the moov, and the versioned file from
// there holds the whole moov; a WebM's names the block holding its cues.
// An MP4 with its moov first, a WebM with its cues first and a file that
// only starts like a WebM get none.
func TestMediaPlayTail(t *testing.T) {
	root := t.TempDir()
	spec := mediatest.Spec{Seconds: 6}
	mediatest.MakeSpec(t, root, mediatest.MP4MoovEnd, "end.mp4", spec)
	mediatest.MakeSpec(t, root, mediatest.MP4, "fast.mp4", spec)
	mediatest.MakeSpec(t, root, mediatest.WebM, "cues-end.webm", spec)
	mediatest.MakeSpec(t, root, mediatest.WebMCuesFront, "cues-front.webm", spec)
	if err := os.WriteFile(filepath.Join(root, "clip.webm"), []byte("\x1a\x45\xdf\xa3 not much of a webm"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := newMediaApp(t, root)
	play := func(name string) (url string, tail int64, hasTail bool) {
		t.Helper()
		resp, body := mediaGet(t, app, "GET", "/r/ROOM1/media/play?f="+name, "ann", nil)
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("play %s: %d %s (%v)", name, resp.StatusCode, body, err)
		}
		n, ok := p["tail"].(float64)
		return p["url"].(string), int64(n), ok
	}
	for _, name := range []string{"fast.mp4", "clip.webm", "cues-front.webm"} {
		if _, tail, ok := play(name); ok {
			t.Errorf("%s: tail %d in the play answer; want none", name, tail)
		}
	}
	webm, err := os.ReadFile(filepath.Join(root, "cues-end.webm"))
	if err != nil {
		t.Fatal(err)
	}
	cues := int64(bytes.LastIndex(webm, []byte{0x1c, 0x53, 0xbb, 0x6b}))
	if _, tail, ok := play("cues-end.webm"); !ok || tail != cues/(32<<10)*(32<<10) || tail == 0 {
		t.Errorf("cues-end.webm: tail %d (given: %v); want %d, the 32 KB block holding the cues at %d", tail, ok, cues/(32<<10)*(32<<10), cues)
	}

	u, tail, ok := play("end.mp4")
	f, err := os.Open(filepath.Join(root, "end.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	boxes, err := media.ReadTopBoxes(f, info.Size())
	if err != nil || boxes.Moov.Offset < boxes.Mdat.Offset {
		t.Fatalf("end.mp4: moov %+v, mdat %+v (%v); want the moov last", boxes.Moov, boxes.Mdat, err)
	}
	if !ok || tail != boxes.Moov.Offset/(32<<10)*(32<<10) || tail == 0 {
		t.Fatalf("end.mp4: tail %d (given: %v); want %d, the 32 KB block holding the moov at %d", tail, ok, boxes.Moov.Offset/(32<<10)*(32<<10), boxes.Moov.Offset)
	}
	target := strings.TrimPrefix(u, "http://x.test")
	resp, body := mediaGet(t, app, "GET", target, "ann", map[string]string{"Range": fmt.Sprintf("bytes=%d-", tail)})
	at := boxes.Moov.Offset - tail
	if resp.StatusCode != 206 || int64(len(body)) != info.Size()-tail || string(body[at+4:at+8]) != "moov" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("the tail from %d: %d, %d bytes, Cache-Control %q; want 206, the file's end with its moov at %d, kept",
			tail, resp.StatusCode, len(body), resp.Header.Get("Cache-Control"), at)
	}
}
