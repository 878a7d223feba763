package room

import (
	"context"
	"fmt"
	"testing"
	"time"

	"watchparty/engine/room/proto"
)

var (
	syncOwner = User{ID: "owner", Name: "Olga"}
	syncMod   = User{ID: "mod", Name: "Mo"}
	syncPeer  = User{ID: "peer", Name: "Pim"}
)

// syncRoom is a room with an owner, a moderator and a member, each
// connected through the in-memory transport.
type syncRoom struct {
	svc            *Service
	code           string
	base           *Service
	owner, mod, pe *testClient
	hello          map[string]any // the owner's hello
}

func newSyncRoom(t *testing.T, o Options) *syncRoom {
	t.Helper()
	svc, _ := newService(t, o)
	return openSyncRoom(t, svc, "")
}

func openSyncRoom(t *testing.T, svc *Service, code string) *syncRoom {
	t.Helper()
	if code == "" {
		code = mustCreate(t, svc, syncOwner, "sync").Code
		mustJoin(t, svc, code, syncMod)
		mustJoin(t, svc, code, syncPeer)
		if err := svc.SetRole(context.Background(), code, syncOwner.ID, syncMod.ID, RoleModerator); err != nil {
			t.Fatal(err)
		}
	}
	base := serveRooms(t, svc)
	r := &syncRoom{svc: svc, code: code, base: base}
	r.owner = dial(t, base, code, syncOwner)
	r.hello = r.owner.expect("hello")
	r.mod = dial(t, base, code, syncMod)
	r.mod.expect("hello")
	r.pe = dial(t, base, code, syncPeer)
	r.pe.expect("hello")
	return r
}

func (r *syncRoom) all() []*testClient { return []*testClient{r.owner, r.mod, r.pe} }

func (r *syncRoom) settings(t *testing.T, change func(*Settings)) {
	t.Helper()
	set := DefaultSettings()
	change(&set)
	if err := r.svc.UpdateSettings(context.Background(), r.code, syncOwner.ID, set); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.all() {
		c.expect("room")
	}
}

// share makes the owner share a video and returns the playback everyone got.
func (r *syncRoom) share(t *testing.T, url string) map[string]any {
	t.Helper()
	r.owner.send(map[string]any{"type": "video", "url": url})
	var st map[string]any
	for _, c := range r.all() {
		c.expect("video")
		st = state(c.expect("playback"))
	}
	return st
}

// expectOK returns the next message of type typ and fails on an error.
func (c *testClient) expectOK(typ string) map[string]any {
	c.t.Helper()
	for range 10000 {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m["type"] == "error" {
			c.t.Fatalf("waiting for %s: got error %v: %v", typ, m["code"], m["text"])
		}
		if m["type"] == typ {
			return m
		}
	}
	c.t.Fatalf("no %s message", typ)
	return nil
}

