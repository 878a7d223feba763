package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"watchparty/config"
	"watchparty/engine/playback"
	"watchparty/engine/room/proto"
)

// SyncOptions tune synchronized playback (config keys sync.*). A zero field
// takes the configuration's default: the numbers live in config/options.go
// only.
type SyncOptions struct {
	// LeadMS schedules play this far ahead so every member starts
	// together.
	LeadMS int64
	// SeekLeadMS schedules seeks this far ahead: seeking into media that is
	// not buffered yet takes players longer than starting.
	SeekLeadMS int64
	// MaxLeadMS bounds the lead when it grows to cover the slowest member's
	// path (each member's reported one-way delay and start latencies).
	MaxLeadMS int64
	// ReadyTimeout is the longest buffering members can hold a room that
	// waits for everyone.
	ReadyTimeout time.Duration
	// The players' correction rule, sent in hello (embed/static/js/sync.js).
	DeadZoneMS             int
	SeekThresholdMS        int
	YouTubeSeekThresholdMS int
	TrimMS                 int
	CatchUpMS              int
	MaxNudgePct            int
	ReaimMS                int
	JoinCatchUpMS          int
	// MembersEvery bounds how often drift reports are passed on (2 s).
	MembersEvery time.Duration
	// CheckpointEvery saves a playing room's position this often, so a
	// crashed server resumes near it (30 s).
	CheckpointEvery time.Duration
}

// SyncOptionsFrom takes the sync.* options of a configuration.
func SyncOptionsFrom(c *config.Config) SyncOptions {
	s := c.Sync
	return SyncOptions{LeadMS: int64(s.LeadMS), SeekLeadMS: int64(s.SeekLeadMS), MaxLeadMS: int64(s.MaxLeadMS),
		ReadyTimeout: s.ReadyTimeout, DeadZoneMS: s.DeadZoneMS, SeekThresholdMS: s.SeekThresholdMS,
		YouTubeSeekThresholdMS: s.YouTubeSeekThresholdMS, TrimMS: s.TrimMS, CatchUpMS: s.CatchUpMS,
		MaxNudgePct: s.MaxNudgePct, ReaimMS: s.ReaimMS, JoinCatchUpMS: s.JoinCatchUpMS}
}

// defaultSync is the configuration's defaults, read once.
var defaultSync = sync.OnceValue(func() SyncOptions { //nolint:gochecknoglobals // computed once from the option table
	c, err := config.Defaults()
	if err != nil {
		panic("room: the configuration's defaults do not load: " + err.Error())
	}
	return SyncOptionsFrom(c)
})

func (o SyncOptions) withDefaults() SyncOptions {
	d := defaultSync()
	orDefault(&o.LeadMS, d.LeadMS)
	orDefault(&o.SeekLeadMS, d.SeekLeadMS)
	orDefault(&o.MaxLeadMS, d.MaxLeadMS)
	o.LeadMS, o.SeekLeadMS = min(o.LeadMS, playback.MaxLeadMS), min(o.SeekLeadMS, playback.MaxLeadMS)
	o.MaxLeadMS = min(o.MaxLeadMS, playback.MaxLeadMS)
	orDefault(&o.ReadyTimeout, d.ReadyTimeout)
	orDefault(&o.DeadZoneMS, d.DeadZoneMS)
	orDefault(&o.SeekThresholdMS, d.SeekThresholdMS)
	orDefault(&o.YouTubeSeekThresholdMS, d.YouTubeSeekThresholdMS)
	orDefault(&o.TrimMS, d.TrimMS)
	orDefault(&o.CatchUpMS, d.CatchUpMS)
	orDefault(&o.MaxNudgePct, d.MaxNudgePct)
	orDefault(&o.ReaimMS, d.ReaimMS)
	orDefault(&o.JoinCatchUpMS, d.JoinCatchUpMS)
	orDefault(&o.MembersEvery, 2*time.Second)
	orDefault(&o.CheckpointEvery, 30*time.Second)
	return o
}

