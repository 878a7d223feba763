package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/limit"
	"watchparty/engine/media"
	"watchparty/engine/room"
)

// The media library over HTTP, for members of a room:
//
//	GET /r/:code/media?dir=d | ?q=words  a folder of the library, or a search
//	GET /r/:code/media/file/*    a video, with Range support, or a subtitle
//	                             (.srt and .ass are converted to WebVTT)
//	GET /r/:code/media/play?f=   how a library file plays (direct or HLS),
//	                             its audio, subtitle and rendition choices
//	GET /r/:code/media/poster?f= its poster
//	GET /r/:code/media/subs?f=&s=  an embedded text subtitle as WebVTT
//	GET /r/:code/media/hls/...   HLS playlists and segments (media_hls.go)
//
// Files are opened through media.Library, which confines them to the media
// folder (os.Root) and refuses hidden, escaping and malformed paths.

// memberCheck reports nil when user uid may use room code, an error wrapping
// errNotMember or errNoRoom otherwise.
type memberCheck func(ctx context.Context, code, uid string) error

var (
	errNotMember = errors.New("not a member of this room")
	errNoRoom    = errors.New("no such room")
)

// mediaLimit is the most entries one listing returns.
const mediaLimit = 500

type mediaHandler struct {
	m      *Media
	member memberCheck
	user   func(c *fiber.Ctx) (uid string, ok bool)
	// current is what room code plays now (nil for nothing).
	current func(ctx context.Context, code string) *room.Video
	base    string
	// searches limits library searches per member.
	searches *limit.Keyed
}

// MediaFileURL is the path a member's browser loads a library file from.
func mediaFileURL(base, code, rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + "/r/" + url.PathEscape(code) + "/media/file/" + strings.Join(segs, "/")
}

func (h *mediaHandler) routes(r fiber.Router) {
	g := r.Group("/r/:code/media", h.requireMember)
	g.Get("/", h.list)
	g.Get("/file/*", h.file)
	g.Get("/play", h.play)
	g.Get("/poster", h.poster)
	g.Get("/subs", h.subs)
	g.Get("/hls/master.m3u8", h.master)
	g.Get("/hls/:rend/:track", h.playlist)
	g.Get("/hls/:rend/:track/:seg", h.segment)
}

func (h *mediaHandler) requireMember(c *fiber.Ctx) error {
	uid, ok := h.user(c)
	if !ok {
		return fiber.NewError(fiber.StatusUnauthorized, "Log in to use this room's media.")
	}
	switch err := h.member(c.UserContext(), c.Params("code"), uid); {
	case err == nil:
		c.Locals("mediaUser", uid)
		return c.Next()
	case errors.Is(err, errNoRoom):
		return fiber.NewError(fiber.StatusNotFound, "No room has this code.")
	case errors.Is(err, errNotMember):
		return fiber.NewError(fiber.StatusForbidden, "Only members of this room can use its media.")
	default:
		return err
	}
}

type mediaSubtitle struct {
	media.Subtitle
	URL string `json:"url"`
}

type mediaEntry struct {
	Path        string          `json:"path"`
	Name        string          `json:"name"`
	Size        int64           `json:"size"`
	ContentType string          `json:"contentType"`
	Link        string          `json:"link"` // for the link box: media:<path>
	URL         string          `json:"url"`
	Poster      string          `json:"poster"`
	Subtitles   []mediaSubtitle `json:"subtitles"`
	// From the probe, once known.
	Probed   bool    `json:"probed"`
	Duration float64 `json:"duration,omitempty"`
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	Mode     string  `json:"mode,omitempty"`   // direct, remux, transcode, or unplayable
	Reason   string  `json:"reason,omitempty"` // why not direct, or why unplayable
	// Resume is where this room left the file (seconds), 0 when none.
	Resume float64 `json:"resume,omitempty"`
	// Burn lists the picture subtitles that may be burnt in.
	Burn []playTrack `json:"burn,omitempty"`
}