// playbackWhere returns the next playback message whose state satisfies ok.
func (c *testClient) playbackWhere(ok func(msg, st map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 100 {
		m := c.expectOK("playback")
		if ok(m, state(m)) {
			return m
		}
	}
	c.t.Fatal("no matching playback message")
	return nil
}

func state(m map[string]any) map[string]any {
	st, _ := m["state"].(map[string]any)
	return st
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// queueIDs is the order of the queue after a queue_change (its ids), or in
// a whole queue (its items).
func queueIDs(m map[string]any) []uint64 {
	var ids []uint64
	if list, ok := m["ids"].([]any); ok {
		for _, id := range list {
			ids = append(ids, uint64(num(id)))
		}
		return ids
	}
	items, _ := m["items"].([]any)
	for _, it := range items {
		ids = append(ids, uint64(num(it.(map[string]any)["id"])))
	}
	return ids
}

func TestSyncHelloCarriesPlaybackQueueAndTime(t *testing.T) {
	svc, _ := newService(t, Options{Sync: SyncOptions{LeadMS: 300, DeadZoneMS: 30}})
	r := openSyncRoom(t, svc, "")
	if r.hello["playback"] != nil {
		t.Fatalf("playback before any video: %v", r.hello["playback"])
	}
	if q, ok := r.hello["queue"].([]any); !ok || len(q) != 0 {
		t.Fatalf("queue = %v, want []", r.hello["queue"])
	}
	sy, _ := r.hello["sync"].(map[string]any)
	if num(sy["lead_ms"]) != 300 || num(sy["dead_zone_ms"]) != 30 || num(sy["seek_threshold_ms"]) != 1000 {
		t.Fatalf("sync = %v", sy)
	}
	if num(r.hello["time"]) <= 0 {
		t.Fatalf("time = %v", r.hello["time"])
	}
	r.share(t, "https://x.test/a.webm")
	r.owner.send(map[string]any{"type": "queue_add", "url": "https://x.test/b.webm"})
	r.owner.expectOK("queue_change")

	late := dial(t, r.base, r.code, syncPeer)
	h := late.expect("hello")
	pb, _ := h["playback"].(map[string]any)
	if pb["source"] != "https://x.test/a.webm" || pb["playing"] != false {
		t.Fatalf("hello playback = %v", pb)
	}
	if q, _ := h["queue"].([]any); len(q) != 1 {
		t.Fatalf("hello queue = %v", h["queue"])
	}
}

// TestSyncControlPermissions sends every control message from a member
// whose role does not pass the room's setting (forbidden, with the ref)
// and from one whose role does (accepted).
func TestSyncControlPermissions(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*Settings)
		msg     func(queue []uint64) map[string]any
		success string
	}{
		{"play", func(s *Settings) { s.Control = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "play"} }, "playback"},
		{"seek", func(s *Settings) { s.Control = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "seek", "t": 12.5} }, "playback"},
		{"rate", func(s *Settings) { s.Control = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "rate", "t": 1.5} }, "playback"},
		{"pause", func(s *Settings) { s.Control = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "pause"} }, "playback"},
		{"queue_add", func(s *Settings) { s.ManageQueue = LevelModerators }, func([]uint64) map[string]any {
			return map[string]any{"type": "queue_add", "url": "https://x.test/c.webm"}
		}, "queue_change"},
		{"queue_remove", func(s *Settings) { s.ManageQueue = LevelModerators }, func(q []uint64) map[string]any {
			return map[string]any{"type": "queue_remove", "seq": q[0]}
		}, "queue_change"},
		{"queue_move", func(s *Settings) { s.ManageQueue = LevelModerators }, func(q []uint64) map[string]any {
			return map[string]any{"type": "queue_move", "seq": q[1], "t": 0}
		}, "queue_change"},
		{"queue_clear", func(s *Settings) { s.ManageQueue = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "queue_clear"} }, "queue_change"},
		{"queue_next", func(s *Settings) { s.ChangeVideo = LevelModerators }, func([]uint64) map[string]any { return map[string]any{"type": "queue_next"} }, "video"},
		{"video", func(s *Settings) { s.ChangeVideo = LevelModerators }, func([]uint64) map[string]any {
			return map[string]any{"type": "video", "url": "https://x.test/d.webm"}
		}, "video"},
		{"control owner only", func(s *Settings) { s.Control = LevelOwner }, func([]uint64) map[string]any { return map[string]any{"type": "play"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSyncRoom(t, Options{})
			r.share(t, "https://x.test/a.webm")
			var q []uint64
			for _, u := range []string{"https://x.test/b.webm", "https://x.test/c.webm"} {
				r.owner.send(map[string]any{"type": "queue_add", "url": u})
				q = queueIDs(r.owner.expectOK("queue_change"))
			}
			if tt.name == "pause" {
				r.owner.send(map[string]any{"type": "play"})
				r.owner.expectOK("playback")
			}
			r.settings(t, tt.set)

			m := tt.msg(q)
			m["ref"] = "r-" + tt.name
			r.pe.send(m)
			e := r.pe.expect("error")
			if e["code"] != proto.CodeForbidden || e["ref"] != m["ref"] {
				t.Fatalf("member got %v, want forbidden with ref", e)
			}
			if tt.success == "" {
				r.mod.send(m)
				if e := r.mod.expect("error"); e["code"] != proto.CodeForbidden {
					t.Fatalf("moderator got %v, want forbidden", e)
				}
				r.owner.send(m)
				r.owner.expectOK("playback")
				return
			}
			r.mod.send(m)
			r.mod.expectOK(tt.success)
		})
	}
}

