// Package frames streams pictures to the members of a room: a hub of
// per-room streams with drop-oldest fan-out, a TCP server speaking the frame
// protocol of package wire, and client helpers for publishing and viewing.
//
// A frame is JPEG-encoded once by its source and wire-encoded once by the
// hub; every viewer then writes the same bytes. Each viewer has a queue of
// one or two frames; when it is full the oldest frame is dropped, so a slow
// viewer sees the newest picture and never slows the publisher or the other
// viewers. A viewer that makes no progress for the stall timeout is
// disconnected.
package frames

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/engine/frames/wire"
)

// Defaults of HubOptions.
const (
	DefaultMaxViewers   = 256
	DefaultQueueLen     = 2
	DefaultStallTimeout = 5 * time.Second
)

// Errors of the hub.
var (
	ErrTooManyViewers = errors.New("frames: stream viewer limit reached")
	ErrStreamBusy     = errors.New("frames: stream already has a publisher")
	ErrStreamEnded    = errors.New("frames: stream ended")
	ErrStalled        = errors.New("frames: viewer stalled")
	ErrHubClosed      = errors.New("frames: hub closed")
	ErrViewerClosed   = errors.New("frames: viewer left")
	ErrBadRoom        = errors.New("frames: bad room code")
	ErrTooManyStreams = errors.New("too many streams")
	ErrIdle           = errors.New("frames: nobody watched the stream")
	ErrRevoked        = errors.New("frames: access withdrawn")
)

// HubOptions configure a Hub. Zero values take the defaults.
type HubOptions struct {
	MaxViewers   int           // viewers per stream (DefaultMaxViewers)
	QueueLen     int           // frames queued per viewer, 1 or 2 (DefaultQueueLen)
	StallTimeout time.Duration // a viewer without progress this long is dropped (DefaultStallTimeout)
	MaxPayload   int           // largest frame payload (wire.DefaultMaxPayload)
	// MaxStreams bounds the streams with a publisher at once, across
	// rooms (0: no limit); MaxStreamsPerPublisher those of one
	// SourceInfo.Publisher (0: no limit). Start refuses more with
	// ErrTooManyStreams.
	MaxStreams             int
	MaxStreamsPerPublisher int
	// IdleTimeout stops a publication started with SourceInfo.StopWhenIdle
	// once it has had no viewer for this long (0: never), with ErrIdle.
	IdleTimeout time.Duration
	// OnEvent is called when a stream starts or stops, from the goroutine
	// that started or stopped it, with no hub lock held. It must not block.
	OnEvent func(Event)
	Logger  *slog.Logger
}

// EventKind names what happened to a stream.
type EventKind int

// Event kinds.
const (
	EventStarted EventKind = iota + 1
	EventStopped
)