func (h *mediaHandler) list(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	m := h.m
	if !m.Lib.Enabled() {
		return c.JSON(fiber.Map{"enabled": false, "entries": []mediaEntry{}})
	}
	q := c.Query("q")
	if len(q) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "The search may be at most 200 characters.")
	}
	if ok, wait := h.searches.Allow(c.Locals("mediaUser").(string)); !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return fiber.NewError(fiber.StatusTooManyRequests, "Too many library searches; wait a moment.")
	}
	code := c.Params("code")
	var entries []media.Entry
	folder := media.Folder{Folders: []string{}}
	var err error
	if strings.TrimSpace(q) != "" {
		entries, err = m.Index.List(q, mediaLimit)
	} else {
		folder, err = m.Index.Browse(c.Query("dir"))
		entries = folder.Videos
	}
	switch {
	case errors.Is(err, media.ErrNoFolder), errors.Is(err, media.ErrForbidden):
		return fiber.NewError(fiber.StatusNotFound, "No such folder in the media library.")
	case err != nil:
		return err
	}
	var resume map[string]float64
	if m.Resume != nil {
		resume, _ = m.Resume.Positions(code)
	}
	out := make([]mediaEntry, 0, len(entries))
	for _, e := range entries {
		if len(out) == mediaLimit {
			break
		}
		out = append(out, h.entry(code, e, resume[e.Path]))
	}
	missing := ""
	if m.Tools != nil {
		missing = m.Tools.Missing()
	}
	return c.JSON(fiber.Map{"enabled": true, "dir": folder.Path, "folders": folder.Folders, "entries": out,
		"search": strings.TrimSpace(q) != "", "transcoding": m.Jobs != nil, "missing": missing})
}

func (h *mediaHandler) entry(code string, e media.Entry, resume float64) mediaEntry {
	q := "?f=" + url.QueryEscape(e.Path)
	me := mediaEntry{Path: e.Path, Name: e.Name, Size: e.Size, ContentType: e.ContentType,
		Link: media.LibraryPrefix + e.Path, URL: mediaFileURL(h.base, code, e.Path), Subtitles: []mediaSubtitle{},
		Poster: h.base + "/r/" + url.PathEscape(code) + "/media/poster" + q, Resume: resume}
	for _, s := range e.Subtitles {
		me.Subtitles = append(me.Subtitles, mediaSubtitle{Subtitle: s, URL: mediaFileURL(h.base, code, s.Path)})
	}
	if h.m.Catalog == nil {
		return me
	}
	p, ok := h.m.Catalog.Cached(e.Path, e.Size, e.ModTime)
	if !ok {
		h.m.probeLater(e.Path)
		return me
	}
	me.Probed = true
	if p.Err != "" {
		me.Mode, me.Reason = "unplayable", p.Err
		return me
	}
	me.Duration = p.Info.Duration
	if v := p.Info.Video(); v != nil {
		me.Width, me.Height = v.Width, v.Height
	}
	me.Mode, me.Reason = string(p.Decision.Mode), p.Decision.Reason()
	if h.m.Jobs != nil {
		me.Burn = burnTracks(p.Info)
	}
	if p.Decision.Mode != media.Direct && h.m.Jobs == nil {
		me.Mode, me.Reason = "unplayable", me.Reason+"; the server has no ffmpeg to convert it"
	}
	return me
}

func (h *mediaHandler) file(c *fiber.Ctx) error {
	raw := c.Params("*")
	rel, err := url.PathUnescape(raw)
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "The file path is not valid.")
	}
	f, info, err := h.m.Lib.Open(rel)
	switch {
	case errors.Is(err, media.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "This file cannot be served.")
	case errors.Is(err, media.ErrNotFound), errors.Is(err, media.ErrNoLibrary):
		return fiber.NewError(fiber.StatusNotFound, "No such file in the media library.")
	case err != nil:
		return err
	}
	if ext := strings.ToLower(path.Ext(rel)); ext == ".ass" || ext == ".ssa" {
		f.Close()
		if h.m.Jobs == nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "ASS subtitles need ffmpeg on the server.")
		}
		vtt, err := h.m.Jobs.SidecarVTT(c.UserContext(), rel)
		if err != nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "The subtitle file could not be converted.")
		}
		c.Set(fiber.HeaderContentType, "text/vtt; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		return c.Send(vtt)
	}
	if strings.EqualFold(path.Ext(rel), ".srt") {
		defer f.Close()
		var vtt bytes.Buffer
		if err := media.SRTToVTT(f, &vtt); err != nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "The subtitle file could not be converted.")
		}
		c.Set(fiber.HeaderContentType, "text/vtt; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		return c.Send(vtt.Bytes())
	}
	ctype := media.ContentType(rel)
	if ctype == "text/vtt" {
		ctype += "; charset=utf-8"
	}
	return serveRange(c, f, info.Size(), info.ModTime(), ctype, c.Query("v") == fileVersion(info.Size(), info.ModTime()))
}