func TestSyncPlaybackCommands(t *testing.T) {
	r := newSyncRoom(t, Options{Sync: SyncOptions{LeadMS: 250}})
	r.owner.send(map[string]any{"type": "play", "ref": "early"})
	if e := r.owner.expect("error"); e["code"] != proto.CodeNoVideo {
		t.Fatalf("play without a video: %v", e)
	}
	st := r.share(t, "https://x.test/a.webm")
	if st["playing"] != false || num(st["position"]) != 0 || st["source"] != "https://x.test/a.webm" {
		t.Fatalf("after share: %v", st)
	}
	v0 := num(st["version"])

	r.pe.send(map[string]any{"type": "play"})
	for _, c := range r.all() {
		m := c.expectOK("playback")
		st := state(m)
		if st["playing"] != true || num(st["version"]) <= v0 || m["by"] != syncPeer.ID {
			t.Fatalf("after play: %v", m)
		}
		// The start is scheduled the lead ahead of the server's clock; the
		// message's time is read a little after the command's, so allow
		// the actor that much (never more than the lead itself).
		if lead := num(st["updatedAt"]) - num(m["time"]); lead < 150 || lead > 250 {
			t.Fatalf("start scheduled %v ms ahead, want the 250 ms lead", lead)
		}
	}
	r.mod.send(map[string]any{"type": "seek", "t": 30})
	for _, c := range r.all() {
		m := c.expectOK("playback")
		st := state(m)
		if st["playing"] != true || num(st["position"]) != 30 {
			t.Fatalf("after seek: %v", st)
		}
		// A seek is scheduled the longer seek lead ahead (twice the
		// play lead by default), so players have time to seek first.
		if lead := num(st["updatedAt"]) - num(m["time"]); lead < 400 || lead > 500 {
			t.Fatalf("seek scheduled %v ms ahead, want the 500 ms seek lead", lead)
		}
	}
	r.owner.send(map[string]any{"type": "pause"})
	for _, c := range r.all() {
		st := state(c.expectOK("playback"))
		if st["playing"] != false || num(st["position"]) < 30 || num(st["position"]) > 31 {
			t.Fatalf("after pause: %v", st)
		}
	}
	r.owner.send(map[string]any{"type": "rate", "t": 1.5})
	if st := state(r.pe.expectOK("playback")); num(st["rate"]) != 1.5 {
		t.Fatalf("after rate: %v", st)
	}
	for _, bad := range []map[string]any{
		{"type": "seek", "t": -1, "ref": "neg"},
		{"type": "rate", "t": 9, "ref": "fast"},
		{"type": "rate", "t": 0, "ref": "zero"},
	} {
		r.owner.send(bad)
		if e := r.owner.expect("error"); e["code"] != proto.CodeBadCommand || e["ref"] != bad["ref"] {
			t.Fatalf("%v: got %v", bad, e)
		}
	}
}

