package room

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"watchparty/engine/room/proto"
	"watchparty/engine/store"
)

// TestQueueChangesAreSmall: a change to a long queue of long links sends
// the others the change and the order of ids, not the whole queue again
// (a queue_move used to re-send ~400 KB for 200 links of 2 KB).
func TestQueueChangesAreSmall(t *testing.T) {
	svc, _ := newService(t, Options{CommandsPer10s: 10000, QueueLength: 200, LinkBytes: 2100})
	r := openSyncRoom(t, svc, "")
	long := strings.Repeat("x", 2000)
	for i := range 200 {
		r.owner.send(map[string]any{"type": "queue_add", "url": fmt.Sprintf("https://x.test/%s%03d.webm", long, i)})
		r.owner.expectOK("queue_change")
	}
	r.owner.send(map[string]any{"type": "queue_add", "url": "https://x.test/one-more.webm", "ref": "full"})
	if e := r.owner.expect("error"); e["code"] != proto.CodeBadCommand || !strings.Contains(e["text"].(string), "at most 200") {
		t.Fatalf("201st item: %v", e)
	}
	// The peer has read every change so far; its next frame is the move's.
	for range 200 {
		r.pe.expect("queue_change")
	}
	if r.pe.in.Queued() != 0 {
		t.Fatalf("the peer has %d more messages queued", r.pe.in.Queued())
	}
	r.owner.send(map[string]any{"type": "queue_move", "seq": 200, "t": 0})
	frame, err := r.pe.p.nextFrame()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(frame, &m); err != nil || m["type"] != "queue_change" {
		t.Fatalf("after a move the peer got %.200s", frame)
	}
	if len(frame) > 4096 {
		t.Fatalf("a queue_move on a 200-item queue sent %d bytes to each member, want under 4 KiB", len(frame))
	}
	if ids := queueIDs(m); len(ids) != 200 || ids[0] != 200 {
		t.Fatalf("order after the move: %v", ids)
	}
	// Too long a link is refused before it is parsed.
	r.owner.send(map[string]any{"type": "queue_remove", "seq": 1})
	r.owner.expectOK("queue_change")
	r.owner.send(map[string]any{"type": "queue_add", "url": "https://x.test/" + strings.Repeat("y", 2100) + ".webm", "ref": "long"})
	if e := r.owner.expect("error"); e["code"] != proto.CodeBadLink || !strings.Contains(e["text"].(string), "too long") {
		t.Fatalf("an over-long link: %v", e)
	}
}

// TestQueueSurvivesRestartAndOldRecords: the queue, stored one key per
// item, comes back in order after a restart; a queue kept inside the
// playback record by an older version is read and moved to its own keys.
func TestQueueSurvivesRestartAndOldRecords(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	svc := New(Options{Repo: NewBadger(st), Log: quietLog(), ParseLink: testLink})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	a := dial(t, base, in.Code, ann)
	a.expect("hello")
	for _, u := range []string{"a", "b", "c"} {
		a.send(map[string]any{"type": "queue_add", "url": "https://x.test/" + u + ".webm"})
		a.expectOK("queue_change")
	}
	a.send(map[string]any{"type": "queue_move", "seq": 3, "t": 0})
	a.expectOK("queue_change")
	a.close()
	svc.Close()
	st.Close()

	order := func(st *store.Store) []string {
		svc := New(Options{Repo: NewBadger(st), Log: quietLog(), ParseLink: testLink})
		defer svc.Close()
		var urls []string
		if err := svc.exec(context.Background(), in.Code, func(a *actor) error {
			for _, it := range a.sync.queue {
				urls = append(urls, it.Video.URL)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return urls
	}
	st = openStore(t, dir)
	if got := fmt.Sprint(order(st)); got != "[https://x.test/c.webm https://x.test/a.webm https://x.test/b.webm]" {
		t.Fatalf("after a restart: %s", got)
	}

	// An older version's record: the queue inside roomsync/<code>.
	old := PlaybackRecord{Queue: []QueueItem{{ID: 7, Video: Video{Kind: "file", URL: "https://x.test/old.webm"}}}, QueueSeq: 7}
	if err := st.UpdateSync(func(tx *store.Tx) error {
		var keys [][]byte
		_ = tx.Iterate(queuePrefix(in.Code), false, func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil })
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return (badgerTx{tx}).PutPlayback(in.Code, &old)
	}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order(st)); got != "[https://x.test/old.webm]" {
		t.Fatalf("an old record's queue: %s", got)
	}
	st.Close()
}
