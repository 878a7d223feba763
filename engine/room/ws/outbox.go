package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/room/proto"
)

// outbox is one websocket connection as the room sees it (a
// room.Transport). The handler goroutine reads; a writer goroutine exists
// only while the queue is not empty. mu guards the queue and the flags, and
// is never held during blocking I/O.
//
// A message sent while no writer runs and nothing is queued is written at
// once by the sender (direct), with one writev that does not wait: a
// broadcast to a room is then one loop of system calls on the room's
// goroutine, with no goroutine woken per member. What the socket does not
// take at once (its buffer is full: the member reads slowly) goes to the
// writer, which sends the rest of that frame before anything else, so
// frames stay whole and in order, and a slow member never holds up the
// sender. Every other write (a TLS connection's, a batch of queued
// messages, a close) is the writer's. Pongs and the answer to a close go
// the same way (read sets the handlers), so no frame is written from the
// reader in the middle of another. The one write left to the websocket
// library is the close it sends itself when the peer breaks the protocol;
// the connection ends then, whatever it was sending.
type outbox struct {
	conn Conn
	e    *Endpoint
	user string // for the log

	// wc is the socket a direct write goes to; nil: every write goes
	// through the writer.
	wc syscall.RawConn
	dw directWrite // a direct write's arguments and result, under mu

	mu         sync.Mutex
	q          [][]byte
	qbytes     int
	raw        []byte // the unsent end of a frame begun by a direct write
	writing    bool
	closed     bool // no more messages are accepted
	closeAfter bool // the writer sends a close frame after the queue
	closeCode  int
	closeText  string
	ping       bool
	pong       []byte // a pong's payload for the writer to send; nil: none
	writer     sync.WaitGroup
}

// directWrite holds a direct write's frame header, body and result, so that
// the write runs through syscall.RawConn without allocating: fn is its run
// method, bound once per connection.
type directWrite struct {
	hdr  [maxHeader]byte
	hlen int
	body []byte
	n    int
	err  error
	fn   func(fd uintptr) bool
}

func (d *directWrite) run(fd uintptr) bool {
	d.n, d.err = writeNow(fd, d.hdr[:d.hlen], d.body)
	return true // done either way: a direct write never waits
}

// maxHeader is the longest header of a frame the server sends (no mask).
const maxHeader = 10

// header fills d.hdr with the header of an unfragmented frame of opcode op
// and n bytes of payload.
func (d *directWrite) header(op int, n int) {
	d.hdr[0] = 0x80 | byte(op)
	switch {
	case n < 126:
		d.hdr[1] = byte(n)
		d.hlen = 2
	case n <= 0xffff:
		d.hdr[1] = 126
		binary.BigEndian.PutUint16(d.hdr[2:], uint16(n))
		d.hlen = 4
	default:
		d.hdr[1] = 127
		binary.BigEndian.PutUint64(d.hdr[2:], uint64(n))
		d.hlen = 10
	}
}

// canDirect reports whether a frame may be written at once: there is a
// socket for it, and nothing is queued or being written before it. It runs
// with c.mu held.
func (c *outbox) canDirect() bool { return c.wc != nil && !c.writing && len(c.q) == 0 && !c.closed }

// direct writes the frame of opcode op with body now, as far as the socket
// takes it without waiting, and hands what is left to the writer. It runs
// with c.mu held, when canDirect. false: the socket failed (the caller
// closes the connection).
func (c *outbox) direct(op int, body []byte) bool {
	c.dw.header(op, len(body))
	return c.directBytes(body)
}

