package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/media"
	"watchparty/engine/transcode"
)

// How a library file plays, for the player:
//
//	GET /r/:code/media/play?f=PATH[&burn=N]
//
// and its HLS form, produced by the transcoder and shared by every member:
//
//	GET /r/:code/media/hls/master.m3u8?f=PATH[&burn=N]
//	GET /r/:code/media/hls/REND/v.m3u8?f=..   (video)   a0.m3u8, a1.m3u8 (audio tracks)
//	GET /r/:code/media/hls/REND/v/00012.ts?f=..          a segment
//
// Playlists and segments are served only for the video the room plays now,
// so a member cannot make the server convert other files.

type playTrack struct {
	Index   int    `json:"index"` // audio: the track number in the master playlist; subtitles: stream index
	Label   string `json:"label"`
	Lang    string `json:"lang,omitempty"`
	Default bool   `json:"default,omitempty"`
	URL     string `json:"url,omitempty"`
	Kind    string `json:"kind,omitempty"` // subtitles: text or picture
}

type playInfo struct {
	Mode       string      `json:"mode"` // direct, remux, transcode
	Reason     string      `json:"reason,omitempty"`
	URL        string      `json:"url"`
	HLS        bool        `json:"hls"`
	Duration   float64     `json:"duration,omitempty"`
	Tail       int64       `json:"tail,omitempty"` // where a page loads the file's end from first (see snapshot.go); 0: no need
	Audio      []playTrack `json:"audio"`
	Subtitles  []playTrack `json:"subtitles"`
	Burn       []playTrack `json:"burn"` // picture subtitles the owner may burn in
	Renditions []string    `json:"renditions"`
	Heights    []int       `json:"heights"` // each rendition's height: hls.js orders its levels by bitrate
	Default    int         `json:"default"` // index of the rendition to start on
	Missing    string      `json:"missing,omitempty"`
}

func (h *mediaHandler) fileParam(c *fiber.Ctx) (rel string, burn int, err error) {
	rel = c.Query("f")
	if rel == "" || len(rel) > 1024 {
		return "", 0, fiber.NewError(fiber.StatusBadRequest, "Name a library file (f=).")
	}
	burn = -1
	if b := c.Query("burn"); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil || n <= 0 || n > 1000 {
			return "", 0, fiber.NewError(fiber.StatusBadRequest, "burn= is a subtitle stream number.")
		}
		burn = n
	}
	return rel, burn, nil
}

// mediaError turns media and transcode errors into what a member reads.
func mediaError(c *fiber.Ctx, err error) error {
	var busy *transcode.BusyError
	var failed *transcode.FailedError
	switch {
	case errors.As(err, &busy):
		// Not a failure: the member is told why the video waits.
		c.Set(fiber.HeaderRetryAfter, "2")
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusServiceUnavailable).SendString(busy.Error())
	case errors.As(err, &failed):
		return fiber.NewError(fiber.StatusUnprocessableEntity, failed.Error())
	case errors.Is(err, media.ErrUnreadable):
		return fiber.NewError(fiber.StatusUnprocessableEntity, "This file cannot be played: "+err.Error()+".")
	case errors.Is(err, media.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "This file cannot be served.")
	case errors.Is(err, media.ErrNotFound), errors.Is(err, media.ErrNoLibrary):
		return fiber.NewError(fiber.StatusNotFound, "No such file in the media library.")
	case errors.Is(err, transcode.ErrNoRendition), errors.Is(err, transcode.ErrNoSegment), errors.Is(err, transcode.ErrNoSubtitle):
		return fiber.NewError(fiber.StatusNotFound, "No such part of this video.")
	case errors.Is(err, transcode.ErrDirect):
		return fiber.NewError(fiber.StatusConflict, "This file plays as it is.")
	case errors.Is(err, media.ErrNoFFmpeg):
		return fiber.NewError(fiber.StatusUnprocessableEntity, "The server has no ffmpeg to read this file.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fiber.NewError(fiber.StatusServiceUnavailable, "The request ended before the video was ready.")
	}
	return err
}

func (h *mediaHandler) roomURL(code, rest string) string {
	return h.base + "/r/" + url.PathEscape(code) + "/media/" + rest
}