func (k EventKind) String() string {
	switch k {
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return "unknown"
}

// Event reports a stream starting or stopping.
type Event struct {
	Kind  EventKind
	State StreamState
	Err   error // EventStopped: why (ErrStreamEnded for a normal stop)
}

// SourceInfo describes what feeds a stream.
type SourceInfo struct {
	Description string  // e.g. "file movie.mjpeg" or "remote publisher 10.0.0.2:5123"
	Publisher   string  // who publishes (token subject or user name)
	FPS         float64 // declared frame rate, 0 if unknown
	Width       int     // declared size, 0 if unknown
	Height      int
	// StopWhenIdle stops the publication after HubOptions.IdleTimeout
	// without a viewer: for sources the server runs, which cost it CPU
	// whether anyone watches or not.
	StopWhenIdle bool
}

// StreamState is what a room shows about its stream.
type StreamState struct {
	Room        string
	Active      bool // a publisher is attached
	Source      string
	Publisher   string
	DeclaredFPS float64
	FPS         float64 // measured over recent frames
	Width       int     // of the latest frame
	Height      int
	Viewers     int
	Frames      uint64 // frames published by the current publisher
	Started     time.Time
}

// Frame is one encoded picture handed to Publication.Publish. The payload is
// copied into the hub's single wire encoding, so the caller may reuse it.
type Frame struct {
	Captured time.Time // zero means now
	Width    int
	Height   int
	Codec    wire.Codec // zero means JPEG
	Payload  []byte
}

// Packet is a published frame as handed to viewers: immutable and shared by
// all of them.
type Packet struct {
	Seq       uint64
	Captured  time.Time
	Published time.Time
	Width     int
	Height    int
	Wire      []byte // the complete wire message (length prefix, header, payload)
}

// Payload returns the JPEG bytes inside the wire message.
func (p *Packet) Payload() []byte { return p.Wire[wire.FramePrefixSize:] }

// Hub holds the streams of all rooms. It is safe for concurrent use.
type Hub struct {
	opts HubOptions
	log  *slog.Logger

	mu      sync.Mutex // membership: streams, viewers, publishers
	streams map[string]*stream
	closed  bool

	nextID    atomic.Uint64
	published atomic.Uint64
	encoded   atomic.Uint64
	sent      atomic.Uint64
	dropped   atomic.Uint64
	stalled   atomic.Uint64
	latency   latencyHist
}

type stream struct {
	room    string
	viewers map[uint64]*Viewer        // under Hub.mu
	snap    atomic.Pointer[[]*Viewer] // copy for the publish path
	pub     *Publication              // under Hub.mu
}

// NewHub returns an empty hub.
func NewHub(opts HubOptions) *Hub {
	if opts.MaxViewers <= 0 {
		opts.MaxViewers = DefaultMaxViewers
	}
	if opts.QueueLen <= 0 || opts.QueueLen > 2 {
		opts.QueueLen = DefaultQueueLen
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = wire.DefaultMaxPayload
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{opts: opts, log: log, streams: make(map[string]*stream)}
}

// Options returns the effective options.
func (h *Hub) Options() HubOptions { return h.opts }

// streamLocked returns the room's stream, creating it. Hub.mu must be held.
func (h *Hub) streamLocked(room string) *stream {
	st := h.streams[room]
	if st == nil {
		st = &stream{room: room, viewers: make(map[uint64]*Viewer)}
		empty := []*Viewer{}
		st.snap.Store(&empty)
		h.streams[room] = st
	}
	return st
}

// forgetLocked removes an idle stream. Hub.mu must be held.
func (h *Hub) forgetLocked(st *stream) {
	if st.pub == nil && len(st.viewers) == 0 && h.streams[st.room] == st {
		delete(h.streams, st.room)
	}
}

func (st *stream) publishSnapLocked() {
	s := make([]*Viewer, 0, len(st.viewers))
	for _, v := range st.viewers {
		s = append(s, v)
	}
	st.snap.Store(&s)
}

// Start attaches a publisher to the room's stream. Only one publisher may be
// attached at a time (ErrStreamBusy).
func (h *Hub) Start(room string, info SourceInfo) (*Publication, error) {
	if !wire.ValidRoom(room) {
		return nil, ErrBadRoom
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	if cur := h.streams[room]; cur != nil && cur.pub != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrStreamBusy, cur.pub.info.Description)
	}
	if err := h.admitLocked(info.Publisher); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	st := h.streamLocked(room)
	p := &Publication{hub: h, st: st, info: info, started: time.Now(), done: make(chan struct{})}
	st.pub = p
	if info.StopWhenIdle && h.opts.IdleTimeout > 0 {
		p.idle = time.AfterFunc(h.opts.IdleTimeout, p.idleCheck)
		if len(st.viewers) > 0 {
			p.idle.Stop()
		}
	}
	state := h.stateLocked(st)
	h.mu.Unlock()
	h.log.Info("stream started", "room", room, "source", info.Description, "publisher", info.Publisher)
	h.emit(Event{Kind: EventStarted, State: state})
	return p, nil
}

// admitLocked checks the stream limits for one more publication by
// publisher. Hub.mu must be held.
func (h *Hub) admitLocked(publisher string) error {
	if h.opts.MaxStreams <= 0 && h.opts.MaxStreamsPerPublisher <= 0 {
		return nil
	}
	total, mine := 0, 0
	for _, st := range h.streams {
		if st.pub == nil {
			continue
		}
		total++
		if publisher != "" && st.pub.info.Publisher == publisher {
			mine++
		}
	}
	if h.opts.MaxStreams > 0 && total >= h.opts.MaxStreams {
		return fmt.Errorf("%w: the server already runs %d, the most it allows (limits.streams)", ErrTooManyStreams, total)
	}
	if h.opts.MaxStreamsPerPublisher > 0 && publisher != "" && mine >= h.opts.MaxStreamsPerPublisher {
		return fmt.Errorf("%w: you already run %d, the most one user may (limits.streams_per_user)", ErrTooManyStreams, mine)
	}
	return nil
}

// idleCheck runs when a publication's idle timer fires.
func (p *Publication) idleCheck() {
	h := p.hub
	h.mu.Lock()
	idle := p.st.pub == p && len(p.st.viewers) == 0
	h.mu.Unlock()
	if idle {
		h.log.Info("stream unwatched, stopping it", "room", p.st.room, "after", h.opts.IdleTimeout)
		p.stop(ErrIdle)
	}
}

func (h *Hub) emit(e Event) {
	if h.opts.OnEvent != nil {
		h.opts.OnEvent(e)
	}
}

// ViewerOptions configure a subscription.
type ViewerOptions struct {
	Name string // for stats and logs
	// Member is the room member the viewer watches for; Revoke closes
	// the viewers of a member.
	Member string
	// OnKick is called once if the hub drops the viewer for stalling, from
	// the publisher's goroutine. It should unblock the viewer's writer, for a
	// connection by closing it. It must not block.
	OnKick func()
}

// Subscribe adds a viewer to the room's stream. A viewer may join before a
// publisher starts; it is closed with ErrStreamEnded when the publisher
// stops.
func (h *Hub) Subscribe(room string, opts ViewerOptions) (*Viewer, error) {
	if !wire.ValidRoom(room) {
		return nil, ErrBadRoom
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	st := h.streamLocked(room)
	if len(st.viewers) >= h.opts.MaxViewers {
		h.forgetLocked(st)
		return nil, fmt.Errorf("%w (%d)", ErrTooManyViewers, h.opts.MaxViewers)
	}
	v := &Viewer{
		id:     h.nextID.Add(1),
		name:   opts.Name,
		member: opts.Member,
		hub:    h,
		st:     st,
		qcap:   h.opts.QueueLen,
		onKick: opts.OnKick,
		ready:  make(chan struct{}, 1),
		done:   make(chan struct{}),
		since:  time.Now(),
	}
	st.viewers[v.id] = v
	st.publishSnapLocked()
	if st.pub != nil && st.pub.idle != nil {
		st.pub.idle.Stop()
	}
	return v, nil
}

func (h *Hub) removeViewer(v *Viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := v.st
	if st.viewers[v.id] != v {
		return
	}
	delete(st.viewers, v.id)
	st.publishSnapLocked()
	if len(st.viewers) == 0 && st.pub != nil && st.pub.idle != nil {
		st.pub.idle.Reset(h.opts.IdleTimeout)
	}
	h.forgetLocked(st)
}

// Revoke ends what member may no longer do in room: with view false, its
// viewers (TCP viewers, browser relays, data channels) are closed; with
// publish false, the publications it runs (a remote publisher, or a source
// it started on the server) are stopped; both with ErrRevoked. Member ""
// stands for everyone (the room is gone), room "" for every room (the
// member's account changed). It returns how many viewers and publications
// it ended.
func (h *Hub) Revoke(room, member string, view, publish bool) int {
	h.mu.Lock()
	var viewers []*Viewer
	var pubs []*Publication
	for code, st := range h.streams {
		if room != "" && code != room {
			continue
		}
		if !view {
			for _, v := range st.viewers {
				if member == "" || v.member == member {
					viewers = append(viewers, v)
				}
			}
		}
		if !publish && st.pub != nil && (member == "" || st.pub.info.Publisher == member) {
			pubs = append(pubs, st.pub)
		}
	}
	h.mu.Unlock()
	for _, v := range viewers {
		v.closeWith(ErrRevoked)
	}
	for _, p := range pubs {
		p.stop(ErrRevoked)
	}
	n := len(viewers) + len(pubs)
	if n > 0 {
		h.log.Info("stream access revoked", "room", room, "member", member, "closed", n)
	}
	return n
}

// Members lists the members with a viewer or the publication in room, each
// once: whose access a change of the room's rights may take away.
func (h *Hub) Members(room string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.streams[room]
	if st == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	for _, v := range st.viewers {
		add(v.member)
	}
	if st.pub != nil {
		add(st.pub.info.Publisher)
	}
	return out
}

// Stop stops the room's publisher, if any, closing its viewers with
// ErrStreamEnded. It reports whether a publisher was attached.
func (h *Hub) Stop(room string) bool {
	h.mu.Lock()
	st := h.streams[room]
	var p *Publication
	if st != nil {
		p = st.pub
	}
	h.mu.Unlock()
	if p == nil {
		return false
	}
	p.stop(ErrStreamEnded)
	return true
}

// Close stops every stream and closes every viewer with ErrHubClosed. Later
// Start and Subscribe calls fail with ErrHubClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var pubs []*Publication
	var viewers []*Viewer
	for _, st := range h.streams {
		if st.pub != nil {
			pubs = append(pubs, st.pub)
		}
		for _, v := range st.viewers {
			viewers = append(viewers, v)
		}
	}
	h.mu.Unlock()
	for _, v := range viewers {
		v.closeWith(ErrHubClosed)
	}
	for _, p := range pubs {
		p.stop(ErrHubClosed)
	}
}

// State returns the room's stream state; Active is false when no publisher
// is attached.
func (h *Hub) State(room string) StreamState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.streams[room]
	if st == nil {
		return StreamState{Room: room}
	}
	return h.stateLocked(st)
}

