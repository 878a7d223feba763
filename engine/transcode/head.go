package transcode

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"watchparty/engine/media"
)

// follow is a room's latest request to a head.
type follow struct {
	idx int
	at  time.Time
}

// head is one place where a job is being produced: one ffmpeg process at a
// time, moving forward from start, followed by the rooms that read from it.
type head struct {
	job   *job
	rooms map[string]*follow

	start, next int   // next: the first segment not done in every track
	trackNext   []int // per track, the first segment not done
	end         int   // one past the last segment of the current run

	launched bool // holds a slot (not queued)
	stopped  bool
	paused   bool
	err      error
	gen      int // which run is current

	cmd    *exec.Cmd
	cancel context.CancelFunc
}

// pollEvery is how often a run's folder is checked for finished segments.
const pollEvery = 50 * time.Millisecond

func (m *Manager) launchLocked(h *head) {
	h.launched = true
	m.running++
	m.startRunLocked(h, h.start)
}

// restartLocked moves h to segment i: its process is killed and a new one
// starts there.
func (m *Manager) restartLocked(h *head, i int) {
	h.start, h.next = i, i
	if !h.launched {
		return // still queued: it starts at i when its turn comes
	}
	m.startRunLocked(h, i)
}

// startRunLocked starts an ffmpeg run of h from segment i, ending the
// current one. A segment already in the cache in every track is skipped.
func (m *Manager) startRunLocked(h *head, i int) {
	m.endRunLocked(h)
	j := h.job
	for i < j.plan.Len() && m.allCachedLocked(j, i) {
		i++
	}
	h.gen++
	h.start, h.next, h.paused = i, i, false
	h.trackNext = make([]int, j.tracks())
	for t := range h.trackNext {
		h.trackNext[t] = i
	}
	if i >= j.plan.Len() {
		m.stopLocked(h) // everything from i on is in the cache
		return
	}
	h.end = min(i+m.cfg.Window, j.plan.Len())
	f, _, err := m.cat.Lib.Open(j.key.Path)
	if err != nil {
		m.failLocked(h, err.Error())
		return
	}
	dir, err := os.MkdirTemp(m.cache.Dir(), "run-")
	if err != nil {
		f.Close()
		m.failLocked(h, err.Error())
		return
	}
	spec := runSpec{Plan: j.plan, Index: i, End: h.end, Rend: j.rend, Video: j.video, Audio: j.audio, Burn: j.key.Burn,
		Encoder: m.cfg.Encoder, Preset: m.cfg.Preset, Device: m.cfg.Device, Dir: dir, Threads: m.cfg.Threads, Realtime: m.cfg.Realtime}
	ctx, cancel := context.WithCancel(m.ctx)
	cmd := exec.CommandContext(ctx, m.cfg.FFmpeg, spec.args()...)
	cmd.ExtraFiles = []*os.File{f}
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{w: &stderr, limit: 32 << 10}
	media.SetProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		cancel()
		f.Close()
		os.RemoveAll(dir)
		m.failLocked(h, err.Error())
		return
	}
	f.Close() // ffmpeg has its own copy
	m.runs.Add(1)
	m.started.Store(time.Now().UnixNano())
	h.cmd, h.cancel = cmd, cancel
	m.log.Debug("transcode: run started", "file", j.key.Path, "rendition", j.rend.Name, "from", i, "to", h.end, "pid", cmd.Process.Pid)
	waited := make(chan error, 1)
	m.wg.Add(1)
	go func() { waited <- cmd.Wait() }()
	go m.watch(h, h.gen, dir, waited, cmd.Stderr.(*lockedWriter))
}

// endRunLocked kills h's current process (its watcher cleans up).
func (m *Manager) endRunLocked(h *head) {
	if h.cancel != nil {
		h.cancel()
	}
	h.cmd, h.cancel = nil, nil
}

func (m *Manager) allCachedLocked(j *job, i int) bool {
	for t := 0; t < j.tracks(); t++ {
		if !m.cache.Has(j.segRel(t, i)) {
			return false
		}
	}
	return true
}

func (m *Manager) failLocked(h *head, reason string) {
	h.err = &FailedError{Reason: reason}
	m.log.Warn("transcode: failed", "file", h.job.key.Path, "rendition", h.job.rend.Name, "err", reason)
	m.releaseSlotLocked(h)
	h.stopped = true
	m.broadcastLocked()
}

// stopLocked ends h for good.
func (m *Manager) stopLocked(h *head) {
	if h.stopped {
		return
	}
	h.stopped = true
	m.endRunLocked(h)
	delete(h.job.heads, h)
	m.releaseSlotLocked(h)
	m.broadcastLocked()
}