func hlsQuery(rel string, burn int) string {
	q := "?f=" + url.QueryEscape(rel)
	if burn > 0 {
		q += "&burn=" + strconv.Itoa(burn)
	}
	return q
}

func (h *mediaHandler) play(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	rel, burn, err := h.fileParam(c)
	if err != nil {
		return err
	}
	out, warm, err := h.playAnswer(c.UserContext(), c.Params("code"), rel, burn, true)
	if err != nil {
		return mediaError(c, err)
	}
	if warm != "" {
		h.warm(c, rel, burn, warm)
	}
	return c.JSON(out)
}

// errNotProbed: the file's probe is not stored yet (playAnswer without probe).
var errNotProbed = errors.New("not probed yet")

// playAnswer is how library file rel (with burn) plays in room code: the
// /media/play answer. probe false takes only a stored probe (errNotProbed
// when there is none). warm names the rendition to start converting, when
// the file is converted.
func (h *mediaHandler) playAnswer(ctx context.Context, code, rel string, burn int, probe bool) (out playInfo, warm string, err error) {
	m := h.m
	f, info, err := m.Lib.Open(rel)
	if err != nil {
		return out, "", err
	}
	// A file whose index follows its media data (an MP4's moov, a WebM's
	// cues): the page asks for the end first (a few reads of headers).
	tail := media.EarlyTail(f, info.Size())
	f.Close()
	out = playInfo{Mode: string(media.Direct), URL: mediaFileURL(h.base, code, rel) + "?v=" + fileVersion(info.Size(), info.ModTime()), Tail: tail, Audio: []playTrack{},
		Subtitles: []playTrack{}, Burn: []playTrack{}, Renditions: []string{}, Heights: []int{}}
	if e, ok := m.Index.Lookup(rel); ok {
		for _, s := range e.Subtitles {
			out.Subtitles = append(out.Subtitles, playTrack{Label: s.Label, Lang: s.Lang, URL: mediaFileURL(h.base, code, s.Path), Kind: "text"})
		}
	}
	if m.Tools != nil {
		out.Missing = m.Tools.Missing()
	}
	if m.Catalog == nil || m.Catalog.Prober.Path == "" {
		return out, "", nil // without ffprobe, every file is tried as it is
	}
	var p media.Probed
	if probe {
		p, err = m.Catalog.Describe(ctx, rel)
	} else if cached, ok := m.Catalog.Cached(rel, info.Size(), info.ModTime()); ok {
		p, err = cached, nil
		if p.Err != "" {
			err = media.ErrUnreadable
		}
	} else {
		err = errNotProbed
	}
	if err != nil {
		return out, "", err
	}
	out.Mode, out.Reason, out.Duration = string(p.Decision.Mode), p.Decision.Reason(), p.Info.Duration
	q := hlsQuery(rel, burn)
	out.Burn = burnTracks(p.Info)
	for _, s := range p.Info.Subtitles() {
		if transcode.PictureSubtitle(s.Codec) {
			continue
		}
		label := media.TrackLabel(s, len(out.Subtitles)+1)
		out.Subtitles = append(out.Subtitles, playTrack{Index: s.Index, Label: label, Lang: s.Language, Default: s.Default && s.Forced, Kind: "text",
			URL: h.roomURL(code, "subs?f="+url.QueryEscape(rel)+"&s="+strconv.Itoa(s.Index))})
	}
	if p.Decision.Mode == media.Direct && burn < 0 {
		return out, "", nil
	}
	if m.Jobs == nil {
		out.Mode = "unplayable"
		return out, "", nil
	}
	st, err := m.Jobs.Describe(ctx, rel, burn)
	if err != nil {
		return out, "", err
	}
	if burn > 0 {
		out.Mode = string(media.Transcode)
	}
	out.HLS, out.URL, out.Tail = true, h.roomURL(code, "hls/master.m3u8"+q), 0
	for i, a := range st.Audio {
		out.Audio = append(out.Audio, playTrack{Index: i, Label: media.TrackLabel(a, i+1), Lang: a.Language, Default: i == defaultAudio(st.Audio)})
	}
	out.Default = -1
	for i, r := range st.Renditions {
		name := r.Name + "p"
		if r.Copy {
			name = "source (" + strconv.Itoa(r.Height) + "p)"
		}
		out.Renditions = append(out.Renditions, name)
		out.Heights = append(out.Heights, r.Height)
		// The copied source costs nothing; else the tallest at most
		// DefaultHeight.
		if out.Default < 0 && (r.Copy || r.Height <= h.m.DefaultHeight) {
			out.Default = i
		}
	}
	if out.Default < 0 {
		out.Default = len(st.Renditions) - 1
	}
	return out, st.Renditions[out.Default].Name, nil
}

