package room

import (
	"fmt"

	"watchparty/engine/store"
)

// MaxQueue is the longest up-next list a room keeps.
const MaxQueue = 200

// QueueItem is a video waiting in a room's up-next list.
type QueueItem struct {
	ID    uint64 `json:"id"`
	Video Video  `json:"video"`
}

type wireQueue struct {
	Type  string      `json:"type"`
	Items []QueueItem `json:"items"`
	Ref   string      `json:"ref,omitempty"`
}

// helloQueue is hello's "queue" (never null).
func (a *actor) helloQueue() []QueueItem {
	if a.sync.queue == nil {
		return []QueueItem{}
	}
	return a.sync.queue
}

func (a *actor) broadcastQueue(ref string) {
	a.saveSync()
	a.broadcast(mustJSON(wireQueue{Type: "queue", Items: a.helloQueue(), Ref: ref}), "")
}

func (a *actor) queueIndex(id uint64) int {
	for i, it := range a.sync.queue {
		if it.ID == id {
			return i
		}
	}
	return -1
}

// queueMsg handles queue_add {url}, queue_remove {seq: id},
// queue_move {seq: id, t: new index} and queue_clear. The queue is replaced,
// never modified in place, since sent hellos share it.
func (a *actor) queueMsg(c *client, m *memberState, cm *clientMsg) {
	q := a.sync.queue
	switch cm.Type {
	case "queue_add":
		if len(q) >= MaxQueue {
			c.send(errorMsg(CodeBadCommand, fmt.Sprintf("the queue holds at most %d videos", MaxQueue), cm.Ref, 0))
			return
		}
		v, err := a.s.opt.ParseLink(cm.URL)
		if err != nil {
			c.send(errorMsg(CodeBadLink, err.Error(), cm.Ref, 0))
			return
		}
		v.By = m.ID
		v.At = a.now().UnixMilli()
		a.sync.queueSeq++
		next := make([]QueueItem, 0, len(q)+1)
		next = append(append(next, q...), QueueItem{ID: a.sync.queueSeq, Video: v})
		a.sync.queue = next
	case "queue_remove":
		i := a.queueIndex(cm.Seq)
		if i < 0 {
			c.send(errorMsg(CodeNotFound, "no such queue entry", cm.Ref, 0))
			return
		}
		next := make([]QueueItem, 0, len(q)-1)
		a.sync.queue = append(append(next, q[:i]...), q[i+1:]...)
	case "queue_move":
		i := a.queueIndex(cm.Seq)
		if i < 0 {
			c.send(errorMsg(CodeNotFound, "no such queue entry", cm.Ref, 0))
			return
		}
		if cm.T != float64(int(cm.T)) || cm.T < 0 || int(cm.T) >= len(q) {
			c.send(errorMsg(CodeBadCommand, fmt.Sprintf("the new position must be a whole number from 0 to %d", len(q)-1), cm.Ref, 0))
			return
		}
		j := int(cm.T)
		next := make([]QueueItem, 0, len(q))
		next = append(append(next, q[:i]...), q[i+1:]...)
		next = append(next[:j], append([]QueueItem{q[i]}, next[j:]...)...)
		a.sync.queue = next
	case "queue_clear":
		a.sync.queue = nil
	}
	a.broadcastQueue(cm.Ref)
}

// advance plays the first queued video: by a member ("play next") or
// because the current one ended (by is nil).
func (a *actor) advance(by *memberState, byMember bool) {
	if len(a.sync.queue) == 0 {
		return
	}
	it := a.sync.queue[0]
	a.sync.queue = append([]QueueItem(nil), a.sync.queue[1:]...)
	v := it.Video
	v.At = a.now().UnixMilli()
	in := *a.info
	in.Video = &v
	if err := a.s.st.Update(func(tx *store.Tx) error { return setJSON(tx, roomKey(a.code), &in) }); err != nil {
		a.s.log.Error("saving the next video", "room", a.code, "err", err)
		return
	}
	a.info = &in
	a.broadcast(mustJSON(wireVideo{Type: "video", Video: &v}), "")
	uid := ""
	if byMember && by != nil {
		uid = by.ID
	}
	// Auto-advance keeps playing; "play next" keeps the room's play state.
	if !byMember {
		a.sync.want = true
	}
	a.syncVideo(&v, uid)
	a.broadcastQueue("")
	what := v.URL
	if v.Title != "" {
		what = v.Title
	}
	if byMember && by != nil {
		a.system("next_video", "name", by.Name, "what", what)
	} else {
		a.system("up_next", "what", what)
	}
}