func TestSyncQueue(t *testing.T) {
	r := newSyncRoom(t, Options{})
	r.owner.send(map[string]any{"type": "queue_add", "url": "ftp://nope", "ref": "bad"})
	if e := r.owner.expect("error"); e["code"] != proto.CodeBadLink || e["ref"] != "bad" {
		t.Fatalf("bad link: %v", e)
	}
	var ids []uint64
	for _, u := range []string{"a", "b", "c"} {
		r.pe.send(map[string]any{"type": "queue_add", "url": "https://x.test/" + u + ".webm"})
		for _, c := range r.all() {
			ids = queueIDs(c.expectOK("queue_change"))
		}
	}
	a, b, c := ids[0], ids[1], ids[2]
	r.pe.send(map[string]any{"type": "queue_move", "seq": c, "t": 0})
	if got := queueIDs(r.owner.expectOK("queue_change")); fmt.Sprint(got) != fmt.Sprint([]uint64{c, a, b}) {
		t.Fatalf("after move: %v", got)
	}
	r.pe.send(map[string]any{"type": "queue_move", "seq": c, "t": 3, "ref": "far"})
	if e := r.pe.expect("error"); e["code"] != proto.CodeBadCommand {
		t.Fatalf("move out of range: %v", e)
	}
	r.pe.send(map[string]any{"type": "queue_remove", "seq": a})
	if got := queueIDs(r.owner.expectOK("queue_change")); fmt.Sprint(got) != fmt.Sprint([]uint64{c, b}) {
		t.Fatalf("after remove: %v", got)
	}
	r.pe.send(map[string]any{"type": "queue_remove", "seq": a, "ref": "gone"})
	if e := r.pe.expect("error"); e["code"] != proto.CodeNotFound {
		t.Fatalf("remove twice: %v", e)
	}

	// Play next: c becomes the video; the room was paused and stays so.
	r.pe.send(map[string]any{"type": "queue_next"})
	for _, cl := range r.all() {
		if v := cl.expectOK("video")["video"].(map[string]any); v["url"] != "https://x.test/c.webm" {
			t.Fatalf("next video: %v", v)
		}
		if st := state(cl.expectOK("playback")); st["source"] != "https://x.test/c.webm" || st["playing"] != false {
			t.Fatalf("next playback: %v", st)
		}
		if got := queueIDs(cl.expectOK("queue_change")); fmt.Sprint(got) != fmt.Sprint([]uint64{b}) {
			t.Fatalf("queue after next: %v", got)
		}
	}

	// Auto-advance: every member reports the end of the same version; the
	// room advances once.
	r.owner.send(map[string]any{"type": "play"})
	r.owner.expectOK("playback")
	r.owner.send(map[string]any{"type": "seek", "t": 9.5})
	st := state(r.owner.expectOK("playback"))
	r.pe.send(map[string]any{"type": "duration", "t": 10, "seq": st["version"]})
	st = state(r.owner.expectOK("playback"))
	if num(st["duration"]) != 10 {
		t.Fatalf("duration: %v", st)
	}
	for _, cl := range r.all() {
		cl.send(map[string]any{"type": "ended", "seq": st["version"]})
	}
	// Pause after the reports: its answer comes after everything they caused.
	r.mod.send(map[string]any{"type": "ended", "seq": st["version"]})
	r.mod.send(map[string]any{"type": "pause"})
	videos := 0
	for {
		m, err := r.owner.next()
		if err != nil {
			t.Fatal(err)
		}
		if m["type"] == "video" {
			videos++
			if v := m["video"].(map[string]any); v["url"] != "https://x.test/b.webm" {
				t.Fatalf("advanced to %v", v)
			}
		}
		if m["type"] == "queue_change" && len(queueIDs(m)) != 0 {
			t.Fatalf("queue after advance: %v", m)
		}
		if m["type"] == "playback" && m["by"] == syncMod.ID {
			if st := state(m); st["source"] != "https://x.test/b.webm" || st["playing"] != false {
				t.Fatalf("final state: %v", st)
			}
			break
		}
	}
	if videos != 1 {
		t.Fatalf("advanced %d times, want once", videos)
	}
}

func TestSyncEndedGuards(t *testing.T) {
	r := newSyncRoom(t, Options{})
	r.share(t, "https://x.test/a.webm")
	r.owner.send(map[string]any{"type": "queue_add", "url": "https://x.test/b.webm"})
	r.owner.expectOK("queue_change")
	r.owner.send(map[string]any{"type": "play"})
	st := state(r.owner.expectOK("playback"))
	r.pe.send(map[string]any{"type": "duration", "t": 3600, "seq": st["version"]})
	st = state(r.owner.expectOK("playback"))
	// An end reported an hour early, or for an older version, is ignored.
	r.pe.send(map[string]any{"type": "ended", "seq": st["version"]})
	r.pe.send(map[string]any{"type": "ended", "seq": num(st["version"]) - 1})
	r.owner.send(map[string]any{"type": "pause"})
	for {
		m, err := r.owner.next()
		if err != nil {
			t.Fatal(err)
		}
		if m["type"] == "video" {
			t.Fatalf("advanced on a false end: %v", m)
		}
		if m["type"] == "playback" && state(m)["playing"] == false {
			break
		}
	}
}