// connSync is what a connection reported about its player.
type connSync struct {
	buffering bool
	ignored   bool  // buffered past ReadyTimeout: no longer holds the room
	drift     int64 // ms, positive = ahead
	reported  bool
	// What the member's player needs to start on time, from its drift
	// reports (ms): the one-way delay of the server's messages to it, how
	// long its media clock takes to move after play(), and how long a seek
	// takes it until it can play, into media it has loaded (seek) and to
	// media it has not (far). path is false before the first report.
	down, start, seek, far int64
	path                   bool
	// The media the player had loaded at its last report, the first
	// proto.MaxLoadedRanges ranges; ranges is false while it has not said
	// (a player that cannot tell, such as YouTube's): every seek then
	// counts as one into loaded media.
	loaded  [proto.MaxLoadedRanges]span
	nLoaded int
	ranges  bool
}

// span is a range of media, in seconds.
type span struct{ from, to float64 }

// has reports whether a seek to t lands in media the player had loaded,
// as the page decides it (sync.js bufferedAhead: more than half a second
// loaded from t on).
func (cs *connSync) has(t float64) bool {
	for _, r := range cs.loaded[:cs.nLoaded] {
		if r.from <= t+0.05 && r.to-t > 0.5 {
			return true
		}
	}
	return false
}

// syncState is a room's playback, queue and readiness. It is owned by the
// room's actor, like everything else in the actor.
type syncState struct {
	opt   SyncOptions
	state playback.State
	// want: the room should be playing but is held until everyone is ready.
	want      bool
	holdUntil time.Time // zero when not held
	conns     map[*Conn]*connSync

	queue    []QueueItem
	queueSeq uint64
	// queueLegacy: the queue was read from an old record and has no keys yet.
	queueLegacy bool

	endedVersion uint64 // version an end was handled for
	// videoVersion is the playback version the current video came in with:
	// a drift report naming an older one speaks of the video before.
	videoVersion uint64

	membersDirty bool
	membersAt    time.Time // when sync_members may next go out
	savedAt      time.Time

	timer  *time.Timer
	wakeAt time.Time
}

// PlaybackRecord is a room's playback state as kept. Queue and QueueSeq
// are only read, from records written before the queue had keys of its own
// (queue.go).
type PlaybackRecord struct {
	State    playback.State `json:"state"`
	Queue    []QueueItem    `json:"queue,omitempty"`
	QueueSeq uint64         `json:"queue_seq,omitempty"`
	SavedAt  int64          `json:"saved_at"` // unix ms of the write
}

// loadSync reads the room's playback record. A room that was playing when
// the server stopped comes back paused at the position it had at the last
// save (each change, every CheckpointEvery while playing, and at shutdown):
// nobody is watching a room whose server restarts, and continuing would
// skip what happened during the outage.
func (a *actor) loadSync(tx Tx) error {
	a.sync.opt = a.s.opt.Sync.withDefaults()
	a.sync.conns = map[*Conn]*connSync{}
	rec, ok, err := tx.Playback(a.code)
	if err != nil {
		return err
	}
	if !ok {
		a.syncFromVideo()
		return nil
	}
	if rec.State.Validate() != nil {
		rec.State = playback.State{Version: rec.State.Version}
	}
	a.sync.state = rec.State
	if err := a.loadQueue(tx, rec.Queue, rec.QueueSeq); err != nil {
		return err
	}
	if a.sync.state.Playing {
		saved := rec.SavedAt
		if saved < a.sync.state.UpdatedAt {
			saved = a.sync.state.UpdatedAt
		}
		if next, err := playback.Pause(a.sync.state, saved); err == nil {
			next.UpdatedAt = a.now().UnixMilli()
			a.sync.state = next
		}
	}
	if v := a.info.Video; v != nil && v.URL != a.sync.state.Source {
		a.syncFromVideo()
	}
	return nil
}

