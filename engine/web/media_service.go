package web

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"watchparty/config"
	"watchparty/engine/media"
	"watchparty/engine/transcode"
)

// Media is the server's media library with what plays it: the index, the
// probe catalog, the transcoder (nil without ffmpeg) and the rooms'
// resume positions. The app builds it (NewMedia), runs Jobs and gives
// VideoLeft to the rooms.
type Media struct {
	Lib     *media.Library
	Index   *media.Index
	Catalog *media.Catalog
	Jobs    *transcode.Manager
	Tools   *media.Tools
	Resume  *media.Resume
	// DefaultHeight: members start on the highest rendition at most this tall.
	DefaultHeight int
	log           *slog.Logger

	probeMu   sync.Mutex
	probeQ    []string
	probing   map[string]bool // paths queued for a background probe
	probeBusy bool
}

// NewMedia builds the library of cfg.Media.Dir (disabled, with an error
// logged, when the folder is unusable) and, when ffmpeg and ffprobe are
// found, the transcoder with its cache under the data directory. Without
// them the library serves files as they are and says what is missing.
// repo keeps resume positions and probes; nil keeps nothing.
func NewMedia(cfg *config.Config, repo media.Repo, log *slog.Logger) *Media {
	if log == nil {
		log = slog.Default()
	}
	lib, err := media.NewLibrary(cfg.Media.Dir)
	if err != nil {
		log.Error("media library disabled", "dir", cfg.Media.Dir, "err", err)
		lib, _ = media.NewLibrary("")
	}
	m := &Media{Lib: lib, Index: media.NewIndex(lib), DefaultHeight: cfg.Media.Transcode.DefaultHeight, log: log}
	if repo != nil {
		m.Resume = media.NewResume(repo)
	}
	if !lib.Enabled() {
		return m
	}
	m.Tools = media.FindTools(context.Background(), cfg.Media.FFmpeg, cfg.Media.FFprobe)
	if msg := m.Tools.Missing(); msg != "" {
		log.Warn("media: "+msg, "ffmpeg", cfg.Media.FFmpeg, "ffprobe", cfg.Media.FFprobe)
	}
	m.Catalog = media.NewCatalog(lib, m.Tools.FFprobe, repo)
	if !m.Tools.Available() || cfg.DataDir == "" {
		return m
	}
	want := cfg.Media.Transcode.Encoder
	choice := transcode.EncoderProbe{FFmpeg: m.Tools.FFmpeg, Encoders: m.Tools.Encoders, Device: cfg.Media.Transcode.VAAPIDevice}.
		Select(context.Background(), want)
	enc := choice.Encoder
	switch {
	case choice.Fallback != "" && want == transcode.EncoderAuto:
		log.Info("media: no hardware encoder works; converting with libx264 (software)", "why", choice.Fallback)
	case choice.Fallback != "":
		log.Warn("media: the "+want+" encoder is not usable; converting with libx264 (software)", "why", choice.Fallback)
	}
	cache, err := transcode.OpenCache(filepath.Join(cfg.DataDir, "media-cache"), cfg.Media.CacheMax, log)
	if err != nil {
		log.Error("media: transcoding off: the cache cannot be opened", "err", err)
		return m
	}
	m.Jobs = transcode.New(transcode.Config{
		FFmpeg: m.Tools.FFmpeg, Heights: cfg.Media.Transcode.Renditions, MaxJobs: cfg.Media.Transcode.MaxJobs,
		Encoder: enc, Preset: cfg.Media.Transcode.Preset, Device: cfg.Media.Transcode.VAAPIDevice, Log: log,
	}, m.Catalog, cache)
	log.Info("media: transcoding on", "encoder", transcode.EncoderName(enc), "max_jobs", cfg.Media.Transcode.MaxJobs,
		"cache", cache.Dir(), "cache_max", cfg.Media.CacheMax)
	return m
}

// Run runs the transcoder until ctx ends; every ffmpeg process has ended
// when it returns.
func (m *Media) Run(ctx context.Context) error {
	if m.Jobs == nil {
		<-ctx.Done()
		return nil
	}
	return m.Jobs.Run(ctx)
}

// VideoLeft is the rooms' hook (room.Options.VideoLeft): the room's
// transcodes stop, and where it was in a library file is remembered.
func (m *Media) VideoLeft(room, source, kind string, pos, dur float64) {
	if m.Jobs != nil {
		m.Jobs.Release(room)
	}
	rel, ok := strings.CutPrefix(source, media.LibraryPrefix)
	if !ok || kind != string(media.KindLibrary) || m.Resume == nil {
		return
	}
	rel, _, _ = strings.Cut(rel, "#")
	go func() {
		if err := m.Resume.Save(room, rel, pos, dur); err != nil {
			m.log.Warn("media: remembering a position", "room", room, "err", err)
		}
	}()
}

// probeLater probes rel in the background, one file at a time, so that a
// listing shows what it knows at once and more on the next look. The
// worker ends when the queue is empty.
func (m *Media) probeLater(rel string) {
	if m.Catalog == nil || m.Catalog.Prober.Path == "" {
		return
	}
	m.probeMu.Lock()
	defer m.probeMu.Unlock()
	if m.probing == nil {
		m.probing = map[string]bool{}
	}
	if m.probing[rel] || len(m.probeQ) >= 1024 {
		return
	}
	m.probing[rel] = true
	m.probeQ = append(m.probeQ, rel)
	if m.probeBusy {
		return
	}
	m.probeBusy = true
	go func() {
		for {
			m.probeMu.Lock()
			if len(m.probeQ) == 0 {
				m.probeBusy = false
				m.probeMu.Unlock()
				return
			}
			rel := m.probeQ[0]
			m.probeQ = m.probeQ[1:]
			m.probeMu.Unlock()
			_, _ = m.Catalog.Describe(context.Background(), rel)
			m.probeMu.Lock()
			delete(m.probing, rel)
			m.probeMu.Unlock()
		}
	}()
}
