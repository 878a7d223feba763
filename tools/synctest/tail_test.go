//go:build browser

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"watchparty/engine/browsertest"
	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
)

// fileRange is one request of a page for a library file, from its shaper's
// trace: the first byte of its range (-1 for a suffix range, bytes=-n).
type fileRange struct {
	line  string
	start int64
}

var rangeStart = regexp.MustCompile(`\(bytes=(\d*)-\d*\)`)

// fileRequests lists member i's requests for library file name, in the
// order they reached the server.
func fileRequests(t *testing.T, s *Session, i int, name string) []fileRange {
	t.Helper()
	var out []fileRange
	for _, e := range s.Shapers[i].Wire() {
		if e.Kind != "req" || !strings.Contains(e.Text, "/media/file/"+name+"?") {
			continue
		}
		r := fileRange{line: e.Text, start: 0}
		if m := rangeStart.FindStringSubmatch(e.Text); m != nil {
			r.start = -1
			if m[1] != "" {
				r.start, _ = strconv.ParseInt(m[1], 10, 64)
			}
		}
		out = append(out, r)
	}
	return out
}

// moovBlock is where the player's read of file's moov starts (the 32 KB
// block holding its first byte) and the file's size.
func moovBlock(t *testing.T, file string) (block, size int64) {
	t.Helper()
	b, size := mediatest.TopBoxes(t, file)
	return b.Moov.Offset / (32 << 10) * (32 << 10), size
}

// TestBrowserMP4TailFirst: a late joiner's page for an MP4 whose index
// (moov) is at its end asks for the file's tail from the moov's 32 KB block
// first, then the head, and its player's read of the moov begins in the
// browser's cache: it never asks the server for the moov's first block. How
// much more of the tail the cache answers is Chromium's: in 4 of 8 runs it
// answered the whole moov; in the others its entry lost the tail after the
// first 64-128 KB had been read and the player asked for the rest (logged).
// For the same video made with +faststart (the moov first) the page asks
// for no tail: the head first.
func TestBrowserMP4TailFirst(t *testing.T) {
	dir := t.TempDir()
	end := MakeClipIn(t, dir, 120, "mp4")
	const fast = "clip-fast.mp4"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", filepath.Join(dir, end),
		"-c", "copy", "-movflags", "+faststart", filepath.Join(dir, fast))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	block, size := moovBlock(t, filepath.Join(dir, end))
	if block == 0 || size-block > media.MaxEarlyTail {
		t.Fatalf("the test clip's moov block %d of %d bytes: no early tail to test", block, size)
	}

	s := NewSession(t, dir, end, 3, nil)
	// The late joiners' link carries 4 Mbit/s: the head's stream reaches
	// the moov (9 MB in) only after half a minute, so a player without the
	// tail in its cache asks for the moov on its own (on an uncapped
	// loopback path the stream may bring the whole file first).
	for _, i := range []int{1, 2} {
		s.Shape(t, i, mustProfile("late=50/50,,,4000"))
	}
	a := soloPlaying(t, s)

	late := func(i int, name string) []fileRange {
		w := s.Window(t, i)
		s.Enter(t, i, w)
		waitTogether(t, "late joiner on "+name, s.Opened(), func(p Probe) bool { return playing(p) })
		reqs := fileRequests(t, s, i, name)
		for _, r := range reqs {
			t.Logf("member %d, %s: %s", i, name, r.line)
		}
		return reqs
	}

	reqs := late(1, end)
	head := len(reqs)
	for k, r := range reqs {
		if r.start == 0 {
			head = k
			break
		}
	}
	if head == len(reqs) {
		t.Fatalf("the late joiner never asked for the moov-at-end MP4's head: %+v", reqs)
	}
	for _, r := range reqs[head+1:] {
		switch {
		case r.start == block:
			t.Errorf("after the head, the player asked for %q, the moov's first block: its cache did not answer it", r.line)
		case r.start > block:
			t.Logf("after the head, the player asked for %q, in the tail (from %d): the cache answered only its start", r.line, block)
		}
	}
	if head != 1 || reqs[0].start != block {
		t.Errorf("the late joiner's requests for the moov-at-end MP4: %+v; want the tail from %d (the moov's block), then the head", reqs, block)
	}

	// The owner puts the faststart copy on (as the share form would) and
	// plays it once every open player has loaded it.
	s.Clip = "media:" + fast
	browsertest.Eval[bool](a, `(window.watchpartySync.o.send({ type: "video", url: `+jsString(s.Clip)+` }), true)`)
	for _, w := range s.Opened() {
		w.WaitJS(`(() => { const v = document.querySelector('#player video'); const e = window.watchpartySync;
			return v && v.readyState >= 3 && e.adapter && e.state && e.state.source === ` + jsString(s.Clip) + `; })()`)
	}
	command(t, a, "play")
	waitTogether(t, "play the faststart MP4", s.Opened(), func(p Probe) bool { return playing(p) && p.Pos > 0.5 })
	reqs = late(2, fast)
	if len(reqs) == 0 || reqs[0].start != 0 {
		t.Errorf("the late joiner's requests for the faststart MP4: %+v; want the head first, no tail", reqs)
	}
}

