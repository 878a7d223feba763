package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WireEvent is one thing a shaper saw on a player's path, at the machine
// instant it reached the other side (ms): a connection opened (its
// handshake, a round trip), a request line (with its Range header), a
// response's status line, a chunk of response data, or a chunk held back by
// a loss.
type WireEvent struct {
	At    float64 `json:"at"`
	Conn  uint64  `json:"conn"`
	Kind  string  `json:"kind"` // open, req, resp, data
	Text  string  `json:"text,omitempty"`
	Bytes int     `json:"bytes,omitempty"`
	Stall float64 `json:"stall,omitempty"` // ms a loss added to this chunk
}

// maxWire bounds a shaper's trace (a 120 s clip is about 300 chunks a load).
const maxWire = 50000

// wireLog keeps a shaper's trace.
type wireLog struct {
	mu sync.Mutex
	ev []WireEvent
}

func (l *wireLog) add(e WireEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ev) < maxWire {
		l.ev = append(l.ev, e)
	}
}

func (l *wireLog) events() []WireEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]WireEvent(nil), l.ev...)
}

func msOf(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }

// observe notes what chunk b, delivered at at over connection conn in the
// direction up (player to server) or down, holds.
func (l *wireLog) observe(conn uint64, up bool, b []byte, at time.Time, stall float64) {
	if up {
		if line, ok := requestLine(b); ok {
			l.add(WireEvent{At: msOf(at), Conn: conn, Kind: "req", Text: line})
		}
		return
	}
	if bytes.HasPrefix(b, []byte("HTTP/1.")) {
		end := bytes.IndexByte(b, '\r')
		if end < 0 {
			end = min(len(b), 40)
		}
		text := string(b[:end])
		if r := header(b, "Content-Range"); r != "" {
			text += " " + r
		}
		l.add(WireEvent{At: msOf(at), Conn: conn, Kind: "resp", Text: text})
	}
	l.add(WireEvent{At: msOf(at), Conn: conn, Kind: "data", Bytes: len(b), Stall: stall})
}

// requestLine returns an HTTP request's method and path, with its Range
// header when it has one.
func requestLine(b []byte) (string, bool) {
	for _, m := range []string{"GET ", "HEAD ", "POST "} {
		if !bytes.HasPrefix(b, []byte(m)) {
			continue
		}
		end := bytes.Index(b, []byte(" HTTP/1."))
		if end < 0 {
			return "", false
		}
		line := string(b[:end])
		if i := strings.IndexByte(line, '?'); i > 0 {
			line = line[:i] + "?…"
		}
		if r := header(b, "Range"); r != "" {
			line += " (" + r + ")"
		}
		if header(b, "Upgrade") != "" {
			line += " (upgrade)"
		}
		return line, true
	}
	return "", false
}

// header is the value of header name in the HTTP head at the start of b.
func header(b []byte, name string) string {
	head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WireRequest is one request of a late joiner's start: on which connection
// (and whether that connection was new), when it left and when its
// response began (ms after the page started loading), and the data and
// loss stalls it got until the player played.
type WireRequest struct {
	Conn     uint64
	NewConn  bool
	Opened   float64 // when its connection was opened (the page's connect), if new
	Line     string
	Sent     float64
	Response float64
	Status   string
	Bytes    int     // data received until the player's first play
	Chunks   int     // in this many pieces
	Stalls   int     // pieces held back by a loss
	Last     float64 // when the last of them came
}

// wireRequests reads a player's trace from from (machine ms) to until into
// its requests, in the order they were sent.
func wireRequests(ev []WireEvent, from, until float64) (reqs []WireRequest, conns int) {
	opened := map[uint64]float64{}
	cur := map[uint64]int{} // connection -> its latest request
	for _, e := range ev {
		if e.At < from-1 || e.At > until {
			continue
		}
		switch e.Kind {
		case "open":
			opened[e.Conn] = e.At
			conns++
		case "req":
			_, fresh := opened[e.Conn]
			for _, r := range reqs {
				if r.Conn == e.Conn {
					fresh = false
				}
			}
			reqs = append(reqs, WireRequest{Conn: e.Conn, NewConn: fresh, Opened: opened[e.Conn] - from, Line: e.Text, Sent: e.At - from, Response: math.NaN()})
			cur[e.Conn] = len(reqs)
		case "resp", "data":
			k, ok := cur[e.Conn]
			if !ok {
				continue
			}
			r := &reqs[k-1]
			if e.Kind == "resp" {
				if math.IsNaN(r.Response) {
					r.Response, r.Status = e.At-from, e.Text
				}
				continue
			}
			r.Bytes += e.Bytes
			r.Chunks++
			r.Last = e.At - from
			if e.Stall > 0 {
				r.Stalls++
			}
		}
	}
	return reqs, conns
}

// printWire writes a late joiner's requests until its first play.
func printWire(w io.Writer, reqs []WireRequest, conns int) {
	fmt.Fprintf(w, "  its requests until the first play (%d connections opened; ms after the page started loading, as the request reached the server -> its response's first byte reached the page; a new connection with when the page opened it):\n", conns)
	for _, r := range reqs {
		conn := "conn " + strconv.FormatUint(r.Conn, 10)
		if r.NewConn {
			conn += fmt.Sprintf(" (new, %.0f)", r.Opened)
		}
		fmt.Fprintf(w, "    %6.0f -> %6.0f  %-19s %s  [%s] %d B in %d pieces (%d held by a loss), the last at %.0f\n",
			r.Sent, r.Response, conn, r.Line, r.Status, r.Bytes, r.Chunks, r.Stalls, r.Last)
	}
}