// syncFromVideo loads the room's current video, paused at its start.
func (a *actor) syncFromVideo() {
	v := a.info.Video
	if v == nil {
		return
	}
	if next, err := playback.Load(a.sync.state, v.URL, v.Kind, v.Start, a.now().UnixMilli()); err == nil {
		a.sync.state = next
	}
}

// saveSync persists the playback record.
func (a *actor) saveSync() {
	now := a.now()
	rec := PlaybackRecord{State: a.sync.state, SavedAt: now.UnixMilli()}
	if err := a.s.repo.Update(func(tx Tx) error {
		if a.sync.queueLegacy {
			// A record of an older version held the queue: move it out.
			if err := a.saveQueue(tx, nil, nil); err != nil {
				return err
			}
		}
		return tx.PutPlayback(a.code, &rec)
	}); err != nil {
		a.s.log.Error("saving playback", "room", a.code, "err", err)
		return
	}
	a.sync.savedAt = now
}

// syncShutdown saves the exact position before the server stops.
func (a *actor) syncShutdown() {
	if a.err == nil && a.info != nil {
		a.saveSync()
	}
}

// ---- messages ----

// PlaybackMsg is the playback message: the room's state and, when the room
// waits for buffering members, who it waits for.
type wirePlayback struct {
	State   playback.State `json:"state"`
	By      string         `json:"by,omitempty"`
	Held    bool           `json:"held,omitempty"`
	Waiting []string       `json:"waiting,omitempty"`
	Until   int64          `json:"until,omitempty"` // unix ms the hold ends at the latest
	Time    int64          `json:"time"`
}

type wireMemberSync struct {
	Buffering bool  `json:"buffering,omitempty"`
	Drift     int64 `json:"drift"`
	Reported  bool  `json:"reported"`
}

type wireSyncMembers struct {
	Members map[string]wireMemberSync `json:"members"`
}

// wireSyncHello is hello's "sync" object: the players' correction rule
// (the tuning of embed/static/js/sync.js, from the sync.* options) and the
// room's hold.
type wireSyncHello struct {
	DeadZoneMS             int                       `json:"dead_zone_ms"`
	SeekThresholdMS        int                       `json:"seek_threshold_ms"`
	YouTubeSeekThresholdMS int                       `json:"youtube_seek_threshold_ms"`
	TrimMS                 int                       `json:"trim_ms"`
	CatchUpMS              int                       `json:"catch_up_ms"`
	MaxNudgePct            int                       `json:"max_nudge_pct"`
	ReaimMS                int                       `json:"reaim_ms"`
	JoinCatchUpMS          int                       `json:"join_catch_up_ms"`
	LeadMS                 int64                     `json:"lead_ms"`
	Held                   bool                      `json:"held,omitempty"`
	Waiting                []string                  `json:"waiting,omitempty"`
	Members                map[string]wireMemberSync `json:"members"`
}

func (a *actor) playbackMsg(by string) out {
	w := wirePlayback{State: a.sync.state, By: by, Time: a.now().UnixMilli()}
	if a.held() {
		w.Held = true
		w.Waiting = a.waitingFor()
		w.Until = a.sync.holdUntil.UnixMilli()
	}
	return encode(proto.Playback, w)
}

// syncHello is what hello carries about playback.
func (a *actor) syncHello() *wireSyncHello {
	o := a.sync.opt
	h := &wireSyncHello{DeadZoneMS: o.DeadZoneMS, SeekThresholdMS: o.SeekThresholdMS,
		YouTubeSeekThresholdMS: o.YouTubeSeekThresholdMS, TrimMS: o.TrimMS, CatchUpMS: o.CatchUpMS,
		MaxNudgePct: o.MaxNudgePct, ReaimMS: o.ReaimMS, JoinCatchUpMS: o.JoinCatchUpMS, LeadMS: o.LeadMS, Members: a.memberSync()}
	if a.held() {
		h.Held = true
		h.Waiting = a.waitingFor()
	}
	return h
}