// States returns the state of every stream that has a publisher or viewers.
func (h *Hub) States() []StreamState {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]StreamState, 0, len(h.streams))
	for _, st := range h.streams {
		out = append(out, h.stateLocked(st))
	}
	return out
}

func (h *Hub) stateLocked(st *stream) StreamState {
	s := StreamState{Room: st.room, Viewers: len(st.viewers)}
	if p := st.pub; p != nil {
		s.Active = true
		s.Source = p.info.Description
		s.Publisher = p.info.Publisher
		s.DeclaredFPS = p.info.FPS
		s.Started = p.started
		p.statMu.Lock()
		s.FPS, s.Width, s.Height, s.Frames = p.fps, p.width, p.height, p.frames
		p.statMu.Unlock()
		if s.Width == 0 {
			s.Width, s.Height = p.info.Width, p.info.Height
		}
	}
	return s
}

// Viewers returns the stats of the room's viewers.
func (h *Hub) Viewers(room string) []ViewerStats {
	h.mu.Lock()
	st := h.streams[room]
	var vs []*Viewer
	if st != nil {
		for _, v := range st.viewers {
			vs = append(vs, v)
		}
	}
	h.mu.Unlock()
	out := make([]ViewerStats, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Stats())
	}
	return out
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	s := Stats{
		FramesPublished: h.published.Load(),
		FramesEncoded:   h.encoded.Load(),
		FramesSent:      h.sent.Load(),
		FramesDropped:   h.dropped.Load(),
		ViewersStalled:  h.stalled.Load(),
		Latency:         h.latency.summary(),
	}
	h.mu.Lock()
	for _, st := range h.streams {
		s.Streams++
		if st.pub != nil {
			s.Publishers++
		}
		s.Viewers += len(st.viewers)
	}
	h.mu.Unlock()
	return s
}