// lateJoinerOn plays a 120 s WebM clip to member 0 and brings member 1 to
// the room late over a path of the given profile; it returns the session
// and the clip's name once both play, member 1's shaper trace complete up
// to its first play.
func lateJoinerOn(t *testing.T, profile string) (s *Session, clip, tail string) {
	t.Helper()
	dir := t.TempDir()
	clip = MakeClipIn(t, dir, 120, "webm")
	tail = fmt.Sprintf("(bytes=%d-)", mediatest.EarlyTail(t, filepath.Join(dir, clip)))
	s = NewSession(t, dir, clip, 2, nil)
	s.Shape(t, 1, mustProfile(profile))
	soloPlaying(t, s)
	w := s.Window(t, 1)
	s.Enter(t, 1, w)
	waitTogether(t, "late joiner", s.Opened(), func(p Probe) bool { return playing(p) })
	return s, clip, tail
}

// TestBrowserLateJoinTailOnWarmConnection: a late joiner's page on a 200 ms
// path asks for its WebM file's tail before its start-up scripts, so that
// the tail goes on a connection the browser had open when the page came
// (the page's own, idle once it is in, or the one Chromium opened beside
// it), not on a new one (its handshake, a round trip more on the late
// joiner's chain); the scripts follow on the other. The shaper's trace
// says which connection each request took and when each was opened.
func TestBrowserLateJoinTailOnWarmConnection(t *testing.T) {
	s, clip, tailRange := lateJoinerOn(t, "late=100/100")
	opened := map[uint64]float64{}
	var page, tail, entry *WireEvent
	pageAt := math.Inf(1)
	wire := s.Shapers[1].Wire()
	for k := range wire {
		e := &wire[k]
		switch {
		case e.Kind == "open":
			opened[e.Conn] = e.At
		case e.Kind == "req" && page == nil && e.Text == "GET /r/"+s.Code:
			page = e
		case e.Kind == "req" && tail == nil && strings.Contains(e.Text, "/media/file/"+clip+"?") && strings.Contains(e.Text, tailRange):
			tail = e
		case e.Kind == "req" && entry == nil && strings.HasSuffix(e.Text, "/js/room.js"):
			entry = e
		case e.Kind == "resp" && page != nil && e.Conn == page.Conn && pageAt == math.Inf(1):
			pageAt = e.At
		}
	}
	if page == nil || tail == nil || entry == nil {
		t.Fatalf("the late joiner's trace has page %v, tail %v, entry script %v; want all three", page, tail, entry)
	}
	for _, e := range []*WireEvent{page, tail, entry} {
		t.Logf("%s reached the server %.0f ms after the page's request, on connection %d (opened at %.0f)", e.Text, e.At-page.At, e.Conn, opened[e.Conn]-page.At)
	}
	if at, ok := opened[tail.Conn]; !ok || at > pageAt {
		t.Errorf("the file's tail went on connection %d, opened %.0f ms after the page's response began: a new connection, not one the page had", tail.Conn, at-pageAt)
	}
	if tail.Conn == entry.Conn && tail.At > entry.At {
		t.Errorf("the entry script took the connection before the tail (%s, then %s)", entry.Text, tail.Text)
	}
}

