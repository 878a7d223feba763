package transcode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/engine/media"
)

// Errors a member may see.
var (
	// ErrNoRendition means the rendition asked for is not one of the file's.
	ErrNoRendition = errors.New("no such rendition of this file")
	// ErrNoSegment means a segment or track index is out of range.
	ErrNoSegment = errors.New("no such segment")
	// ErrClosed means the server is stopping.
	ErrClosed = errors.New("the server is stopping")
	// ErrDirect means the file plays as it is and has no HLS form.
	ErrDirect = errors.New("this file plays as it is; it has no segments")
)

// BusyError says a segment is not ready: its job waits for a free
// transcoder (Queued > 0 is the job's place in the queue) or is still being
// made. The text is for people.
type BusyError struct {
	Queued int
}

func (e *BusyError) Error() string {
	if e.Queued > 0 {
		return fmt.Sprintf("every transcoder is busy (media.transcode.max_jobs); this video is number %d in the queue", e.Queued)
	}
	return "the video is still being prepared"
}

// FailedError says ffmpeg could not make the segments; Reason is its last
// error line.
type FailedError struct{ Reason string }

func (e *FailedError) Error() string { return "the video could not be converted: " + e.Reason }

// Config sets up a Manager. Zero values take the defaults.
type Config struct {
	FFmpeg  string // path of ffmpeg
	Heights []int  // rendition ladder (1080, 720, 480)
	MaxJobs int    // ffmpeg processes at once (2)
	Encoder string // libx264, vaapi, nvenc or qsv (EncoderProbe.Select resolves auto)
	Preset  string // libx264 preset (veryfast)
	Device  string // VAAPI render node
	// Ahead is how far production may run past the furthest segment asked
	// for before it pauses (60 s).
	Ahead time.Duration
	// Idle stops a job nobody asked anything of for this long (60 s).
	Idle time.Duration
	// Wait bounds how long a request waits for a segment (20 s).
	Wait time.Duration
	// Window is the most segments one ffmpeg run makes before the next run
	// takes over (1000); it keeps the command line short.
	Window int
	// Threads passed to ffmpeg (0: its choice).
	Threads int
	// Realtime makes ffmpeg read no faster than playback (for tests that
	// need production to stay behind).
	Realtime bool
	Log      *slog.Logger
}

// Manager runs the transcode jobs of every room.
type Manager struct {
	cfg   Config
	cat   *media.Catalog
	cache *Cache
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	jobs    map[string]*job
	queue   []*head
	running int
	closed  bool
	changed chan struct{} // closed and replaced when any segment is done or a head ends

	assetOnce sync.Once
	assets    chan struct{}

	runs    atomic.Int64 // ffmpeg runs started
	started atomic.Int64 // wall-clock of the last start (unix ns), for figures
}

// New returns a Manager that serves the catalog's files from cache.
func New(cfg Config, cat *media.Catalog, cache *Cache) *Manager {
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 2
	}
	if len(cfg.Heights) == 0 {
		cfg.Heights = []int{1080, 720, 480}
	}
	if cfg.Ahead <= 0 {
		cfg.Ahead = 60 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 60 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 20 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 1000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, cat: cat, cache: cache, log: cfg.Log, ctx: ctx, cancel: cancel,
		jobs: map[string]*job{}, changed: make(chan struct{})}
}

// Run serves until ctx ends, then stops every job and waits for every
// ffmpeg process to end.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.Close()
	return nil
}

// Close stops every job and waits for their processes.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, j := range m.jobs {
		for h := range j.heads {
			m.stopLocked(h)
		}
	}
	m.queue = nil
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// Cache is the manager's cache.
func (m *Manager) Cache() *Cache { return m.cache }

// Runs counts the ffmpeg runs started.
func (m *Manager) Runs() int64 { return m.runs.Load() }

// Key names a job: a file, one of its renditions, and a picture subtitle
// burnt in (-1 for none).
type Key struct {
	Path      string
	Rendition string
	Burn      int
}

// job is one file and rendition: its plan, and the heads producing it.
type job struct {
	key   Key
	dir   string // cache folder of its segments
	plan  Plan
	rend  Rendition
	video media.Stream
	audio []media.Stream
	heads map[*head]bool
}

// tracks is the number of segment streams: the video and each audio.
func (j *job) tracks() int { return 1 + len(j.audio) }

