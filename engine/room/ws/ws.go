// Package ws is the room's websocket transport: the endpoint a page's
// websocket is upgraded to, one reader per connection (the handler's
// goroutine) and one writer that owns every write, the outbox that drops a
// member who cannot keep up, and the websocket close codes. The room itself
// (engine/room) sees each connection only as a room.Transport.
package ws

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/metrics"
	"watchparty/engine/room"
	"watchparty/engine/room/proto"
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
	SetPingHandler(h func(appData string) error)
	SetCloseHandler(h func(code int, text string) error)
	NetConn() net.Conn
	Close() error
}

// Rooms is what the endpoint needs of the room service.
type Rooms interface {
	Connect(code string, u room.User, t room.Transport) (*room.Conn, error)
	PingInterval() time.Duration
	MaxMessageSize() int
}

// Options tune the endpoint. Zero values take the defaults.
type Options struct {
	Log            *slog.Logger
	WriteTimeout   time.Duration // one write to a member (10 s)
	OutboxBytes    int           // bytes queued for one member before it is dropped (1 MiB)
	OutboxMessages int           // messages queued for one member before it is dropped (4096)
	// ReadGrace is how long a connection may stay silent beyond two ping
	// intervals before it is closed (10 s).
	ReadGrace time.Duration
	// Metrics counts connections, messages and drops; zero: a set of its
	// own that nothing serves.
	Metrics metrics.Socket
}

// Endpoint serves room websockets.
type Endpoint struct {
	rooms    Rooms
	opt      Options
	pool     WriteBufferPool
	writers  writers
	upgrader websocket.Upgrader
	dropped  atomic.Int64
	deferred atomic.Int64 // direct writes the socket did not take in full
}

// New returns an endpoint for the rooms of rs.
func New(rs Rooms, o Options) *Endpoint {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.OutboxBytes <= 0 {
		o.OutboxBytes = 1 << 20
	}
	if o.OutboxMessages <= 0 {
		o.OutboxMessages = 4096
	}
	if o.ReadGrace <= 0 {
		o.ReadGrace = 10 * time.Second
	}
	if o.Metrics.Connections == nil {
		o.Metrics = metrics.New().Socket
	}
	e := &Endpoint{rooms: rs, opt: o, writers: writers{linger: time.Second, maxIdle: 1024}}
	e.upgrader = newUpgrader(&e.pool)
	return e
}

// Close ends the writers that wait for work, for a server that stops;
// connections still open keep being served, each write on a goroutine that
// ends with it.
func (e *Endpoint) Close() { e.writers.stop() }

// Dropped counts connections closed because they could not keep up.
func (e *Endpoint) Dropped() int64 { return e.dropped.Load() }

// connect puts the member on conn in the room code, or refuses and closes
// conn. The caller must have checked the session and the origin; the room
// checks membership again (a kick may race the upgrade).
func (e *Endpoint) connect(code string, u room.User, conn Conn) (*outbox, *room.Conn, error) {
	e.opt.Metrics.Connections.Inc()
	c := &outbox{conn: conn, e: e, user: u.ID}
	if s, ok := conn.(*socket); ok {
		c.wc = s.wc
		s.lc.c = c
	}
	rc, err := e.rooms.Connect(code, u, c)
	if err != nil {
		e.opt.Metrics.Connections.Dec()
		refuse(conn, err)
		return nil, nil, err
	}
	return c, rc, nil
}

// serve runs a connected member until the connection ends: the calling
// goroutine is the reader; a writer goroutine runs only while there is
// something to send.
func (e *Endpoint) serve(c *outbox, rc *room.Conn) {
	defer e.opt.Metrics.Connections.Dec()
	defer c.shutdown()
	defer rc.Leave()
	e.read(c, rc)
}

// read hands each message to the room until the connection ends.
func (e *Endpoint) read(c *outbox, rc *room.Conn) {
	conn := c.conn
	readTimeout := 2*e.rooms.PingInterval() + e.opt.ReadGrace
	extended := time.Now()
	_ = conn.SetReadDeadline(extended.Add(readTimeout))
	pong := func(string) error {
		extended = time.Now()
		return conn.SetReadDeadline(extended.Add(readTimeout))
	}
	conn.SetPongHandler(pong)
	// Pongs and the answer to a close are written by the outbox: not
	// from here, in the middle of a frame the outbox is writing.
	conn.SetPingHandler(c.pongTo)
	conn.SetCloseHandler(c.closeFromPeer)
	sock, _ := conn.(*socket)
	maxRead := e.rooms.MaxMessageSize()
	for {
		if sock != nil {
			if err := sock.awaitFrame(pong); err != nil {
				return
			}
		}
		data, err := readMessage(conn, maxRead)
		if errors.Is(err, errTooLarge) {
			c.tooLarge()
			return
		}
		if err != nil {
			return
		}
		if now := time.Now(); now.Sub(extended) > time.Second {
			extended = now
			_ = conn.SetReadDeadline(now.Add(readTimeout))
		}
		e.opt.Metrics.MessagesIn.Inc()
		m := new(proto.ClientMessage)
		err = proto.Decode(data, m)
		big := len(data) > proto.MaxMessageSize
		readBufs.put(data)
		if big && (err != nil || m.Type != proto.RTC) {
			// Only rtc messages may be longer (MaxMessageSize).
			c.tooLarge()
			return
		}
		if err != nil {
			c.Send(proto.Error, proto.ErrorMessage(proto.CodeBadMessage, err.Error(), m.Ref, 0))
			continue
		}
		if !rc.Receive(m) {
			return
		}
	}
}

// refuse answers a connection the room did not take with an error and
// closes it.
func refuse(conn Conn, err error) {
	code, closeCode := proto.CodeNotMember, proto.ClosePolicy
	switch {
	case errors.Is(err, room.ErrNotFound):
		code = proto.CodeNotFound
	case errors.Is(err, room.ErrRoomFull):
		code = proto.CodeRoomFull
	case errors.Is(err, room.ErrTooManyTabs), errors.Is(err, ErrTooManyFromAddress):
		code = proto.CodeTooManyConnections
	case errors.Is(err, room.ErrClosed):
		code, closeCode = proto.CodeUnavailable, proto.CloseGoingAway
	}
	text := err.Error()
	deadline := time.Now().Add(time.Second)
	_ = conn.SetWriteDeadline(deadline)
	_ = conn.WriteMessage(websocket.TextMessage, proto.ErrorMessage(code, text, "", 0))
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCode, code), deadline)
	_ = conn.Close()
}