// warmWindow is how recently a video must have been put on for the first
// member asking how it plays to start its conversion.
const warmWindow = 5 * time.Second

// warm starts converting a video the room has just put on, from where it
// starts, on the rendition members start with: the first member to ask how
// it plays starts it, a few round trips before any player asks for a
// segment. A video put on a while ago is left to the players' requests.
func (h *mediaHandler) warm(c *fiber.Ctx, rel string, burn int, rend string) {
	v := h.current(c.UserContext(), c.Params("code"))
	if v == nil || v.URL != libraryLink(rel, burn) || time.Since(time.UnixMilli(v.At)) > warmWindow {
		return
	}
	key := transcode.Key{Path: rel, Rendition: rend, Burn: burn}
	if err := h.m.Jobs.Warm(c.UserContext(), c.Params("code"), key, v.Start); err != nil {
		h.m.log.Debug("media: starting a conversion early", "file", rel, "err", err)
	}
}

// burnTracks lists a file's picture subtitles (PGS, VobSub, DVB), which
// browsers cannot show: the owner may have one burnt into the video.
func burnTracks(info *media.Info) []playTrack {
	out := []playTrack{}
	for _, s := range info.Subtitles() {
		if transcode.PictureSubtitle(s.Codec) {
			out = append(out, playTrack{Index: s.Index, Label: media.TrackLabel(s, len(out)+1) + " (" + media.CodecName(s.Codec) + ")",
				Lang: s.Language, Kind: "picture"})
		}
	}
	return out
}

// defaultAudio is the track marked default, or the first.
func defaultAudio(audio []media.Stream) int {
	for i, a := range audio {
		if a.Default {
			return i
		}
	}
	return 0
}

// libraryLink is the room's link to library file rel (with burn).
func libraryLink(rel string, burn int) string {
	if burn > 0 {
		return media.LibraryPrefix + rel + "#burn=" + strconv.Itoa(burn)
	}
	return media.LibraryPrefix + rel
}

// playing checks that room code plays library file rel (with burn) now.
func (h *mediaHandler) playing(c *fiber.Ctx, rel string, burn int) error {
	if h.m.Jobs == nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "The server has no ffmpeg to convert videos.")
	}
	if v := h.current(c.UserContext(), c.Params("code")); v == nil || v.URL != libraryLink(rel, burn) {
		return fiber.NewError(fiber.StatusConflict, "The room does not play this video now.")
	}
	return nil
}

func (h *mediaHandler) master(c *fiber.Ctx) error {
	rel, burn, err := h.fileParam(c)
	if err != nil {
		return err
	}
	if err := h.playing(c, rel, burn); err != nil {
		return err
	}
	st, err := h.m.Jobs.Describe(c.UserContext(), rel, burn)
	if err != nil {
		return mediaError(c, err)
	}
	q := hlsQuery(rel, burn)
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	def := defaultAudio(st.Audio)
	for _, r := range st.Renditions {
		group := "a-" + r.Name
		names := map[string]int{}
		for i, a := range st.Audio {
			name := media.TrackLabel(a, i+1)
			if names[name]++; names[name] > 1 {
				name += " (" + strconv.Itoa(names[name]) + ")"
			}
			yes := map[bool]string{true: "YES", false: "NO"}[i == def]
			lang := ""
			if a.Language != "" {
				lang = `,LANGUAGE="` + a.Language + `"`
			}
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"%s\",NAME=\"%s\"%s,DEFAULT=%s,AUTOSELECT=%s,URI=\"%s/a%d.m3u8%s\"\n",
				group, strings.ReplaceAll(name, `"`, "'"), lang, yes, yes, r.Name, i, q)
		}
		kbps := r.Kbps
		if r.Copy {
			kbps = int(st.Probed.Info.Bitrate / 1000)
		}
		kbps = max(kbps, 300) + 128
		audio := ""
		codecs := "avc1.640028"
		if len(st.Audio) > 0 {
			audio = `,AUDIO="` + group + `"`
			codecs += ",mp4a.40.2"
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\"%s\n%s/v.m3u8%s\n",
			kbps*1000, r.Width, r.Height, codecs, audio, r.Name, q)
	}
	c.Set(fiber.HeaderContentType, "application/vnd.apple.mpegurl")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(b.String())
}