func (j *job) segRel(track, i int) string {
	if track == 0 {
		return j.dir + "/v/" + fmt.Sprintf("%05d.ts", i)
	}
	return j.dir + "/a" + strconv.Itoa(track-1) + "/" + fmt.Sprintf("%05d.ts", i)
}

// Stream describes the HLS form of a file: its renditions and tracks.
type Stream struct {
	Probed     media.Probed
	Renditions []Rendition
	Audio      []media.Stream
	// Default is the rendition a member starts with.
	Default string
}

// Describe returns the HLS form of a library file with picture subtitle
// burn drawn in (-1: none). A file that plays as it is gives ErrDirect
// unless a subtitle is burnt in.
func (m *Manager) Describe(ctx context.Context, rel string, burn int) (Stream, error) {
	p, err := m.cat.Describe(ctx, rel)
	if err != nil {
		return Stream{}, err
	}
	if burn >= 0 {
		s := p.Info.Stream(burn)
		if s == nil || s.Type != "subtitle" || !PictureSubtitle(s.Codec) {
			return Stream{}, fmt.Errorf("%w: stream %d is not a picture subtitle", ErrNoRendition, burn)
		}
	} else if p.Decision.Mode == media.Direct {
		return Stream{}, ErrDirect
	}
	st := Stream{Probed: p, Renditions: Ladder(p, m.cfg.Heights, burn >= 0), Audio: p.Info.Audio()}
	if len(st.Renditions) > 0 {
		st.Default = st.Renditions[0].Name
	}
	return st, nil
}

// PictureSubtitle reports whether a subtitle codec is pictures (drawn into
// the video when chosen) rather than text.
func PictureSubtitle(codec string) bool {
	switch codec {
	case "hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub":
		return true
	}
	return false
}

// job returns (making) the job for key.
func (m *Manager) job(ctx context.Context, key Key) (*job, error) {
	st, err := m.Describe(ctx, key.Path, key.Burn)
	if err != nil {
		return nil, err
	}
	var rend *Rendition
	for i := range st.Renditions {
		if st.Renditions[i].Name == key.Rendition {
			rend = &st.Renditions[i]
		}
	}
	if rend == nil {
		return nil, ErrNoRendition
	}
	p := st.Probed
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", key.Path, p.Size, p.ModTime)))
	dir := "jobs/" + hex.EncodeToString(sum[:10]) + "/" + rend.Name
	if key.Burn >= 0 {
		dir += "-burn" + strconv.Itoa(key.Burn)
	}
	m.mu.Lock()
	if j, ok := m.jobs[dir]; ok {
		m.mu.Unlock()
		return j, nil
	}
	m.mu.Unlock()
	var plan Plan
	if rend.Copy {
		kf, err := m.cat.Keyframes(ctx, key.Path)
		if err != nil {
			return nil, err
		}
		plan, err = KeyframePlan(p.Info.Duration, kf)
		if err != nil {
			return nil, err
		}
	} else if plan, err = EvenPlan(p.Info.Duration); err != nil {
		return nil, err
	}
	j := &job{key: key, dir: dir, plan: plan, rend: *rend, video: *p.Info.Video(), audio: st.Audio, heads: map[*head]bool{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.jobs[dir]; ok {
		return old, nil
	}
	m.jobs[dir] = j
	return j, nil
}

// Playlist returns the VOD playlist of a track (0: video, 1..: audio) of
// a rendition; segment i's URI is uri(i).
func (m *Manager) Playlist(ctx context.Context, key Key, track int, uri func(i int) string) ([]byte, error) {
	j, err := m.job(ctx, key)
	if err != nil {
		return nil, err
	}
	if track < 0 || track >= j.tracks() {
		return nil, ErrNoSegment
	}
	return j.plan.MediaPlaylist(uri), nil
}

// Segment opens segment i of a track of a job for room, starting or
// moving production when it is not made yet, and waiting (at most
// Config.Wait, or until ctx ends) for it. It returns a *BusyError when
// the segment is not ready in time, a *FailedError when ffmpeg failed.
func (m *Manager) Segment(ctx context.Context, room string, key Key, track, i int) (*os.File, error) {
	j, err := m.job(ctx, key)
	if err != nil {
		return nil, err
	}
	if track < 0 || track >= j.tracks() || i < 0 || i >= j.plan.Len() {
		return nil, ErrNoSegment
	}
	timer := time.NewTimer(m.cfg.Wait)
	defer timer.Stop()
	defer m.cache.Want(j.segRel(track, i))()
	for {
		if f, err := m.cache.Open(j.segRel(track, i)); err == nil {
			m.mu.Lock()
			m.noteLocked(j, room, i)
			m.mu.Unlock()
			return f, nil
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		h := m.ensureLocked(j, room, i)
		if h.err != nil {
			err := h.err
			delete(j.heads, h)
			m.mu.Unlock()
			return nil, err
		}
		queued := m.queuePosLocked(h)
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, &BusyError{Queued: queued}
		}
	}
}

// Warm starts producing key for room from the segment that holds at
// (seconds) when nothing is made or being made for the room there yet, so
// that the segments its members are about to ask for are under way before
// they ask. It does not wait.
func (m *Manager) Warm(ctx context.Context, room string, key Key, at float64) error {
	j, err := m.job(ctx, key)
	if err != nil {
		return err
	}
	i := j.plan.Find(at)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.allCachedLocked(j, i) {
		return nil
	}
	for h := range j.heads {
		if _, ok := h.rooms[room]; ok {
			return nil // the room's own requests move its production
		}
	}
	m.ensureLocked(j, room, i)
	return nil
}

// Status says whether room's production of key waits in the queue (its
// place, 0 when not queued).
func (m *Manager) Status(room string, key Key) (queued int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.key != key {
			continue
		}
		for h := range j.heads {
			if _, ok := h.rooms[room]; ok {
				return m.queuePosLocked(h)
			}
		}
	}
	return 0
}

func (m *Manager) queuePosLocked(h *head) int {
	for i, q := range m.queue {
		if q == h {
			return i + 1
		}
	}
	return 0
}

// Release tells the manager that room plays none of its jobs any more
// (its video changed, or it stopped): heads no other room follows stop.
func (m *Manager) Release(room string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		for h := range j.heads {
			if _, ok := h.rooms[room]; !ok {
				continue
			}
			delete(h.rooms, room)
			if len(h.rooms) == 0 {
				m.stopLocked(h)
			}
		}
	}
}

