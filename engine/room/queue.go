package room

import (
	"fmt"

	"watchparty/engine/room/proto"
)

// QueueItem is a video waiting in a room's up-next list.
type QueueItem struct {
	ID    uint64 `json:"id"`
	Video Video  `json:"video"`
}

// QueueOrder is the order of a room's queue, kept apart from its items so
// that a change writes what changed (an item, or the order of ids), not the
// whole queue.
type QueueOrder struct {
	Seq uint64   `json:"seq"` // the last id handed out
	IDs []uint64 `json:"ids"`
}

// wireQueueChange is one change of the queue: the item added (for "add")
// and the order of ids after the change. Members keep the items they know
// and put them in this order.
type wireQueueChange struct {
	Op   string     `json:"op"` // add, remove, move, clear, next
	Item *QueueItem `json:"item,omitempty"`
	IDs  []uint64   `json:"ids"`
	Ref  string     `json:"ref,omitempty"`
}

// helloQueue is hello's "queue" (never null).
func (a *actor) helloQueue() []QueueItem {
	if a.sync.queue == nil {
		return []QueueItem{}
	}
	return a.sync.queue
}

func (a *actor) queueIDs() []uint64 {
	ids := make([]uint64, len(a.sync.queue))
	for i, it := range a.sync.queue {
		ids[i] = it.ID
	}
	return ids
}