// helloPlayback is hello's "playback" (nil before any video).
func (a *actor) helloPlayback() *playback.State {
	if a.sync.state.Source == "" {
		return nil
	}
	s := a.sync.state
	return &s
}

func (a *actor) memberSync() map[string]wireMemberSync {
	out := map[string]wireMemberSync{}
	for c, cs := range a.sync.conns {
		w, seen := out[c.user.ID]
		if !seen || cs.reported {
			w.Drift, w.Reported = cs.drift, cs.reported || w.Reported
		}
		w.Buffering = w.Buffering || cs.buffering
		out[c.user.ID] = w
	}
	return out
}

func (a *actor) broadcastPlayback(by string) {
	a.saveSync()
	a.broadcast(a.playbackMsg(by), "")
	a.syncSchedule()
}

func (a *actor) held() bool { return a.sync.want }

// waitingFor lists the members the room waits for, sorted.
func (a *actor) waitingFor() []string {
	seen := map[string]bool{}
	var out []string
	for c, cs := range a.sync.conns {
		if cs.buffering && !cs.ignored && !seen[c.user.ID] {
			seen[c.user.ID] = true
			out = append(out, c.user.ID)
		}
	}
	sort.Strings(out)
	return out
}

func (a *actor) anyBuffering() bool {
	for _, cs := range a.sync.conns {
		if cs.buffering && !cs.ignored {
			return true
		}
	}
	return false
}

// syncMsg handles the playback, readiness and queue messages. It reports
// false for types it does not know.
func (a *actor) syncMsg(c *Conn, m *memberState, cm *proto.ClientMessage) bool {
	switch cm.Type {
	case proto.Play, proto.Pause, proto.Seek, proto.Rate:
		if a.may(c, m, cm, a.info.Settings.Control, "control playback") && a.allow(c, m, cm) {
			a.control(c, m, cm)
		}
	case proto.Buffering:
		a.reportBuffering(c, cm.On)
	case proto.Drift:
		a.reportDrift(c, cm.T)
		a.reportPath(c, cm.Raw)
	case proto.Duration:
		a.reportDuration(c, cm)
	case proto.Ended:
		a.reportEnded(c, m, cm)
	case proto.QueueAdd, proto.QueueRemove, proto.QueueMove, proto.QueueClear:
		if a.may(c, m, cm, a.info.Settings.ManageQueue, "change the queue") && a.allow(c, m, cm) {
			a.queueMsg(c, m, cm)
		}
	case proto.QueueNext:
		if !a.may(c, m, cm, a.info.Settings.ChangeVideo, "change the video") {
			return true
		}
		if len(a.sync.queue) == 0 {
			c.sendError(proto.CodeNotFound, "the queue is empty", cm.Ref, 0)
			return true
		}
		if a.allow(c, m, cm) {
			a.advance(m, true)
		}
	default:
		return false
	}
	return true
}

func (a *actor) control(c *Conn, m *memberState, cm *proto.ClientMessage) {
	if a.sync.state.Source == "" {
		c.sendError(proto.CodeNoVideo, "share a video first", cm.Ref, 0)
		return
	}
	now := a.now().UnixMilli()
	s := a.sync.state
	var next playback.State
	var err error
	switch cm.Type {
	case proto.Play:
		if a.info.Settings.WaitForAll && a.anyBuffering() {
			if !a.sync.want {
				a.hold()
				a.broadcastPlayback(m.ID)
			}
			return
		}
		next, err = playback.Play(s, now, a.lead(noSeek))
	case proto.Pause:
		a.sync.want = false
		a.sync.holdUntil = time.Time{}
		next, err = playback.Pause(s, now)
		if err == nil && next.Version == s.Version {
			a.broadcastPlayback(m.ID) // the hold ended
			return
		}
	case proto.Seek:
		next, err = playback.Seek(s, cm.T, now, a.lead(seekTarget(s, cm.T)))
	case proto.Rate:
		next, err = playback.SetRate(s, cm.T, now)
	}
	if err != nil {
		c.sendError(proto.CodeBadCommand, commandError(err), cm.Ref, 0)
		return
	}
	if next.Version == s.Version {
		return // nothing changed (play while playing)
	}
	a.sync.state = next
	a.broadcastPlayback(m.ID)
}