// Processes counts the ffmpeg processes running now (paused ones too).
func (m *Manager) Processes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, j := range m.jobs {
		for h := range j.heads {
			if h.cmd != nil {
				n++
			}
		}
	}
	return n
}

// broadcastLocked wakes every waiting request.
func (m *Manager) broadcastLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// reachSegments is how far past a head's next segment a request may be
// and still wait for that head rather than move it.
const reachSegments = 2

// ensureLocked finds or makes the head that will produce segment i of j
// for room (see the package doc): the room's own head when i is just
// ahead of it, another room's head when that one is, else the room's head
// restarted at i (or a new head when the room shares its head).
func (m *Manager) ensureLocked(j *job, room string, i int) *head {
	var mine *head
	for h := range j.heads {
		if _, ok := h.rooms[room]; ok {
			mine = h
		}
	}
	reach := func(h *head) bool {
		return h.err == nil && !h.stopped && i >= h.next && i <= h.next+reachSegments
	}
	if mine != nil && (reach(mine) || mine.err != nil) {
		m.followLocked(mine, room, i)
		return mine
	}
	for h := range j.heads {
		if h != mine && reach(h) {
			if mine != nil {
				delete(mine.rooms, room)
				if len(mine.rooms) == 0 {
					m.stopLocked(mine)
				}
			}
			m.followLocked(h, room, i)
			return h
		}
	}
	if mine != nil && len(mine.rooms) == 1 && !mine.stopped {
		m.restartLocked(mine, i)
		m.followLocked(mine, room, i)
		return mine
	}
	if mine != nil {
		delete(mine.rooms, room)
	}
	h := &head{job: j, rooms: map[string]*follow{}, start: i, next: i}
	j.heads[h] = true
	m.followLocked(h, room, i)
	if m.running < m.cfg.MaxJobs {
		m.launchLocked(h)
	} else {
		m.queue = append(m.queue, h)
	}
	return h
}

// noteLocked records that room read segment i of j (from the cache):
// production that waits for the room's position may go on.
func (m *Manager) noteLocked(j *job, room string, i int) {
	for h := range j.heads {
		if f, ok := h.rooms[room]; ok {
			f.idx, f.at = i, time.Now()
			m.resumeLocked(h)
		}
	}
}

func (m *Manager) followLocked(h *head, room string, i int) {
	h.rooms[room] = &follow{idx: i, at: time.Now()}
	m.resumeLocked(h)
}