// Publication is an attached publisher: the only way to put frames into a
// stream.
type Publication struct {
	hub     *Hub
	st      *stream
	info    SourceInfo
	started time.Time
	idle    *time.Timer // StopWhenIdle: armed while there is no viewer (under Hub.mu)

	mu      sync.Mutex // serializes Publish
	seq     uint64
	stopped atomic.Bool
	done    chan struct{}
	errMu   sync.Mutex
	err     error

	statMu sync.Mutex // leaf lock for the measured state
	lastAt time.Time
	fps    float64
	width  int
	height int
	frames uint64
}

// Room returns the room code of the stream.
func (p *Publication) Room() string { return p.st.room }

// Publish encodes f once onto the wire and offers it to every viewer. It
// never waits for a viewer: a full queue drops its oldest frame. It returns
// ErrStreamEnded (or ErrHubClosed) once the publication is stopped.
func (p *Publication) Publish(f Frame) error {
	if p.stopped.Load() {
		return p.Err()
	}
	if f.Codec == 0 {
		f.Codec = wire.CodecJPEG
	}
	now := time.Now()
	if f.Captured.IsZero() {
		f.Captured = now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	wf := wire.Frame{Seq: p.seq + 1, Captured: f.Captured, Width: f.Width, Height: f.Height, Codec: f.Codec, Payload: f.Payload}
	pkt, err := p.hub.encode(&wf)
	if err != nil {
		return err
	}
	p.seq++
	pkt.Published = now
	p.hub.published.Add(1)
	p.measure(now, f.Width, f.Height)

	for _, v := range *p.st.snap.Load() {
		if v.offer(pkt, now) {
			p.hub.log.Warn("viewer stalled", "room", p.st.room, "viewer", v.name, "timeout", p.hub.opts.StallTimeout)
			v.closeWith(ErrStalled)
		}
	}
	return nil
}

// encode is the one place a frame becomes wire bytes.
func (h *Hub) encode(f *wire.Frame) (*Packet, error) {
	buf, err := wire.AppendFrame(make([]byte, 0, wire.FramePrefixSize+len(f.Payload)), f, h.opts.MaxPayload)
	if err != nil {
		return nil, err
	}
	h.encoded.Add(1)
	return &Packet{Seq: f.Seq, Captured: f.Captured, Width: f.Width, Height: f.Height, Wire: buf}, nil
}

func (p *Publication) measure(now time.Time, w, h int) {
	p.statMu.Lock()
	defer p.statMu.Unlock()
	if !p.lastAt.IsZero() {
		if d := now.Sub(p.lastAt).Seconds(); d > 0 {
			inst := 1 / d
			if p.fps == 0 {
				p.fps = inst
			} else {
				p.fps += (inst - p.fps) / 8
			}
		}
	}
	p.lastAt, p.width, p.height = now, w, h
	p.frames++
}

// Stop detaches the publisher and ends the stream: its viewers are closed
// with ErrStreamEnded. Stop is idempotent.
func (p *Publication) Stop() { p.stop(ErrStreamEnded) }

func (p *Publication) stop(reason error) {
	if !p.stopped.CompareAndSwap(false, true) {
		return
	}
	p.errMu.Lock()
	p.err = reason
	p.errMu.Unlock()
	close(p.done)
	h := p.hub
	h.mu.Lock()
	if p.idle != nil {
		p.idle.Stop()
	}
	state := h.stateLocked(p.st)
	state.Active = false
	var viewers []*Viewer
	if p.st.pub == p {
		p.st.pub = nil
		for _, v := range p.st.viewers {
			viewers = append(viewers, v)
		}
	}
	h.forgetLocked(p.st)
	h.mu.Unlock()
	// The viewers of a publication stopped for its publisher's sake
	// (revoked, idle) see an ordinary end.
	vreason := reason
	if errors.Is(reason, ErrRevoked) || errors.Is(reason, ErrIdle) {
		vreason = ErrStreamEnded
	}
	for _, v := range viewers {
		v.closeWith(vreason)
	}
	state.Viewers = 0
	h.log.Info("stream stopped", "room", p.st.room, "reason", reason, "frames", state.Frames)
	h.emit(Event{Kind: EventStopped, State: state, Err: reason})
}

// Done is closed when the publication stops, whoever stopped it.
func (p *Publication) Done() <-chan struct{} { return p.done }

// Err returns why the publication stopped, or nil while it runs.
func (p *Publication) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// ViewerStats are one viewer's counters.
type ViewerStats struct {
	ID      uint64
	Name    string
	Since   time.Time
	Sent    uint64 // frames written
	Dropped uint64 // frames dropped from its queue
	Queued  int
	LastSeq uint64 // sequence of the last frame written
}

// Viewer is one subscriber's queue. Its writer (one goroutine per
// connection) waits on Ready, takes frames with Pop, writes them and reports
// each successful write with Wrote. Everything else is driven by the
// publisher and costs it no more than a short lock per viewer.
type Viewer struct {
	id     uint64
	name   string
	member string
	hub    *Hub
	st     *stream
	qcap   int
	onKick func()
	since  time.Time
	ready  chan struct{}
	done   chan struct{}

	mu        sync.Mutex
	q         [2]*Packet
	head, n   int
	writing   bool
	busySince time.Time
	closed    bool
	err       error
	lastSeq   uint64

	sent    atomic.Uint64
	dropped atomic.Uint64
}

// ID returns the hub-wide viewer id.
func (v *Viewer) ID() uint64 { return v.id }

// offer queues pkt, dropping the oldest queued frame when full. It reports
// whether the viewer has made no progress for longer than the stall timeout.
func (v *Viewer) offer(pkt *Packet, now time.Time) (stalled bool) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return false
	}
	if v.n == v.qcap {
		v.q[v.head] = nil
		v.head = (v.head + 1) % v.qcap
		v.n--
		v.dropped.Add(1)
		v.hub.dropped.Add(1)
		stalled = now.Sub(v.busySince) > v.hub.opts.StallTimeout
	} else if v.n == 0 && !v.writing {
		v.busySince = now
	}
	v.q[(v.head+v.n)%v.qcap] = pkt
	v.n++
	v.mu.Unlock()
	select {
	case v.ready <- struct{}{}:
	default:
	}
	return stalled
}