// seekTarget is where a seek to t lands (a valid target; an invalid one is
// refused by playback.Seek).
func seekTarget(s playback.State, t float64) float64 {
	if math.IsNaN(t) || t < 0 {
		return 0
	}
	if s.Duration > 0 {
		return min(t, s.Duration)
	}
	return t
}

func commandError(err error) string {
	switch {
	case errors.Is(err, playback.ErrInvalidPosition):
		return "the position must be a number of seconds, 0 or more"
	case errors.Is(err, playback.ErrInvalidRate):
		return fmt.Sprintf("the rate must be between %v and %v", playback.MinRate, playback.MaxRate)
	}
	return "the command could not be applied"
}

// hold pauses a playing room (or keeps a paused one paused) until every
// connected member is ready or ReadyTimeout passes.
func (a *actor) hold() {
	if next, err := playback.Pause(a.sync.state, a.now().UnixMilli()); err == nil {
		a.sync.state = next
	}
	a.sync.want = true
	a.sync.holdUntil = a.now().Add(a.sync.opt.ReadyTimeout)
}

// release starts a held room.
func (a *actor) release() {
	a.sync.want = false
	a.sync.holdUntil = time.Time{}
	if next, err := playback.Play(a.sync.state, a.now().UnixMilli(), a.lead(noSeek)); err == nil {
		a.sync.state = next
	}
	a.broadcastPlayback("")
}

// checkHold releases a held room when nobody holds it any more, and holds
// a playing one when someone buffers.
func (a *actor) checkHold() {
	switch {
	case a.sync.want && (!a.info.Settings.WaitForAll || !a.anyBuffering()):
		a.release()
	case !a.sync.want && a.sync.state.Playing && a.info.Settings.WaitForAll && a.anyBuffering() && a.sync.state.Source != "":
		a.hold()
		a.broadcastPlayback("")
	}
}

func (a *actor) connSync(c *Conn) *connSync {
	cs := a.sync.conns[c]
	if cs == nil {
		cs = &connSync{}
		a.sync.conns[c] = cs
	}
	return cs
}

func (a *actor) reportBuffering(c *Conn, on bool) {
	cs := a.connSync(c)
	if cs.buffering == on && !(on && cs.ignored) {
		return
	}
	cs.buffering = on
	if !on {
		cs.ignored = false
	}
	a.sync.membersDirty = true
	a.sendMembers(true)
	a.checkHold()
}

func (a *actor) reportDrift(c *Conn, ms float64) {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return
	}
	cs := a.connSync(c)
	d := int64(math.Max(-1e9, math.Min(1e9, math.Round(ms))))
	if cs.reported && cs.drift == d {
		return
	}
	cs.drift, cs.reported = d, true
	a.sync.membersDirty = true
	a.sendMembers(false)
}

// maxPathMS bounds each figure of a member's path report.
const maxPathMS = 10_000

// maxMediaSeconds bounds the ends of a reported range of loaded media.
const maxMediaSeconds = 1e7

// pathReport is what a drift report says about the member's path: the
// one-way delay of messages from the server (ms), the player's start
// latency, its seek latency into loaded media and, optionally, to media
// not loaded (far) and the ranges of media it has loaded (seconds).
type pathReport struct {
	Down   *float64     `json:"down"`
	Start  *float64     `json:"start"`
	Seek   *float64     `json:"seek"`
	Far    *float64     `json:"far"`
	Ranges *[][]float64 `json:"ranges"`
	// Version is the playback version the player was following (absent:
	// the report does not say, and its ranges count).
	Version *float64 `json:"version"`
}