// trackParam reads "v", "a0", "a1" ... (with an extension) as a track number.
func trackParam(s, ext string) (int, bool) {
	s, ok := strings.CutSuffix(s, ext)
	if !ok {
		return 0, false
	}
	if s == "v" {
		return 0, true
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "a")); err == nil && strings.HasPrefix(s, "a") && n >= 0 && n < 64 {
		return n + 1, true
	}
	return 0, false
}

func (h *mediaHandler) playlist(c *fiber.Ctx) error {
	rel, burn, err := h.fileParam(c)
	if err != nil {
		return err
	}
	track, ok := trackParam(c.Params("track"), ".m3u8")
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "No such playlist.")
	}
	if err := h.playing(c, rel, burn); err != nil {
		return err
	}
	key := transcode.Key{Path: rel, Rendition: c.Params("rend"), Burn: burn}
	name := strings.TrimSuffix(c.Params("track"), ".m3u8")
	q := hlsQuery(rel, burn)
	pl, err := h.m.Jobs.Playlist(c.UserContext(), key, track, func(i int) string { return fmt.Sprintf("%s/%05d.ts%s", name, i, q) })
	if err != nil {
		return mediaError(c, err)
	}
	c.Set(fiber.HeaderContentType, "application/vnd.apple.mpegurl")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(pl)
}

func (h *mediaHandler) segment(c *fiber.Ctx) error {
	rel, burn, err := h.fileParam(c)
	if err != nil {
		return err
	}
	track, ok := trackParam(c.Params("track"), "")
	seg, err := strconv.Atoi(strings.TrimSuffix(c.Params("seg"), ".ts"))
	if !ok || err != nil || !strings.HasSuffix(c.Params("seg"), ".ts") {
		return fiber.NewError(fiber.StatusNotFound, "No such segment.")
	}
	if err := h.playing(c, rel, burn); err != nil {
		return err
	}
	key := transcode.Key{Path: rel, Rendition: c.Params("rend"), Burn: burn}
	f, err := h.m.Jobs.Segment(c.UserContext(), c.Params("code"), key, track, seg)
	if err != nil {
		return mediaError(c, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "video/mp2t")
	c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	c.Response().SetBodyStream(&limitedFile{r: io.LimitReader(f, info.Size()), c: f}, int(info.Size()))
	return nil
}

func (h *mediaHandler) subs(c *fiber.Ctx) error {
	rel, _, err := h.fileParam(c)
	if err != nil {
		return err
	}
	s, err := strconv.Atoi(c.Query("s"))
	if err != nil || s < 0 || s > 1000 {
		return fiber.NewError(fiber.StatusBadRequest, "s= is a subtitle stream number.")
	}
	if h.m.Jobs == nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Embedded subtitles need ffmpeg on the server.")
	}
	vtt, err := h.m.Jobs.SubtitleVTT(c.UserContext(), rel, s)
	if err != nil {
		return mediaError(c, err)
	}
	c.Set(fiber.HeaderContentType, "text/vtt; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	return c.Send(vtt)
}

func (h *mediaHandler) poster(c *fiber.Ctx) error {
	rel, _, err := h.fileParam(c)
	if err != nil {
		return err
	}
	if h.m.Jobs == nil {
		return fiber.NewError(fiber.StatusNotFound, "No poster: the server has no ffmpeg.")
	}
	data, ctype, err := h.m.Jobs.Poster(c.UserContext(), rel)
	if err != nil {
		return mediaError(c, err)
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	return c.Send(data)
}