// Ready is signalled after frames are queued. One signal may stand for
// several frames: drain with Pop until it returns nil.
func (v *Viewer) Ready() <-chan struct{} { return v.ready }

// Pop takes the oldest queued frame, or returns nil when the queue is empty.
// The writer must call Wrote after writing it successfully. After a stream
// ends, Pop still returns the frames that were queued, so a writer that sees
// Done should drain them before it says goodbye.
func (v *Viewer) Pop() *Packet {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.n == 0 {
		v.writing = false
		return nil
	}
	p := v.q[v.head]
	v.q[v.head] = nil
	v.head = (v.head + 1) % v.qcap
	v.n--
	v.writing = true
	return p
}

// Wrote records a completed write of p.
func (v *Viewer) Wrote(p *Packet) {
	now := time.Now()
	v.mu.Lock()
	v.writing = false
	v.busySince = now
	v.lastSeq = p.Seq
	v.mu.Unlock()
	v.sent.Add(1)
	v.hub.sent.Add(1)
	v.hub.latency.observe(now.Sub(p.Published))
}

// Next waits for the next frame. Once the viewer is closed it returns the
// frames still queued, then the close reason; or ctx's error.
func (v *Viewer) Next(ctx context.Context) (*Packet, error) {
	for {
		if p := v.Pop(); p != nil {
			return p, nil
		}
		select {
		case <-v.ready:
		case <-v.done:
			if p := v.Pop(); p != nil {
				return p, nil
			}
			return nil, v.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Done is closed when the viewer is closed: it left, stalled, or the stream
// ended.
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Err returns why the viewer was closed, or nil while it is open.
func (v *Viewer) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Close removes the viewer from its stream. It is idempotent.
func (v *Viewer) Close() { v.closeWith(ErrViewerClosed) }

func (v *Viewer) closeWith(reason error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.err = reason
	if !errors.Is(reason, ErrStreamEnded) {
		// Frames queued when a stream ends are still delivered (see Pop);
		// in every other case (a revoked viewer too) they are dropped.
		v.q = [2]*Packet{}
		v.n = 0
	}
	v.mu.Unlock()
	close(v.done)
	v.hub.removeViewer(v)
	if errors.Is(reason, ErrStalled) {
		v.hub.stalled.Add(1)
		if v.onKick != nil {
			v.onKick()
		}
	}
}

// Stats returns the viewer's counters.
func (v *Viewer) Stats() ViewerStats {
	v.mu.Lock()
	queued, last := v.n, v.lastSeq
	v.mu.Unlock()
	return ViewerStats{ID: v.id, Name: v.name, Since: v.since, Sent: v.sent.Load(), Dropped: v.dropped.Load(), Queued: queued, LastSeq: last}
}