// pathFigures is a drift report's path, checked and clamped.
type pathFigures struct {
	down, start, seek, far int64
	loaded                 [proto.MaxLoadedRanges]span
	nLoaded                int
	ranges                 bool
	// version is the report's playback version, 0 when it has none.
	version float64
}

// parsePath reads what a drift report says about the member's path: false
// for a report without the three figures, or with one that is not a
// number (or a far or ranges of the wrong type). A report without far
// counts its seek for media not loaded; one without ranges says nothing
// about what is loaded.
func parsePath(raw []byte) (pathFigures, bool) {
	var p pathReport
	var f pathFigures
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil || p.Down == nil || p.Start == nil || p.Seek == nil {
		return f, false
	}
	ms := func(v float64) (int64, bool) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return int64(math.Round(math.Max(0, math.Min(maxPathMS, v)))), true
	}
	var ok [4]bool
	f.down, ok[0] = ms(*p.Down)
	f.start, ok[1] = ms(*p.Start)
	f.seek, ok[2] = ms(*p.Seek)
	f.far, ok[3] = f.seek, true
	if p.Far != nil {
		f.far, ok[3] = ms(*p.Far)
	}
	if ok != [4]bool{true, true, true, true} {
		return f, false
	}
	if p.Ranges != nil {
		f.ranges, f.nLoaded = true, loadedRanges(&f.loaded, *p.Ranges)
	}
	if p.Version != nil {
		f.version = *p.Version
	}
	return f, true
}

// reportPath notes what a drift report says about the member's path, for
// the lead; a report parsePath refuses leaves the previous one in place.
// Its ranges do not count when it names a playback version from before the
// current video: it was sent before the member had the new video, and what
// it says is loaded is the old one's.
func (a *actor) reportPath(c *Conn, raw []byte) {
	f, ok := parsePath(raw)
	if !ok {
		return
	}
	cs := a.connSync(c)
	cs.down, cs.start, cs.seek, cs.far, cs.path = f.down, f.start, f.seek, f.far, true
	if f.version > 0 && f.version < float64(a.sync.videoVersion) {
		return
	}
	cs.loaded, cs.nLoaded, cs.ranges = f.loaded, f.nLoaded, f.ranges
}

// loadedRanges keeps the first valid ranges of a report in dst: pairs of
// seconds [from, to] with from < to once clamped to 0..maxMediaSeconds.
// Anything else in the list is skipped. It returns how many it kept.
func loadedRanges(dst *[proto.MaxLoadedRanges]span, rs [][]float64) int {
	n := 0
	for _, r := range rs {
		if n == len(dst) {
			break
		}
		if len(r) != 2 || math.IsNaN(r[0]) || math.IsNaN(r[1]) {
			continue
		}
		from, to := math.Max(0, math.Min(maxMediaSeconds, r[0])), math.Max(0, math.Min(maxMediaSeconds, r[1]))
		if from < to {
			dst[n] = span{from, to}
			n++
		}
	}
	return n
}

// leadMarginMS is added to a member's needs: the timer that starts its
// player wakes a few ms late, and its report is a few seconds old.
const leadMarginMS = 25

// noSeek is lead's target for a start without a seek.
const noSeek = -1.0

// lead is how far ahead a start is scheduled (to >= 0: a start after a
// seek to that position): long enough for the member whose path needs
// most (the message's way down, the seek, then play() early by the start
// latency), up to MaxLeadMS; a player that needs more catches up. Each
// member's seek is the one into media it has loaded, or the one to media
// it has not when its report says the target is not loaded. The
// configured seek lead is a floor only while some member has not said
// what it needs: once every member has, a seek is scheduled as far ahead
// as the slowest of them needs, never less than the play lead.
func (a *actor) lead(to float64) int64 {
	o := a.sync.opt
	seek := to >= 0
	base := o.LeadMS
	if seek {
		base = o.SeekLeadMS
	}
	lead, all := o.LeadMS, len(a.sync.conns) > 0
	for _, cs := range a.sync.conns {
		if !cs.path {
			all = false
			continue
		}
		need := cs.down + cs.start + leadMarginMS
		switch {
		case seek && cs.ranges && !cs.has(to):
			need += cs.far
		case seek:
			need += cs.seek
		}
		lead = max(lead, need)
	}
	if !all {
		lead = max(lead, base)
	}
	return min(lead, max(base, o.MaxLeadMS))
}