func TestSyncWaitForEveryone(t *testing.T) {
	r := newSyncRoom(t, Options{Sync: SyncOptions{ReadyTimeout: time.Minute}})
	r.settings(t, func(s *Settings) { s.WaitForAll = true })
	r.share(t, "https://x.test/a.webm")

	r.pe.send(map[string]any{"type": "buffering", "on": true})
	if ms := r.owner.expectOK("sync_members")["members"].(map[string]any); ms[syncPeer.ID].(map[string]any)["buffering"] != true {
		t.Fatalf("members: %v", ms)
	}
	r.owner.send(map[string]any{"type": "play"})
	m := r.mod.expectOK("playback")
	if m["held"] != true || state(m)["playing"] != false || fmt.Sprint(m["waiting"]) != "[peer]" {
		t.Fatalf("play while a member buffers: %v", m)
	}
	// Ready: the room starts, the lead ahead.
	r.pe.send(map[string]any{"type": "buffering", "on": false})
	m = r.mod.expectOK("playback")
	if m["held"] == true || state(m)["playing"] != true {
		t.Fatalf("after ready: %v", m)
	}
	// Buffering while playing holds the room again, at the current position.
	r.pe.send(map[string]any{"type": "buffering", "on": true})
	m = r.mod.expectOK("playback")
	if m["held"] != true || state(m)["playing"] != false {
		t.Fatalf("buffering while playing: %v", m)
	}
	// Pause ends the hold: nothing starts when the member is ready.
	r.owner.send(map[string]any{"type": "pause"})
	m = r.mod.expectOK("playback")
	if m["held"] == true || state(m)["playing"] != false {
		t.Fatalf("pause while held: %v", m)
	}
	r.pe.send(map[string]any{"type": "buffering", "on": false})
	r.owner.send(map[string]any{"type": "seek", "t": 5})
	if st := state(r.mod.expectOK("playback")); st["playing"] != false || num(st["position"]) != 5 {
		t.Fatalf("after ready while paused: %v", st)
	}
}

func TestSyncWaitForEveryoneTimeout(t *testing.T) {
	r := newSyncRoom(t, Options{Sync: SyncOptions{ReadyTimeout: 300 * time.Millisecond}})
	r.settings(t, func(s *Settings) { s.WaitForAll = true })
	r.share(t, "https://x.test/a.webm")
	r.pe.send(map[string]any{"type": "buffering", "on": true})
	r.owner.send(map[string]any{"type": "play"})
	held := r.mod.playbackWhere(func(m, _ map[string]any) bool { return m["held"] == true })
	// The straggler stops holding the room after the timeout.
	m := r.mod.expectOK("playback")
	if m["held"] == true || state(m)["playing"] != true {
		t.Fatalf("after the timeout: %v", m)
	}
	if num(m["time"]) < num(held["until"]) {
		t.Fatalf("released at %v, before the hold's end %v", m["time"], held["until"])
	}
	// Still buffering, the straggler is ignored: pause and play start at once.
	r.owner.send(map[string]any{"type": "pause"})
	r.mod.expectOK("playback")
	r.owner.send(map[string]any{"type": "play"})
	if m := r.mod.expectOK("playback"); m["held"] == true || state(m)["playing"] != true {
		t.Fatalf("play with an ignored straggler: %v", m)
	}
}

func TestSyncStateAfterRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *Service {
		st := openStore(t, dir)
		svc := New(Options{Repo: NewBadger(st), Log: quietLog(), ParseLink: testLink})
		t.Cleanup(func() { svc.Close(); st.Close() })
		return svc
	}
	svc1 := open()
	r := openSyncRoom(t, svc1, "")
	r.share(t, "https://x.test/a.webm")
	r.owner.send(map[string]any{"type": "queue_add", "url": "https://x.test/b.webm"})
	r.owner.expectOK("queue_change")
	r.owner.send(map[string]any{"type": "seek", "t": 42})
	r.owner.expectOK("playback")
	r.owner.send(map[string]any{"type": "play"})
	before := state(r.owner.expectOK("playback"))

	// Stop the server (its store too) and start a new one on the same data.
	svc1.Close()
	svc1.repo.(badgerRepo).Store.Close()
	svc2 := open()
	base := serveRooms(t, svc2)
	c := dial(t, base, r.code, syncPeer)
	h := c.expect("hello")
	pb, _ := h["playback"].(map[string]any)
	if pb["source"] != "https://x.test/a.webm" || pb["playing"] != false {
		t.Fatalf("after restart: %v", pb)
	}
	// Paused where it was when the server stopped: at 42 s plus the little
	// it played.
	if p := num(pb["position"]); p < 42 || p > 52 {
		t.Fatalf("position after restart = %v", p)
	}
	if num(pb["version"]) <= num(before["version"]) {
		t.Fatalf("version went from %v to %v", before["version"], pb["version"])
	}
	if q, _ := h["queue"].([]any); len(q) != 1 {
		t.Fatalf("queue after restart: %v", h["queue"])
	}
	// Versions keep increasing after the restart.
	c.send(map[string]any{"type": "play"})
	if st := state(c.expectOK("playback")); num(st["version"]) <= num(pb["version"]) || st["playing"] != true {
		t.Fatalf("play after restart: %v", st)
	}
}

// TestSyncLeadCoversTheSlowestPath: members report their path with their
// drift (the one-way delay to them, their start and seek latencies); play
// and seek are scheduled far enough ahead for the slowest of them, never
// less than the configured leads and never more than the maximum, and a
// member who leaves no longer counts.
func TestSyncLeadCoversTheSlowestPath(t *testing.T) {
	r := newSyncRoom(t, Options{Sync: SyncOptions{LeadMS: 250, SeekLeadMS: 500, MaxLeadMS: 1000}})
	r.share(t, "https://x.test/a.webm")
	// lead sends cmd from c and returns how far ahead every member was told
	// the start is (the message's time is read a little after the
	// command's, so a lead may look up to 100 ms shorter, never longer).
	lead := func(c *testClient, cmd map[string]any) float64 {
		t.Helper()
		c.send(cmd)
		var got float64
		for _, x := range r.all() {
			m := x.expectOK("playback")
			got = num(state(m)["updatedAt"]) - num(m["time"])
		}
		return got
	}
	check := func(what string, got, want float64) {
		t.Helper()
		if got > want || got < want-100 {
			t.Errorf("%s: scheduled %.0f ms ahead, want %.0f", what, got, want)
		}
	}
	seekTo := 10.0
	seek := func(c *testClient) float64 {
		seekTo += 10
		return lead(c, map[string]any{"type": "seek", "t": seekTo})
	}
	check("play before any report", lead(r.pe, map[string]any{"type": "play"}), 250)
	check("seek before any report", seek(r.pe), 500)

	// A member 180 ms away whose player takes 90 ms to start and 400 ms
	// to seek (reports and commands of one connection arrive in order).
	r.pe.send(map[string]any{"type": "drift", "t": 3, "down": 180, "start": 90, "seek": 400})
	check("seek for a slow path", seek(r.pe), 180+90+400+leadMarginMS)
	r.pe.send(map[string]any{"type": "pause"})
	for _, x := range r.all() {
		x.expectOK("playback")
	}
	check("play for a slow path", lead(r.pe, map[string]any{"type": "play"}), 180+90+leadMarginMS)

	// Hostile or broken figures change nothing, or count as 0.
	r.mod.send(map[string]any{"type": "drift", "t": 1, "down": "far", "start": 90, "seek": 400})
	r.mod.send(map[string]any{"type": "drift", "t": 2, "down": 1e300})
	r.mod.send(map[string]any{"type": "drift", "t": 4, "down": -50, "start": -1, "seek": -1})
	check("seek after broken reports", seek(r.mod), 180+90+400+leadMarginMS)

	// A slower member: the lead grows up to its maximum and no further.
	r.mod.send(map[string]any{"type": "drift", "t": 5, "down": 400, "start": 120, "seek": 9000})
	check("seek for a very slow path", seek(r.mod), 1000)

	// The slow members leave: the configured leads again.
	r.mod.close()
	r.pe.close()
	for gone := map[any]bool{}; len(gone) < 2; {
		if mem, _ := r.owner.expectOK("member")["member"].(map[string]any); mem["presence"] == "offline" {
			gone[mem["id"]] = true
		}
	}
	r.owner.send(map[string]any{"type": "seek", "t": 90})
	m := r.owner.playbackWhere(func(_, st map[string]any) bool { return num(st["position"]) == 90 })
	check("seek once the slow members left", num(state(m)["updatedAt"])-num(m["time"]), 500)

	// Once every member has said what it needs, a seek is scheduled as far
	// ahead as that, below the configured seek lead, never below the play
	// lead.
	ownerSeek := func(to float64) float64 {
		r.owner.send(map[string]any{"type": "seek", "t": to})
		m := r.owner.playbackWhere(func(_, st map[string]any) bool { return num(st["position"]) == to })
		return num(state(m)["updatedAt"]) - num(m["time"])
	}
	r.owner.send(map[string]any{"type": "drift", "t": 1, "down": 20, "start": 80, "seek": 150})
	check("seek once every member reported", ownerSeek(70), 20+80+150+leadMarginMS)
	r.owner.send(map[string]any{"type": "drift", "t": 1, "down": 1, "start": 10, "seek": 20})
	check("seek for a very quick member", ownerSeek(80), 250)
}

