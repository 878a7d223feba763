package frames

import (
	"net"
	"watchparty/engine/limit"
)

// refusalLog lets a refused connection be logged once a minute per client
// address (limit.Refusals): a flood of bad handshakes makes one line, and
// the next line from that address counts the ones that were not logged.
type refusalLog struct{ limit.Refusals }

// take reports whether a refusal from addr should be logged, and how many
// from that address were not logged since the last one.
func (r *refusalLog) take(addr net.Addr) (bool, int) {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return r.Take(host)
}