// TestBrowserLateJoinMediaOnOpenConnections: a late joiner's requests for
// its WebM file after the tail (the head, the data at its aim) go on
// connections the page had used before, not on new ones (a handshake, a
// round trip more on the chain). Here the late joiner's path carries 2
// Mbit/s, so the tail's 35 KB take about 140 ms to come: the head's request
// is let go only once all of the tail is in (it would otherwise leave at the
// tail's first byte, find the tail's connection still busy and open one),
// and the room module is asked for on a connection of its own, so that the
// entry script's is idle when the player asks for the data at its aim.
func TestBrowserLateJoinMediaOnOpenConnections(t *testing.T) {
	s, clip, tailRange := lateJoinerOn(t, "late=100/100,,,2000")
	wire := s.Shapers[1].Wire()
	used := map[uint64]bool{} // connections that carried a request
	var tail *WireEvent
	var entry, room uint64 // the start-up scripts' connections
	tailEnd, headAt := 0.0, 0.0
	var lines []string
	for k := range wire {
		e := &wire[k]
		if tail != nil && headAt == 0 && e.Kind == "data" && e.Conn == tail.Conn {
			tailEnd = e.At
		}
		if e.Kind != "req" {
			continue
		}
		file := strings.Contains(e.Text, "/media/file/"+clip+"?")
		switch {
		case file && tail == nil && strings.Contains(e.Text, tailRange):
			tail = e
		case file && tail != nil:
			if headAt == 0 && strings.Contains(e.Text, "(bytes=0-") {
				headAt = e.At
			}
			if !used[e.Conn] {
				t.Errorf("%s went on a new connection (%d)", e.Text, e.Conn)
			}
		}
		if file {
			lines = append(lines, fmt.Sprintf("%s on connection %d", e.Text, e.Conn))
		}
		switch {
		case strings.HasSuffix(e.Text, "/js/room.js") && entry == 0:
			entry = e.Conn
		case strings.HasSuffix(e.Text, "/js/room/app.js") && room == 0:
			room = e.Conn
		}
		used[e.Conn] = true
	}
	if entry == 0 || room == 0 || entry == room {
		t.Errorf("the entry script went on connection %d, the room module on %d; want two connections", entry, room)
	}
	t.Logf("the late joiner's file requests: %q", lines)
	if tail == nil || headAt == 0 {
		t.Fatalf("the late joiner's trace has no tail or no head: %q", lines)
	}
	if headAt < tailEnd {
		t.Errorf("the head reached the server %.0f ms before the tail's last byte reached the page", tailEnd-headAt)
	}
}

// heldJS makes a page's navigation timing read as if a loss had held the
// first piece of its response page ms (its first byte that much later);
// its connect takes 0.4 ms (as through a proxy on this machine: no round
// trip to read from it). It keeps the real navigation's
// span (as the page's early script takes it) in window.__cleanSpan.
const heldJS = `(() => {
  const page = %d;
  const real = Performance.prototype.getEntriesByType;
  Performance.prototype.getEntriesByType = function (type) {
    const es = real.call(this, type);
    if (type !== "navigation" || !es.length) return es;
    const e = es[0].toJSON();
    window.__cleanSpan = e.responseStart - e.connectStart;
    e.responseStart += page;
    e.connectEnd = e.connectStart + 0.4;
    return [e];
  };
})();`

// TestBrowserLateJoinAimsPastAHeldPage: a late joiner's early aim follows
// what the file's tail shows of the path. A page whose first piece a loss
// held 250 ms reads its navigation as a round trip 125 ms longer than the
// path's, and first aims (4 round trips) half a second too far ahead (a
// connect of under a millisecond, as through a proxy, is not taken for the
// path's round trip); once the
// tail is in (one round trip on an open connection) it aims again by that
// shorter round trip. A tail whose answer a loss held 200 ms (the shaper
// holds it: HoldResponse) holds up the file's head (its request waits for
// the tail's response), and the page aims half that further. Either is
// done before the video's metadata: the aim is then within 100 ms of a
// clean page's (4 round trips read from the tail's timing, not from the
// page's busy main thread), or within 50 ms of that and half the tail's
// hold; the player
// starts where it was aimed last, and the file is read as on any join (its
// tail, then its head once, no range asked for twice): the new aim threw
// nothing away.
func TestBrowserLateJoinAimsPastAHeldPage(t *testing.T) {
	for _, c := range []struct {
		name, path string
		page, tail int
		tol        float64
	}{{"page", "late=100/100", 250, 0, 100}, {"tail", "late=100/100", 0, 200, 50}} {
		t.Run(c.name, func(t *testing.T) { lateJoinHeld(t, c.path, c.page, c.tail, c.tol) })
	}
}