// sendMembers broadcasts the members' sync status: now when urgent (a
// buffering change), otherwise at most every MembersEvery.
func (a *actor) sendMembers(urgent bool) {
	now := a.now()
	if !a.sync.membersDirty {
		return
	}
	if !urgent && now.Before(a.sync.membersAt) {
		a.syncSchedule()
		return
	}
	a.sync.membersDirty = false
	a.sync.membersAt = now.Add(a.sync.opt.MembersEvery)
	a.broadcast(encode(proto.SyncMembers, wireSyncMembers{Members: a.memberSync()}), "")
}

func (a *actor) reportDuration(c *Conn, cm *proto.ClientMessage) {
	s := a.sync.state
	if cm.Seq != s.Version || s.Duration > 0 || s.Source == "" {
		return
	}
	next, err := playback.SetDuration(s, cm.T)
	if err != nil || cm.T <= 0 {
		c.sendError(proto.CodeBadCommand, "the duration must be a positive number of seconds", cm.Ref, 0)
		return
	}
	a.sync.state = next
	a.broadcastPlayback("")
}

// reportEnded handles a client's report that the media ended. Every client
// reports the end of the same version; only the first report of the current
// version acts. A report is believed when the room's own arithmetic agrees
// (within 3 s) or, for media of unknown length, from members who may
// control playback.
func (a *actor) reportEnded(c *Conn, m *memberState, cm *proto.ClientMessage) {
	s := a.sync.state
	if cm.Seq != s.Version || a.sync.endedVersion == s.Version || !s.Playing {
		return
	}
	now := a.now().UnixMilli()
	if s.Duration > 0 {
		if s.PositionAt(now) < s.Duration-3 {
			return
		}
	} else if !a.info.Settings.Control.Allows(m.Role) {
		return
	}
	a.ended()
}

// ended moves to the next queued video, or pauses at the end.
func (a *actor) ended() {
	a.sync.endedVersion = a.sync.state.Version
	if len(a.sync.queue) > 0 {
		a.advance(nil, false)
		return
	}
	now := a.now().UnixMilli()
	next, err := playback.Pause(a.sync.state, now)
	if err != nil {
		return
	}
	if next.Duration > 0 {
		next.Position = next.Duration
	}
	a.sync.state = next
	a.broadcastPlayback("")
}

// syncVideo loads a new video into the playback state: it plays when the
// room was playing (after the lead, so members have time to load it),
// otherwise it waits paused at its start.
func (a *actor) syncVideo(v *Video, by string) {
	a.videoLeft()
	wasPlaying := a.sync.state.Playing || a.sync.want
	now := a.now().UnixMilli()
	next, err := playback.Load(a.sync.state, v.URL, v.Kind, v.Start, now)
	if err != nil {
		return
	}
	a.sync.state = next
	a.sync.videoVersion = next.Version
	a.sync.want = false
	a.sync.holdUntil = time.Time{}
	for _, cs := range a.sync.conns {
		// Nothing of the new video is loaded yet.
		cs.ignored, cs.nLoaded = false, 0
	}
	if wasPlaying {
		if a.info.Settings.WaitForAll && a.anyBuffering() {
			a.hold()
		} else if p, err := playback.Play(next, now, a.lead(noSeek)); err == nil {
			a.sync.state = p
		}
	}
	a.broadcastPlayback(by)
}

// syncJoined is called when a connection joins.
func (a *actor) syncJoined(c *Conn) {
	a.connSync(c)
}

