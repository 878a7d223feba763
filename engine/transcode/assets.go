package transcode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"watchparty/engine/media"
)

// Limits of the one-shot ffmpeg runs.
const (
	maxVTTBytes     = 16 << 20
	maxPosterBytes  = 4 << 20
	subtitleTimeout = 3 * time.Minute
	posterTimeout   = 30 * time.Second
	// PosterWidth is the width of grabbed posters.
	PosterWidth = 320
)

// ErrNoSubtitle means the stream asked for is not a text subtitle of the file.
var ErrNoSubtitle = errors.New("no such text subtitle in this file")

// assetKey names a cached file made from a library file: it changes when
// the file changes.
func assetKey(kind, rel string, size, mtime int64, extra string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00%s", rel, size, mtime, extra)))
	return kind + "/" + hex.EncodeToString(sum[:12])
}

func (m *Manager) oneShot(ctx context.Context, timeout time.Duration, rel string, image bool, limit int, args ...string) ([]byte, error) {
	if m.cfg.FFmpeg == "" {
		return nil, media.ErrNoFFmpeg
	}
	select {
	case m.assetSem() <- struct{}{}:
		defer func() { <-m.assetSem() }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	open := m.cat.Lib.Open
	if image {
		open = m.cat.Lib.OpenImage
	}
	f, _, err := open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-protocol_whitelist", "file"}
	return media.RunTool(ctx, m.cfg.FFmpeg, f, limit, append(base, args...)...)
}

// assetSem bounds the one-shot runs (subtitles, posters) at two at a time.
func (m *Manager) assetSem() chan struct{} {
	m.assetOnce.Do(func() { m.assets = make(chan struct{}, 2) })
	return m.assets
}

// SubtitleVTT returns the embedded text subtitle stream of library file
// rel as WebVTT, extracted once by ffmpeg and kept in the cache.
func (m *Manager) SubtitleVTT(ctx context.Context, rel string, stream int) ([]byte, error) {
	p, err := m.cat.Describe(ctx, rel)
	if err != nil {
		return nil, err
	}
	s := p.Info.Stream(stream)
	if s == nil || s.Type != "subtitle" || PictureSubtitle(s.Codec) {
		return nil, ErrNoSubtitle
	}
	key := assetKey("subs", rel, p.Size, p.ModTime, strconv.Itoa(stream)) + ".vtt"
	return m.cachedAsset(key, func() ([]byte, error) {
		return m.oneShot(ctx, subtitleTimeout, rel, false, maxVTTBytes,
			// The timeline of the segments: source timestamps from zero.
			"-copyts", "-start_at_zero", "-i", media.InputFD, "-map", "0:"+strconv.Itoa(stream), "-c:s", "webvtt", "-f", "webvtt", "pipe:1")
	})
}

// SidecarVTT converts a subtitle file beside a video (.ass, .ssa) to
// WebVTT with ffmpeg, once.
func (m *Manager) SidecarVTT(ctx context.Context, rel string) ([]byte, error) {
	f, info, err := m.cat.Lib.Open(rel)
	if err != nil {
		return nil, err
	}
	f.Close()
	key := assetKey("subs", rel, info.Size(), info.ModTime().UnixNano(), "sidecar") + ".vtt"
	return m.cachedAsset(key, func() ([]byte, error) {
		return m.oneShot(ctx, subtitleTimeout, rel, false, maxVTTBytes, "-i", media.InputFD, "-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt", "pipe:1")
	})
}

func (m *Manager) cachedAsset(key string, make func() ([]byte, error)) ([]byte, error) {
	if f, err := m.cache.Open(key); err == nil {
		defer f.Close()
		return io.ReadAll(f)
	}
	data, err := make()
	if err != nil {
		return nil, err
	}
	if err := m.cache.PutBytes(key, data); err != nil {
		m.log.Warn("media cache: keeping a file", "err", err)
	}
	return data, nil
}

// Poster returns a picture for library video rel and its content type: a
// poster beside it (poster.jpg, folder.jpg, or one named like the video),
// or a frame ffmpeg grabs a tenth of the way in, scaled to PosterWidth and
// kept in the cache.
func (m *Manager) Poster(ctx context.Context, rel string) ([]byte, string, error) {
	// posterNames are the pictures beside a video that serve as its poster, in
	// order of preference; "%s" is the video's name without extension.
	posterNames := []string{"%s.jpg", "%s-poster.jpg", "%s.png", "poster.jpg", "poster.png", "folder.jpg", "folder.png", "cover.jpg"}
	dir, name := path.Split(rel)
	stem := strings.TrimSuffix(name, path.Ext(name))
	for _, pattern := range posterNames {
		cand := dir + strings.ReplaceAll(pattern, "%s", stem)
		f, info, err := m.cat.Lib.OpenImage(cand)
		if err != nil {
			continue
		}
		if info.Size() > maxPosterBytes {
			f.Close()
			continue
		}
		data, err := io.ReadAll(io.LimitReader(f, maxPosterBytes))
		f.Close()
		if err != nil {
			continue
		}
		ctype := "image/jpeg"
		if strings.HasSuffix(strings.ToLower(cand), ".png") {
			ctype = "image/png"
		}
		return data, ctype, nil
	}
	p, err := m.cat.Describe(ctx, rel)
	if err != nil {
		return nil, "", err
	}
	at := p.Info.Duration / 10
	key := assetKey("posters", rel, p.Size, p.ModTime, "") + ".jpg"
	data, err := m.cachedAsset(key, func() ([]byte, error) {
		return m.oneShot(ctx, posterTimeout, rel, false, maxPosterBytes,
			"-ss", strconv.FormatFloat(at, 'f', 3, 64), "-i", media.InputFD, "-map", "0:"+strconv.Itoa(p.Info.Video().Index),
			"-frames:v", "1", "-vf", "scale="+strconv.Itoa(PosterWidth)+":-2", "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1")
	})
	if err != nil {
		return nil, "", err
	}
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%w: no frame to show", media.ErrUnreadable)
	}
	return data, "image/jpeg", nil
}
