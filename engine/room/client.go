package room

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/metrics"
)

// Conn is the websocket connection a member talks through
// (*websocket.Conn of github.com/fasthttp/websocket satisfies it).
type Conn interface {
	NextReader() (int, io.Reader, error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SetPongHandler(h func(appData string) error)
	NetConn() net.Conn
	Close() error
}

// freeList is a bounded stack of byte buffers shared by all connections.
// Unlike sync.Pool it is not emptied by the garbage collector, so a burst
// after a collection does not allocate a buffer per connection again.
type freeList struct {
	mu   sync.Mutex
	bufs [][]byte
	size int // capacity of new buffers
	max  int // buffers kept
	keep int // largest capacity kept
}

func (f *freeList) get() []byte {
	f.mu.Lock()
	if n := len(f.bufs); n > 0 {
		b := f.bufs[n-1]
		f.bufs[n-1] = nil
		f.bufs = f.bufs[:n-1]
		f.mu.Unlock()
		return b[:0]
	}
	f.mu.Unlock()
	return make([]byte, 0, f.size)
}

func (f *freeList) put(b []byte) {
	if cap(b) > f.keep {
		return
	}
	f.mu.Lock()
	if len(f.bufs) < f.max {
		f.bufs = append(f.bufs, b[:0])
	}
	f.mu.Unlock()
}

var (
	// batchBufs hold the frames a writer assembles from queued messages.
	batchBufs = &freeList{size: 4 << 10, max: 256, keep: 256 << 10}
	// readBufs hold one incoming message while it is decoded.
	readBufs = &freeList{size: MaxMessageSize + 1, max: 256, keep: MaxMessageSize + 1}
)

// WriteBufferPool is a websocket.BufferPool backed by a free list; give it
// to the websocket upgrader so that idle connections hold no write buffer.
type WriteBufferPool struct {
	mu   sync.Mutex
	vals []any
}

// Get returns a pooled value or nil.
func (p *WriteBufferPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.vals); n > 0 {
		v := p.vals[n-1]
		p.vals[n-1] = nil
		p.vals = p.vals[:n-1]
		return v
	}
	return nil
}

// Put keeps v for reuse (up to 256 values).
func (p *WriteBufferPool) Put(v any) {
	p.mu.Lock()
	if len(p.vals) < 256 {
		p.vals = append(p.vals, v)
	}
	p.mu.Unlock()
}

// client is one websocket connection of a member. The handler goroutine
// reads; a writer goroutine exists only while the outbox is not empty.
// mu guards the outbox and the flags, and is never held during I/O.
type client struct {
	conn  Conn
	user  User
	room  *actor
	owner *Service

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

	// Owned by the room actor.
	away       bool
	typing     bool
	lastTyping time.Time
}

// send queues msg (shared, never modified) and starts the writer if it is
// idle. It reports false when the client is closed or its outbox is full;
// in the latter case the connection is closed.
func (c *client) send(msg []byte) bool { return c.enqueue(msg, false) }

func (c *client) enqueue(msg []byte, force bool) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if !force && (c.qbytes+len(msg) > c.owner.opt.OutboxBytes || len(c.q) >= c.owner.opt.OutboxMessages) {
		c.closed = true
		c.q = nil
		c.mu.Unlock()
		c.owner.dropped.Add(1)
		metrics.Drops.Inc()
		c.owner.log.Info("dropped a member that could not keep up", "user", c.user.ID, "queued_bytes", c.qbytes)
		c.abort() // the reader fails and the member leaves
		return false
	}
	c.q = append(c.q, msg)
	c.qbytes += len(msg)
	c.startWriter()
	c.mu.Unlock()
	metrics.MessagesOut.Inc()
	return true
}

// startWriter runs with c.mu held.
func (c *client) startWriter() {
	if !c.writing {
		c.writing = true
		c.writer.Add(1)
		go c.write()
	}
}

// requestPing asks the writer to send a websocket ping.
func (c *client) requestPing() {
	c.mu.Lock()
	if !c.closed {
		c.ping = true
		c.startWriter()
	}
	c.mu.Unlock()
}

// finish queues msg (if any), then a close frame, and refuses further
// messages. The writer closes the connection once it has sent them.
func (c *client) finish(msg []byte, code int, text string) {
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
func (c *client) shutdown() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.writer.Wait()
}

func (c *client) write() {
	defer c.writer.Done()
	var batch [][]byte
	timeout := c.owner.opt.WriteTimeout
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
// blocked reader and writer (closing a hijacked connection does not), and
// the handler returning closes the socket.
func (c *client) abort() {
	_ = c.conn.NetConn().SetDeadline(time.Unix(1, 0))
	_ = c.conn.Close()
}

// writeBatch sends every queued message as one websocket message, the
// messages separated by '\n' (see docs/protocol.md).
func (c *client) writeBatch(batch [][]byte) error {
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

var errTooLarge = errors.New("message too large")

// readMessage reads the next text message into a buffer from readBufs; a
// message longer than MaxMessageSize and at most max bytes is read into a
// buffer of its own.
func readMessage(conn Conn, max int) ([]byte, error) {
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			return nil, err
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		buf := readBufs.get()
		buf = buf[:MaxMessageSize+1]
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil && max > MaxMessageSize:
			big := make([]byte, max+1)
			copy(big, buf)
			readBufs.put(buf)
			m, err := io.ReadFull(r, big[n:])
			switch {
			case err == nil:
				return nil, errTooLarge
			case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
				return big[:n+m], nil
			default:
				return nil, err
			}
		case err == nil:
			readBufs.put(buf)
			return nil, errTooLarge
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return buf[:n], nil
		default:
			readBufs.put(buf)
			return nil, err
		}
	}
}
