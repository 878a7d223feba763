package rtc

import (
	"fmt"
)

// dump describes the clients and the server peers of a harness.
func dump(h *harness) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := fmt.Sprintf("stats %+v\n", h.sfu.Stats())
	for id, c := range h.clients {
		off, n := c.offer()
		out += fmt.Sprintf("%s: conn=%s sig=%s offers=%d lastTracks=%+v publish=%+v tracks=%d sent=%d plis=%d errs=%+v\n", id, c.pc.ConnectionState(), c.pc.SignalingState(), n, off.Tracks, off.Publish, len(c.allTracks()), c.sent.Load(), c.plis.Load(), c.errs)
		for _, t := range c.allTracks() {
			out += fmt.Sprintf("   mid=%s pk=%d ended=%v\n", t.mid, t.packets.Load(), t.ended.Load())
		}
	}
	r, _ := h.sfu.room(h.code)
	r.mu.Lock()
	for id, p := range r.peers {
		out += fmt.Sprintf("server %s: conn=%s sig=%s offering=%v dirty=%v subs=%d\n", id, p.pc.ConnectionState(), p.pc.SignalingState(), p.offering, p.dirty, len(p.subs))
		for _, sl := range p.slots {
			var pk uint64
			if sl.pub != nil {
				pk = sl.pub.packets.Load()
			}
			out += fmt.Sprintf("   slot mid=%s src=%s reserved=%v running=%v pub=%v packets=%d\n", sl.tr.Mid(), sl.source, sl.reserved.Load(), sl.running, sl.pub != nil, pk)
		}
	}
	r.mu.Unlock()
	return out
}