// TestSyncSeekLeadCoversUnloadedMedia: a member reports the media its
// player has loaded and how long a seek to media it has not loaded takes
// it (far); a seek is scheduled far enough ahead for the seek each member
// has to make, into what it loaded or to what it did not, up to the
// maximum. Reports that are broken or hostile change nothing, count as 0,
// or are cut to proto.MaxLoadedRanges ranges; a new video has nothing
// loaded.
func TestSyncSeekLeadCoversUnloadedMedia(t *testing.T) {
	r := newSyncRoom(t, Options{Sync: SyncOptions{LeadMS: 250, SeekLeadMS: 500, MaxLeadMS: 1000}})
	r.share(t, "https://x.test/a.webm")
	// Two quick members: every member has reported, so the configured
	// seek lead is no floor (the room handles its members' messages in
	// the order they come).
	for _, c := range []*testClient{r.owner, r.mod} {
		c.send(map[string]any{"type": "drift", "t": 0, "down": 1, "start": 1, "seek": 1, "far": 1})
	}
	r.pe.send(map[string]any{"type": "play"})
	for _, x := range r.all() {
		x.expectOK("playback")
	}
	// seek sends a seek to `to` from the member that reports (its reports
	// and commands arrive in order) and returns how far ahead every member
	// was told the start is (the message's time is read a little after
	// the command's, so a lead may look up to 100 ms shorter, never
	// longer).
	var version float64 // the last seek's playback version
	seek := func(to float64) float64 {
		t.Helper()
		r.pe.send(map[string]any{"type": "seek", "t": to})
		var got float64
		for _, x := range r.all() {
			m := x.playbackWhere(func(_, st map[string]any) bool { return num(st["position"]) == to })
			got, version = num(state(m)["updatedAt"])-num(m["time"]), num(state(m)["version"])
		}
		return got
	}
	check := func(what string, to, want float64) {
		t.Helper()
		if got := seek(to); got > want || got < want-100 {
			t.Errorf("%s: a seek to %v s scheduled %.0f ms ahead, want %.0f", what, to, got, want)
		}
	}
	report := func(fields map[string]any) {
		t.Helper()
		m := map[string]any{"type": "drift", "t": 1, "down": 150, "start": 80, "seek": 300}
		for k, v := range fields {
			m[k] = v
		}
		r.pe.send(m)
	}
	const loaded, unloaded = 150 + 80 + 300 + leadMarginMS, 150 + 80 + 700 + leadMarginMS

	// Without ranges the room cannot tell: every seek counts as one into
	// loaded media, as before members reported them.
	report(map[string]any{"far": 700})
	check("no ranges", 20, loaded)

	// With ranges: the loaded seek inside them, the far one outside, with
	// the page's own rule (more than half a second loaded from the target
	// on, the range's start 50 ms early).
	report(map[string]any{"far": 700, "ranges": [][]float64{{0, 10}, {50, 60}}})
	check("inside a range", 55, loaded)
	check("at a range's start", 49.97, loaded)
	check("outside the ranges", 20, unloaded)
	check("less than half a second before a range's end", 9.6, unloaded)
	check("past the end of the media", 1e6, unloaded)
	report(map[string]any{"ranges": [][]float64{{50, 60}}})
	check("without far: the seek into loaded media", 20, loaded)

	// Still capped.
	report(map[string]any{"far": 900, "ranges": [][]float64{{50, 60}}})
	check("far beyond the maximum", 20, 1000)

	// Broken or hostile reports: ignored (the last one stands), clamped or
	// cut to the first proto.MaxLoadedRanges valid ranges.
	report(map[string]any{"far": 700, "ranges": [][]float64{{50, 60}}})
	report(map[string]any{"far": 700, "ranges": "everything"})
	report(map[string]any{"far": "far", "ranges": [][]float64{{0, 100}}})
	report(map[string]any{"far": 700, "ranges": []any{[]any{"0", "100"}}})
	report(map[string]any{"far": 700, "ranges": []any{map[string]any{"from": 0, "to": 100}}})
	check("after broken reports", 20, unloaded)
	report(map[string]any{"far": -5, "ranges": [][]float64{{30, 10}, {15}, {1, 2, 3}, {50, 60}}})
	check("negative far, reversed and short ranges", 20, 150+80+leadMarginMS)
	report(map[string]any{"far": 1e300, "ranges": [][]float64{{-1e300, 1e300}}})
	check("a range over everything", 20, loaded)
	check("far beyond the media's end", 2e7, 1000)
	many := make([][]float64, 0, 500)
	for i := range 500 {
		many = append(many, []float64{float64(100 + i), float64(100+i) + 0.9})
	}
	many = append(many, []float64{0, 30}) // past the kept ones: does not count
	report(map[string]any{"far": 700, "ranges": many})
	check("a range past the first ones", 20, unloaded)
	check("within the first ranges", 100.2, loaded)
	check("past the first ranges", 100+proto.MaxLoadedRanges+0.2, unloaded)

	// A new video: nothing of it is loaded.
	report(map[string]any{"far": 700, "ranges": [][]float64{{0, 100}}})
	check("loaded", 20, loaded)
	old := version
	r.owner.send(map[string]any{"type": "video", "url": "https://x.test/b.webm"})
	for _, x := range r.all() {
		x.expect("video")
	}
	check("after a new video", 20, unloaded)
	// A report the member sent before it had the new video (it names the
	// playback version it followed) speaks of the old one's media; one
	// with the new video's version, or none, counts.
	cur := version
	if cur <= old {
		t.Fatalf("the new video's playback version %v is not past the old one's %v", cur, old)
	}
	report(map[string]any{"far": 700, "ranges": [][]float64{{0, 100}}, "version": old})
	check("a report from before the new video", 20, unloaded)
	report(map[string]any{"far": 700, "ranges": [][]float64{{0, 100}}, "version": cur})
	check("a report on the new video", 20, loaded)
}
