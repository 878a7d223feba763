package ws

import (
	"slices"
	"sync"
	"time"
)

// writers runs the outboxes' writes on goroutines that outlive one write: a
// writer that has emptied its outbox waits up to linger for another outbox
// before it ends. A goroutine starts with a small stack that the write path
// outgrows, and growing it means copying it; a broadcast to a big room
// starts a write per member, and with a fresh goroutine for each, the copies
// took a seventh of the server's time. At most maxIdle writers wait; past
// that a writer ends at once. An idle member keeps no writer: a writer waits
// for whichever outbox needs one next, not for its last.
type writers struct {
	linger  time.Duration
	maxIdle int

	mu      sync.Mutex
	idle    []chan *outbox // the waiting writers, the last to wait at the end
	stopped bool           // no writer waits any more
}

// stop ends the waiting writers; from now on a writer ends as soon as its
// outbox is empty.
func (w *writers) stop() {
	w.mu.Lock()
	idle := w.idle
	w.idle, w.stopped = nil, true
	w.mu.Unlock()
	for _, ch := range idle {
		ch <- nil
	}
}

// run writes c's queue on a waiting writer, or on a new one.
func (w *writers) run(c *outbox) {
	w.mu.Lock()
	ch, ok := pop(&w.idle)
	w.mu.Unlock()
	if ok {
		ch <- c
		return
	}
	go w.work(c)
}

func (w *writers) work(c *outbox) {
	var ch chan *outbox
	var linger *time.Timer
	for {
		c.write()
		if ch == nil {
			ch = make(chan *outbox, 1)
			linger = time.NewTimer(w.linger)
		} else {
			linger.Reset(w.linger)
		}
		w.mu.Lock()
		if w.stopped || len(w.idle) >= w.maxIdle {
			w.mu.Unlock()
			linger.Stop()
			return
		}
		w.idle = append(w.idle, ch)
		w.mu.Unlock()
		select {
		case c = <-ch:
			linger.Stop()
			if c == nil {
				return
			}
			continue
		case <-linger.C:
		}
		w.mu.Lock()
		if i := slices.Index(w.idle, ch); i >= 0 {
			w.idle = slices.Delete(w.idle, i, i+1)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		// Taken (or stopped) just as the wait ended: the outbox is on its
		// way.
		if c = <-ch; c == nil {
			return
		}
	}
}