// fileVersion names a version of a library file (its time and size). The
// /media/play answer's URL carries it (?v=): a range of the version the
// file still has may be kept by the browser and used again without asking
// the server (a seek back into loaded media, or a joiner's seek into what
// its first request already brought, then costs no round trip). A file
// replaced since has another version: its old URL is answered with the new
// content, to be asked again each time.
func fileVersion(size int64, mod time.Time) string {
	return strconv.FormatInt(mod.UnixNano(), 36) + "-" + strconv.FormatInt(size, 36)
}

// serveRange answers a GET or HEAD for a file of size bytes with one byte
// range when asked (206), the whole file otherwise (200), or 416 for a
// malformed or unsatisfiable range. It takes ownership of f. keep: the
// request names the file's current version (fileVersion), so the browser
// may keep the answer.
func serveRange(c *fiber.Ctx, f io.ReadSeekCloser, size int64, mod time.Time, ctype string, keep bool) error {
	lastMod := mod.UTC().Format(http.TimeFormat)
	etag := `"` + fileVersion(size, mod) + `"`
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderLastModified, lastMod)
	c.Set(fiber.HeaderETag, etag)
	if keep {
		c.Set(fiber.HeaderCacheControl, "private, max-age=86400, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
	}

	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && inm == etag {
		f.Close()
		return c.SendStatus(fiber.StatusNotModified)
	}
	start, length := int64(0), size
	status := fiber.StatusOK
	if rh := c.Get(fiber.HeaderRange); rh != "" {
		// A range for another version of the file is ignored (If-Range).
		if ir := c.Get(fiber.HeaderIfRange); ir == "" || ir == etag || ir == lastMod {
			s, n, ok, use := parseRange(rh, size)
			if !ok {
				f.Close()
				c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
				c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
				return c.Status(fiber.StatusRequestedRangeNotSatisfiable).SendString("The requested range is not satisfiable.")
			}
			if use {
				start, length, status = s, n, fiber.StatusPartialContent
				c.Set(fiber.HeaderContentRange, "bytes "+strconv.FormatInt(s, 10)+"-"+strconv.FormatInt(s+n-1, 10)+"/"+strconv.FormatInt(size, 10))
			}
		}
	}
	c.Status(status)
	if c.Method() == fiber.MethodHead {
		f.Close()
		c.Response().Header.SetContentLength(int(length))
		c.Response().SkipBody = true
		return nil
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	// fasthttp closes the stream (an io.Closer) once it is sent.
	c.Response().SetBodyStream(&limitedFile{r: io.LimitReader(f, length), c: f}, int(length))
	return nil
}

type limitedFile struct {
	r io.Reader
	c io.Closer
}

func (l *limitedFile) Read(p []byte) (int, error) { return l.r.Read(p) }
func (l *limitedFile) Close() error               { return l.c.Close() }

// parseRange reads a Range header for a resource of size bytes. use is
// false when the header should be ignored (another unit, or several
// ranges, which browsers do not ask for media: the whole file is sent);
// ok is false when the range is malformed or unsatisfiable (416).
func parseRange(h string, size int64) (start, length int64, ok, use bool) {
	unit, spec, found := strings.Cut(strings.TrimSpace(h), "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return 0, 0, true, false
	}
	if strings.Contains(spec, ",") {
		return 0, 0, true, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// A suffix: the last n bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	s, err := strconv.ParseInt(first, 10, 64)
	if err != nil || s < 0 || s >= size {
		return 0, 0, false, false
	}
	e := size - 1
	if last != "" {
		e, err = strconv.ParseInt(last, 10, 64)
		if err != nil || e < s {
			return 0, 0, false, false
		}
		e = min(e, size-1)
	}
	return s, e - s + 1, true, true
}