// releaseSlotLocked gives h's slot to the first queued head still wanted.
func (m *Manager) releaseSlotLocked(h *head) {
	if !h.launched {
		for i, q := range m.queue {
			if q == h {
				m.queue = append(m.queue[:i], m.queue[i+1:]...)
				break
			}
		}
		return
	}
	h.launched = false
	m.running--
	for len(m.queue) > 0 && m.running < m.cfg.MaxJobs && !m.closed {
		next := m.queue[0]
		m.queue = m.queue[1:]
		if next.stopped || len(next.rooms) == 0 {
			continue
		}
		m.launchLocked(next)
	}
}

// wantedLocked is the furthest segment any follower of h asked for, and
// when the latest request came.
func (h *head) wantedLocked() (idx int, last time.Time) {
	idx = h.start
	for _, f := range h.rooms {
		idx = max(idx, f.idx)
		if f.at.After(last) {
			last = f.at
		}
	}
	return idx, last
}

// ahead reports how far (seconds) production is past the furthest request.
func (h *head) aheadLocked() float64 {
	want, _ := h.wantedLocked()
	p := h.job.plan
	if h.next >= p.Len() {
		return 0
	}
	return p.Starts[h.next] - p.Starts[min(want, p.Len()-1)]
}

func (m *Manager) resumeLocked(h *head) {
	if h.paused && h.cmd != nil && h.aheadLocked() <= m.cfg.Ahead.Seconds()/2 {
		h.paused = false
		_ = media.SignalGroup(h.cmd, syscall.SIGCONT)
	}
}

// watch follows one ffmpeg run of h: it moves each finished segment into
// the cache (a segment is finished once the next one of its track exists,
// or the process has exited), pauses production that is far enough ahead,
// stops a head nobody asks anything of, and starts the next run when this
// one's window is done.
func (m *Manager) watch(h *head, gen int, dir string, waited <-chan error, stderr *lockedWriter) {
	defer m.wg.Done()
	defer os.RemoveAll(dir)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	j := h.job
	for {
		var exitErr error
		exited := false
		select {
		case exitErr = <-waited:
			exited = true
		case <-tick.C:
		}
		m.mu.Lock()
		if h.gen != gen || h.stopped {
			m.mu.Unlock()
			if !exited {
				<-waited
			}
			return
		}
		moved := m.collectLocked(h, dir, exited && exitErr == nil)
		if moved {
			m.broadcastLocked()
		}
		switch {
		case exited && exitErr != nil && m.ctx.Err() == nil:
			m.failLocked(h, media.LastLine(stderr.String(), exitErr.Error()))
			delete(j.heads, h)
		case exited:
			h.cmd, h.cancel = nil, nil
			if h.next < j.plan.Len() && len(h.rooms) > 0 {
				m.startRunLocked(h, h.next)
			} else {
				m.stopLocked(h)
			}
		case h.next >= h.end && h.end < j.plan.Len():
			// This run's window is done: the next run takes over.
			m.startRunLocked(h, h.end)
		default:
			m.throttleLocked(h)
		}
		m.mu.Unlock()
		if exited {
			return
		}
	}
}

// collectLocked moves h's finished segments from dir into the cache and
// advances h.next. all: the process ended well, every file is finished.
func (m *Manager) collectLocked(h *head, dir string, all bool) bool {
	j := h.job
	moved := false
	for t := range h.trackNext {
		for h.trackNext[t] < h.end {
			i := h.trackNext[t]
			name := runFile(t, i)
			if !all {
				if _, err := os.Stat(filepath.Join(dir, runFile(t, i+1))); err != nil {
					break
				}
			} else if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				break
			}
			if err := m.cache.Put(filepath.Join(dir, name), j.segRel(t, i)); err != nil {
				m.log.Warn("transcode: caching a segment", "err", err)
				break
			}
			h.trackNext[t]++
			moved = true
		}
	}
	next := h.end
	for _, n := range h.trackNext {
		next = min(next, n)
	}
	h.next = next
	return moved
}

func runFile(track, i int) string {
	if track == 0 {
		return videoName(i)
	}
	return audioName(track-1, i)
}

// throttleLocked pauses production that is Ahead past every request, and
// stops a head nobody asked anything of for Idle.
func (m *Manager) throttleLocked(h *head) {
	_, last := h.wantedLocked()
	if len(h.rooms) == 0 || time.Since(last) > m.cfg.Idle {
		m.stopLocked(h)
		return
	}
	if !h.paused && h.cmd != nil && h.aheadLocked() > m.cfg.Ahead.Seconds() {
		h.paused = true
		_ = media.SignalGroup(h.cmd, syscall.SIGSTOP)
	}
}

// lockedWriter keeps the first limit bytes written to it, safely for
// concurrent readers.
type lockedWriter struct {
	mu    sync.Mutex
	w     *bytes.Buffer
	limit int
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.limit - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