// directBytes writes c.dw's header (none when hlen is 0) and body as
// direct does.
func (c *outbox) directBytes(body []byte) bool {
	d := &c.dw
	d.body, d.n, d.err = body, 0, nil
	if d.fn == nil {
		d.fn = d.run
	}
	err := c.wc.Write(d.fn)
	n, hlen := d.n, d.hlen
	if err == nil {
		err = d.err
	}
	d.body, d.err = nil, nil
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	// A deadline left by an earlier writer refuses the write: the writer
	// sends the frame with a deadline of its own.
	if n == hlen+len(body) {
		return true
	}
	c.e.deferred.Add(1)
	rest := make([]byte, 0, hlen+len(body)-n)
	if n < hlen {
		rest = append(append(rest, d.hdr[n:hlen]...), body...)
	} else {
		rest = append(rest, body[n-hlen:]...)
	}
	c.raw = rest
	c.qbytes += len(rest)
	c.startWriter()
	return true
}

// libConn is the connection as the websocket library writes to it. The
// library writes only from the writer, but for the close it sends by
// itself, from the reader, when the peer breaks the protocol: that one is
// written as a direct write when no writer runs, so the reader never waits
// on a full socket while holding it, which would hold up the room's next
// direct write to the member.
type libConn struct {
	net.Conn
	c *outbox // nil until the member is connected (the handshake, a refusal)
}

func (l *libConn) Write(p []byte) (int, error) {
	c := l.c
	if c == nil || c.wc == nil {
		return l.Conn.Write(p)
	}
	c.mu.Lock()
	if !c.canDirect() {
		c.mu.Unlock()
		return l.Conn.Write(p)
	}
	c.dw.hlen = 0 // p is a whole frame
	if !c.directBytes(p) {
		c.failed()
		return 0, net.ErrClosed
	}
	c.mu.Unlock()
	return len(p), nil
}

// failed closes a connection whose socket failed a direct write; it runs
// with c.mu held and releases it.
func (c *outbox) failed() {
	c.closed = true
	c.closeAfter = false
	c.q = nil
	c.mu.Unlock()
	c.abort()
}

// Send queues msg (shared, never modified) and starts the writer if it is
// idle. It reports false when the connection is closed or its queue is full;
// in the latter case the connection is closed. A hello is always taken: it
// starts the connection, whatever its size.
func (c *outbox) Send(typ proto.Type, msg []byte) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if typ != proto.Hello && (c.qbytes+len(msg) > c.e.opt.OutboxBytes || len(c.q) >= c.e.opt.OutboxMessages) {
		c.closed = true
		c.q = nil
		queued := c.qbytes
		c.mu.Unlock()
		c.e.dropped.Add(1)
		c.e.opt.Metrics.Drops.Inc()
		c.e.opt.Log.Info("dropped a member that could not keep up", "user", c.user, "queued_bytes", queued)
		c.abort() // the reader fails and the member leaves
		return false
	}
	if c.canDirect() {
		if !c.direct(websocket.TextMessage, msg) {
			c.failed()
			return false
		}
	} else {
		c.q = append(c.q, msg)
		c.qbytes += len(msg)
		c.startWriter()
	}
	c.mu.Unlock()
	c.e.opt.Metrics.MessagesOut.Inc()
	return true
}

// Close sends the closed message for reason, then the close frame with the
// reason's code (proto.CloseCode).
func (c *outbox) Close(reason, text string) {
	c.finish(proto.ClosedMessage(reason, text), proto.CloseCode(reason), reason)
}

// Ping sends a websocket ping.
func (c *outbox) Ping() {
	c.mu.Lock()
	switch {
	case c.canDirect():
		if !c.direct(websocket.PingMessage, nil) {
			c.failed()
			return
		}
	case !c.closed:
		c.ping = true
		c.startWriter()
	}
	c.mu.Unlock()
}

// pongTo answers a ping from the peer (the reader's ping handler); only the
// latest unanswered ping is answered.
func (c *outbox) pongTo(data string) error {
	c.mu.Lock()
	switch {
	case c.canDirect():
		if !c.direct(websocket.PongMessage, []byte(data)) {
			c.failed()
			return nil
		}
	case !c.closed:
		c.pong = append(make([]byte, 0, len(data)), data...)
		c.startWriter()
	}
	c.mu.Unlock()
	return nil
}