// syncLeft forgets a closed connection.
func (a *actor) syncLeft(c *Conn) {
	if _, ok := a.sync.conns[c]; !ok {
		return
	}
	delete(a.sync.conns, c)
	a.sync.membersDirty = true
	a.sendMembers(true)
	if len(a.sync.conns) == 0 {
		// Nobody is watching: a member reloading the page finds the video
		// where it would be, and the saved position is the one to resume
		// from if the actor stops.
		a.sync.want = false
		a.sync.holdUntil = time.Time{}
		a.saveSync()
		a.syncSchedule()
		return
	}
	a.checkHold()
}

// ---- timer ----

// syncWake is the channel of the room's playback timer (nil when idle);
// the actor's loop selects on it and calls syncTimer.
func (a *actor) syncWake() <-chan time.Time {
	if a.sync.timer == nil {
		return nil
	}
	return a.sync.timer.C
}

// syncSchedule sets the timer to the earliest of: the end of a hold, the
// next sync_members broadcast, the end of the media, and a checkpoint.
func (a *actor) syncSchedule() {
	var at time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	s := a.sync.state
	if a.sync.want {
		consider(a.sync.holdUntil)
	}
	if a.sync.membersDirty {
		consider(a.sync.membersAt)
	}
	if s.Playing && len(a.sync.conns) > 0 {
		if s.Duration > 0 && a.sync.endedVersion != s.Version {
			rem := (s.Duration - s.PositionAt(s.UpdatedAt)) / s.EffectiveRate()
			// A second of grace: clients report the end first.
			consider(time.UnixMilli(s.UpdatedAt).Add(time.Duration(rem*float64(time.Second)) + time.Second))
		}
		consider(a.sync.savedAt.Add(a.sync.opt.CheckpointEvery))
	}
	if at.IsZero() {
		if a.sync.timer != nil {
			a.sync.timer.Stop()
		}
		a.sync.wakeAt = time.Time{}
		return
	}
	if at.Equal(a.sync.wakeAt) && a.sync.timer != nil {
		return
	}
	a.sync.wakeAt = at
	d := max(at.Sub(a.now()), 0)
	if a.sync.timer == nil {
		a.sync.timer = time.NewTimer(d)
	} else {
		a.sync.timer.Reset(d)
	}
}

// syncTimer runs the deadlines that are due.
func (a *actor) syncTimer() {
	a.sync.wakeAt = time.Time{}
	if a.err != nil {
		return
	}
	now := a.now()
	if a.sync.want && !now.Before(a.sync.holdUntil) {
		// Stragglers stop holding the room until they are ready again.
		for _, cs := range a.sync.conns {
			if cs.buffering {
				cs.ignored = true
			}
		}
		a.release()
	}
	if a.sync.membersDirty && !now.Before(a.sync.membersAt) {
		a.sendMembers(false)
	}
	s := a.sync.state
	if s.Playing && playback.Ended(s, now.UnixMilli()) && a.sync.endedVersion != s.Version && len(a.sync.conns) > 0 {
		a.ended()
	} else if s.Playing && !now.Before(a.sync.savedAt.Add(a.sync.opt.CheckpointEvery)) {
		a.saveSync()
	}
	a.syncSchedule()
}

// syncStop releases the timer when the actor ends.
func (a *actor) syncStop() {
	if a.sync.timer != nil {
		a.sync.timer.Stop()
	}
}

// Snapshot is what a room plays, for a page about to join it: the video,
// its playback state (nil before any video) and the room's clock when it
// was taken (Unix ms). The page starts loading the video with it; the
// hello that follows rules.
type Snapshot struct {
	Video *Video
	State *playback.State
	Now   int64
}

// Snapshot returns what room code plays now.
func (s *Service) Snapshot(ctx context.Context, code string) (Snapshot, error) {
	var out Snapshot
	err := s.exec(ctx, code, func(a *actor) error {
		if v := a.info.Video; v != nil {
			c := *v
			out.Video = &c
		}
		out.State = a.helloPlayback()
		out.Now = a.now().UnixMilli()
		return nil
	})
	return out, err
}