// lateJoinHeld joins a late joiner over path, its page's first piece held
// page ms (heldJS) and its tail's response tail ms, and checks its aim is
// within tol of a clean page's and half the tail's hold.
func lateJoinHeld(t *testing.T, path string, page, tail int, tol float64) {
	dir := t.TempDir()
	clip := MakeClipIn(t, dir, 120, "webm")
	from := mediatest.EarlyTail(t, filepath.Join(dir, clip))
	s := NewSession(t, dir, clip, 2, nil)
	sh := s.Shape(t, 1, mustProfile(path))
	a := soloPlaying(t, s)

	b := s.Window(t, 1)
	b.Do("hold the page's first piece", addScript(fmt.Sprintf(heldJS, page)))
	if tail > 0 {
		sh.HoldResponse(fmt.Sprintf("bytes=%d-", from), tail)
	}
	s.Enter(t, 1, b)
	waitTogether(t, "with the late joiner", []*browsertest.Window{a, b}, playing)

	type early struct {
		Lead     float64 `json:"lead"`
		First    float64 `json:"first"`
		Position float64 `json:"position"`
		Reaimed  float64 `json:"reaimed"`
		Clean    float64 `json:"clean"`
		Ms       float64 `json:"ms"`
		Trips    float64 `json:"trips"`
		Min      float64 `json:"min"`
		Attach   float64 `json:"attach"`
	}
	var e early
	raw := browsertest.EvalAsync[string](b, `import(document.querySelector('script[src$="/js/room/app.js"]').src).then((m) => {
		const e = m.room.player.early;
		const aim = JSON.parse(document.getElementById("playback-snapshot").textContent).aim;
		const at = window.watchpartySync.log.find((n) => n.what === "attach");
		return JSON.stringify({ lead: e ? e.lead : -1, first: e ? e.first : -1, position: e ? e.position : -1, reaimed: e && e.reaimed ? e.reaimed : 0,
			clean: window.__cleanSpan, ms: aim.ms, trips: aim.trips, min: aim.min, attach: at ? at.position : -1 }); })`)
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	clean := math.Max(e.Ms+e.Trips*e.Clean/2, e.Min)
	held := math.Max(e.Ms+e.Trips*(e.Clean+float64(page))/2, e.Min)
	want := clean + float64(tail)/2
	t.Logf("aimed %.0f ms ahead (re-aimed: %v); want %.0f (a clean page's aim, %.0f, and half the tail's hold); the page's navigation alone gives %.0f", e.Lead, e.Reaimed > 0, want, clean, held)
	if math.Abs(e.First-held) > 1 {
		t.Errorf("the early load first aimed %.0f ms ahead; want %.0f, by its navigation (its 0.4 ms connect is no round trip)", e.First, held)
	}
	if e.Lead <= 0 || math.Abs(e.Lead-want) > tol {
		t.Errorf("the early load aimed %.0f ms ahead; want within %.0f ms of %.0f (a clean page's aim, %.0f, and half the tail's hold, %d ms; the page's navigation alone gives %.0f)", e.Lead, tol, want, clean, tail, held)
	}
	if math.Abs(e.Attach-e.Position) > 0.01 {
		t.Errorf("the player was at %.3f s when the sync engine took it; want where the page aimed last, %.3f s", e.Attach, e.Position)
	}
	reqs := fileRequests(t, s, 1, clip)
	seen := map[int64]int{}
	again := false
	for _, r := range reqs {
		seen[r.start]++
		again = again || seen[r.start] > 1
	}
	if len(reqs) < 2 || reqs[0].start != from || seen[0] != 1 || again {
		var lines []string
		for _, r := range reqs {
			lines = append(lines, r.line)
		}
		t.Errorf("the late joiner read the file by %q; want its tail, then its head once, and no range asked for twice", lines)
	}
}

// TestBrowserFirstSeekReadsCuesFromCache: a member's player reads a WebM
// file's index (its cues, at the file's end) only at its first seek, a
// request more on a slow path. The page asks for the file's tail before the
// player's first request, so the player's read of the cues is answered by
// the browser's cache: after the head, a member never asks the server for
// anything in the tail, not at the room's first seek either. Member 0's
// page loads the video once it is shared (player.js); member 1's page comes
// to a paused room with the video on (the page's early script).
func TestBrowserFirstSeekReadsCuesFromCache(t *testing.T) {
	dir := t.TempDir()
	clip := MakeClipIn(t, dir, 120, "webm")
	tail := mediatest.EarlyTail(t, filepath.Join(dir, clip)) // what the page asks for (player.js fetchTail)
	s := NewSession(t, dir, clip, 2, nil)
	s.Shape(t, 0, mustProfile("a=20/20"))
	s.Shape(t, 1, mustProfile("b=20/20"))
	a := s.Join(t, 0)
	s.Share(t, a)
	b := s.Join(t, 1)
	two := []*browsertest.Window{a, b}
	for _, w := range two {
		w.WaitJS(`(() => { const v = document.querySelector('#player video'); return v && v.readyState >= 3; })()`)
	}
	command(t, a, "seek", 30)
	waitTogether(t, "the first seek", two, func(p Probe) bool { return paused(p) && math.Abs(p.Pos-30) < 0.1 })
	for _, w := range two {
		w.WaitJS(`(() => { const v = document.querySelector('#player video'); return v && !v.seeking && v.readyState >= 3; })()`)
	}

	for i := range two {
		reqs := fileRequests(t, s, i, clip)
		for _, r := range reqs {
			t.Logf("member %d: %s", i, r.line)
		}
		if len(reqs) < 2 || reqs[0].start != tail || reqs[1].start != 0 {
			t.Errorf("member %d's requests for the WebM file: %+v; want its tail, then its head", i, reqs)
			continue
		}
		for _, r := range reqs[2:] {
			if r.start >= tail {
				t.Errorf("after the head member %d asked the server for %q, in the tail it had read (from %d): its cache did not answer the cues", i, r.line, tail)
			}
		}
	}
}