// closeFromPeer answers the peer's close frame with the same code (the
// reader's close handler); the reader then ends.
func (c *outbox) closeFromPeer(code int, _ string) error {
	c.finish(nil, code, "")
	return nil
}

// tooLarge ends a connection that sent a message over the limit.
func (c *outbox) tooLarge() {
	text := fmt.Sprintf("a message may be at most %d bytes; closing the connection", proto.MaxMessageSize)
	c.finish(proto.ErrorMessage(proto.CodeTooLarge, text, "", 0), proto.CloseTooBig, proto.ReasonTooLarge)
}

// startWriter runs with c.mu held.
func (c *outbox) startWriter() {
	if !c.writing {
		c.writing = true
		c.writer.Add(1)
		c.e.writers.run(c)
	}
}

// finish queues msg (if any), then a close frame, and refuses further
// messages. The writer closes the connection once it has sent them.
func (c *outbox) finish(msg []byte, code int, text string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if msg != nil {
		c.q = append(c.q, msg)
		c.qbytes += len(msg)
	}
	c.closed = true
	c.closeAfter = true
	c.closeCode, c.closeText = code, text
	c.startWriter()
	c.mu.Unlock()
}

// shutdown stops accepting messages and waits for the writer to exit.
func (c *outbox) shutdown() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.writer.Wait()
}

func (c *outbox) write() {
	defer c.writer.Done()
	var batch [][]byte
	timeout := c.e.opt.WriteTimeout
	for {
		c.mu.Lock()
		ping, pong, raw := c.ping, c.pong, c.raw
		c.ping, c.pong, c.raw = false, nil, nil
		if len(c.q) == 0 && !ping && pong == nil && raw == nil {
			if c.closeAfter {
				c.closeAfter = false
				code, text := c.closeCode, c.closeText
				c.writing = false
				c.mu.Unlock()
				_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
				// Give the peer a moment to answer the close, then end the reader.
				_ = c.conn.NetConn().SetReadDeadline(time.Now().Add(time.Second))
				return
			}
			if c.wc != nil && !c.closed {
				// Direct writes go to the socket next, and are refused
				// once a deadline has passed.
				_ = c.conn.NetConn().SetWriteDeadline(time.Time{})
			}
			c.writing = false
			c.q = nil // an idle connection keeps no queue
			c.mu.Unlock()
			return
		}
		batch, c.q = c.q, batch[:0]
		c.qbytes = 0
		c.mu.Unlock()

		var err error
		deadline := time.Now().Add(timeout)
		if raw != nil {
			// The end of a frame a direct write began comes first.
			nc := c.conn.NetConn()
			err = nc.SetWriteDeadline(deadline)
			if err == nil {
				_, err = nc.Write(raw)
			}
		}
		if err == nil && ping {
			err = c.conn.WriteControl(websocket.PingMessage, nil, deadline)
		}
		if err == nil && pong != nil {
			err = c.conn.WriteControl(websocket.PongMessage, pong, deadline)
		}
		if err == nil && len(batch) > 0 {
			err = c.conn.SetWriteDeadline(deadline)
			if err == nil {
				err = c.writeBatch(batch)
			}
		}
		clear(batch)
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.closeAfter = false
			c.q = nil
			c.writing = false
			c.mu.Unlock()
			c.abort()
			return
		}
	}
}

// abort ends the connection from any goroutine: the deadlines wake a
// blocked reader and writer, and the socket is closed.
func (c *outbox) abort() {
	_ = c.conn.NetConn().SetDeadline(time.Unix(1, 0))
	_ = c.conn.Close()
}

// writeBatch sends every queued message as one websocket message, the
// messages separated by '\n' (see docs/protocol.md).
func (c *outbox) writeBatch(batch [][]byte) error {
	if len(batch) == 1 {
		return c.conn.WriteMessage(websocket.TextMessage, batch[0])
	}
	buf := batchBufs.get()
	for i, m := range batch {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, m...)
	}
	err := c.conn.WriteMessage(websocket.TextMessage, buf)
	batchBufs.put(buf)
	return err
}
