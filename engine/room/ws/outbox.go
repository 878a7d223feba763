package ws

import (
	"fmt"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/room/proto"
)

// outbox is one websocket connection as the room sees it (a
// room.Transport). The handler goroutine reads; a writer goroutine exists
// only while the queue is not empty. mu guards the queue and the flags, and
// is never held during I/O.
type outbox struct {
	conn Conn
	e    *Endpoint
	user string // for the log

	mu         sync.Mutex
	q          [][]byte
	qbytes     int
	writing    bool
	closed     bool // no more messages are accepted
	closeAfter bool // the writer sends a close frame after the queue
	closeCode  int
	closeText  string
	ping       bool
	writer     sync.WaitGroup
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
	c.q = append(c.q, msg)
	c.qbytes += len(msg)
	c.startWriter()
	c.mu.Unlock()
	c.e.opt.Metrics.MessagesOut.Inc()
	return true
}

// Close sends the closed message for reason, then the close frame with the
// reason's code (proto.CloseCode).
func (c *outbox) Close(reason, text string) {
	c.finish(proto.ClosedMessage(reason, text), proto.CloseCode(reason), reason)
}

// Ping asks the writer to send a websocket ping.
func (c *outbox) Ping() {
	c.mu.Lock()
	if !c.closed {
		c.ping = true
		c.startWriter()
	}
	c.mu.Unlock()
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
		ping := c.ping
		c.ping = false
		if len(c.q) == 0 && !ping {
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
		if ping {
			err = c.conn.WriteControl(websocket.PingMessage, nil, deadline)
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