// loadQueue reads the queue's keys; legacy is the queue of a record written
// before items had keys of their own (written out at the next change).
func (a *actor) loadQueue(tx Tx, legacy []QueueItem, legacySeq uint64) error {
	order, ok, err := tx.QueueOrder(a.code)
	if err != nil {
		return err
	}
	if !ok {
		a.sync.queue, a.sync.queueSeq = legacy, legacySeq
		a.sync.queueLegacy = len(legacy) > 0
		return nil
	}
	a.sync.queueSeq = order.Seq
	a.sync.queue = make([]QueueItem, 0, len(order.IDs))
	for _, id := range order.IDs {
		v, ok, err := tx.QueueItem(a.code, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		a.sync.queue = append(a.sync.queue, QueueItem{ID: id, Video: v})
	}
	return nil
}

// saveQueue writes the order and the given items, and deletes the removed
// ones, in tx.
func (a *actor) saveQueue(tx Tx, put []QueueItem, removed []uint64) error {
	if a.sync.queueLegacy {
		put = a.sync.queue // the first change writes out every item
		a.sync.queueLegacy = false
	}
	for _, it := range put {
		if err := tx.PutQueueItem(a.code, it.ID, it.Video); err != nil {
			return err
		}
	}
	for _, id := range removed {
		if err := tx.DeleteQueueItem(a.code, id); err != nil {
			return err
		}
	}
	return tx.PutQueueOrder(a.code, &QueueOrder{Seq: a.sync.queueSeq, IDs: a.queueIDs()})
}

// changeQueue makes next the queue, stores the change and tells everyone.
// The queue is replaced, never modified in place, since sent hellos share it.
func (a *actor) changeQueue(next []QueueItem, op string, added *QueueItem, removed []uint64, ref string) error {
	prev, prevLegacy := a.sync.queue, a.sync.queueLegacy
	a.sync.queue = next
	var put []QueueItem
	if added != nil {
		put = []QueueItem{*added}
	}
	if err := a.s.repo.Update(func(tx Tx) error { return a.saveQueue(tx, put, removed) }); err != nil {
		a.sync.queue, a.sync.queueLegacy = prev, prevLegacy
		a.s.log.Error("saving the queue", "room", a.code, "err", err)
		return err
	}
	a.broadcast(encode(proto.QueueChange, wireQueueChange{Op: op, Item: added, IDs: a.queueIDs(), Ref: ref}), "")
	return nil
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
// queue_move {seq: id, t: new index} and queue_clear.
func (a *actor) queueMsg(c *Conn, m *memberState, cm *proto.ClientMessage) {
	q := a.sync.queue
	var err error
	switch cm.Type {
	case proto.QueueAdd:
		if len(q) >= a.s.opt.QueueLength {
			c.sendError(proto.CodeBadCommand, fmt.Sprintf("the queue holds at most %d videos", a.s.opt.QueueLength), cm.Ref, 0)
			return
		}
		v, perr := a.parseLink(cm.URL)
		if perr != nil {
			c.sendError(proto.CodeBadLink, perr.Error(), cm.Ref, 0)
			return
		}
		v.By = m.ID
		v.At = a.now().UnixMilli()
		a.sync.queueSeq++
		it := QueueItem{ID: a.sync.queueSeq, Video: v}
		next := make([]QueueItem, 0, len(q)+1)
		next = append(append(next, q...), it)
		err = a.changeQueue(next, "add", &it, nil, cm.Ref)
	case proto.QueueRemove:
		i := a.queueIndex(cm.Seq)
		if i < 0 {
			c.sendError(proto.CodeNotFound, "no such queue entry", cm.Ref, 0)
			return
		}
		next := make([]QueueItem, 0, len(q)-1)
		next = append(append(next, q[:i]...), q[i+1:]...)
		err = a.changeQueue(next, "remove", nil, []uint64{cm.Seq}, cm.Ref)
	case proto.QueueMove:
		i := a.queueIndex(cm.Seq)
		if i < 0 {
			c.sendError(proto.CodeNotFound, "no such queue entry", cm.Ref, 0)
			return
		}
		if cm.T != float64(int(cm.T)) || cm.T < 0 || int(cm.T) >= len(q) {
			c.sendError(proto.CodeBadCommand, fmt.Sprintf("the new position must be a whole number from 0 to %d", len(q)-1), cm.Ref, 0)
			return
		}
		j := int(cm.T)
		if i == j {
			c.send(encode(proto.QueueChange, wireQueueChange{Op: "move", IDs: a.queueIDs(), Ref: cm.Ref}))
			return
		}
		next := make([]QueueItem, 0, len(q))
		next = append(append(next, q[:i]...), q[i+1:]...)
		next = append(next[:j], append([]QueueItem{q[i]}, next[j:]...)...)
		err = a.changeQueue(next, "move", nil, nil, cm.Ref)
	case proto.QueueClear:
		removed := make([]uint64, len(q))
		for i, it := range q {
			removed[i] = it.ID
		}
		err = a.changeQueue(nil, "clear", nil, removed, cm.Ref)
	}
	if err != nil {
		c.sendError(proto.CodeUnavailable, "the server could not save the queue; try again", cm.Ref, 0)
	}
}

// parseLink checks a shared or queued link: its size, then its form.
func (a *actor) parseLink(raw string) (Video, error) {
	if len(raw) > a.s.opt.LinkBytes {
		return Video{}, fmt.Errorf("the link is too long: at most %d bytes", a.s.opt.LinkBytes)
	}
	return a.s.opt.ParseLink(raw)
}

// advance plays the first queued video: by a member ("play next") or
// because the current one ended (by is nil).
func (a *actor) advance(by *memberState, byMember bool) {
	if len(a.sync.queue) == 0 {
		return
	}
	it := a.sync.queue[0]
	v := it.Video
	v.At = a.now().UnixMilli()
	in := *a.info
	in.Video = &v
	rest := append([]QueueItem(nil), a.sync.queue[1:]...)
	prev := a.sync.queue
	a.sync.queue = rest
	if err := a.s.repo.Update(func(tx Tx) error {
		if err := tx.PutRoom(a.code, &in); err != nil {
			return err
		}
		return a.saveQueue(tx, nil, []uint64{it.ID})
	}); err != nil {
		a.sync.queue = prev
		a.s.log.Error("saving the next video", "room", a.code, "err", err)
		return
	}
	a.info = &in
	a.broadcast(encode(proto.Video, wireVideo{Video: &v}), "")
	uid := ""
	if byMember && by != nil {
		uid = by.ID
	}
	// Auto-advance keeps playing; "play next" keeps the room's play state.
	if !byMember {
		a.sync.want = true
	}
	a.syncVideo(&v, uid)
	a.broadcast(encode(proto.QueueChange, wireQueueChange{Op: "next", IDs: a.queueIDs()}), "")
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
