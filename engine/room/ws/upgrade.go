package ws

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"watchparty/engine/room"
)

// readBufferSize is each connection's read buffer: a longer message is read
// through a pooled buffer (read.go). It must stay above 256 bytes, or the
// websocket library would allocate a reader of its own instead of using it.
const readBufferSize = 512

// ErrTooManyFromAddress refuses a connection over the per-address limit.
var ErrTooManyFromAddress = errors.New("too many connections from your address")

var errNotHandshake = errors.New("not a websocket handshake")

// Upgrade answers the websocket handshake of ctx and connects member u to
// the room code. It returns an error (and has set the error response) when
// ctx is not a valid websocket handshake. The caller must have checked the
// session and the origin: any origin is taken here.
//
// Once the response is sent the handshake's goroutine returns, so that
// fasthttp takes back the request's context and its buffers at once; the
// member's reader runs on a goroutine of its own, started with a small
// stack, and waits for data in a shallow frame (socket.go). The server must
// leave hijacked connections open (fasthttp.Server.KeepHijackedConns): the
// reader closes its connection when the member leaves.
//
// admit, when not nil, runs before the member connects: false refuses the
// connection with ErrTooManyFromAddress, else release runs when it ends.
func (e *Endpoint) Upgrade(ctx *fasthttp.RequestCtx, code string, u room.User, admit func() (release func(), ok bool)) error {
	req, err := handshake(ctx)
	if err != nil {
		ctx.Response.Header.Set("Sec-Websocket-Version", "13")
		ctx.Error(fasthttp.StatusMessage(fasthttp.StatusBadRequest), fasthttp.StatusBadRequest)
		return err
	}
	// The upgrader below writes the response on the hijacked connection.
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(hc net.Conn) {
		defer func() {
			// The handshake's goroutine is not the server's: a panic here
			// would end the process.
			if p := recover(); p != nil {
				e.opt.Log.Error("panic accepting a room websocket", "panic", fmt.Sprint(p))
				_ = hc.Close()
			}
		}()
		e.accept(hc, req, code, u, admit)
	})
	return nil
}

// handshake checks that ctx is a websocket handshake and returns what the
// upgrader needs of it, copied: ctx goes back to fasthttp before the
// upgrader runs.
func handshake(ctx *fasthttp.RequestCtx) (*http.Request, error) {
	key := string(ctx.Request.Header.Peek("Sec-Websocket-Key"))
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, errNotHandshake
	}
	if !ctx.IsGet() || !websocket.FastHTTPIsWebSocketUpgrade(ctx) ||
		string(ctx.Request.Header.Peek("Sec-Websocket-Version")) != "13" {
		return nil, errNotHandshake
	}
	return &http.Request{Method: http.MethodGet, Header: http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {key},
	}}, nil
}

// accept runs on the handshake's goroutine: it sends the response, connects
// the member and starts the reader.
func (e *Endpoint) accept(hc net.Conn, req *http.Request, code string, u room.User, admit func() (func(), bool)) {
	raw, pending, err := detach(hc)
	if err != nil {
		e.opt.Log.Error("room websocket not taken over", "err", err)
		_ = hc.Close()
		return
	}
	nc := raw
	if len(pending) > 0 {
		nc = &prefixConn{Conn: raw, pending: pending}
	}
	br := bufio.NewReaderSize(nc, readBufferSize)
	lc := &libConn{Conn: nc}
	conn, err := e.upgrader.Upgrade(&hijacker{conn: lc, brw: bufio.NewReadWriter(br, bufio.NewWriterSize(lc, 256))}, req, nil)
	if err != nil {
		_ = raw.Close()
		return
	}
	release := func() {}
	if admit != nil {
		r, ok := admit()
		if !ok {
			refuse(conn, ErrTooManyFromAddress)
			return
		}
		release = r
	}
	s := &socket{Conn: conn, br: br, wc: directConn(raw), lc: lc}
	if len(pending) == 0 {
		s.rc = rawConn(raw)
	}
	c, rc, err := e.connect(code, u, s)
	if err != nil {
		release()
		return
	}
	go func() {
		defer release()
		defer func() {
			// This goroutine is not the server's: a panic here would end
			// the process.
			if p := recover(); p != nil {
				e.opt.Log.Error("panic serving a room websocket", "panic", fmt.Sprint(p))
			}
			_ = conn.Close()
		}()
		e.serve(c, rc)
	}()
}

// detach returns the socket under fasthttp's hijacked connection hc and the
// bytes fasthttp had already read past the request (a client may send its
// first frames right behind the handshake). fasthttp puts its read buffer
// back in its pool when the hijack handler returns: whatever is in it is
// taken now, with a deadline in the past so that nothing waits on the
// socket.
func detach(hc net.Conn) (net.Conn, []byte, error) {
	u, ok := hc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return nil, nil, errors.New("the hijacked connection does not give its socket")
	}
	if err := hc.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return nil, nil, err
	}
	var pending []byte
	var buf [512]byte
	for {
		n, err := hc.Read(buf[:])
		pending = append(pending, buf[:n]...)
		if err != nil {
			break
		}
	}
	if err := hc.SetReadDeadline(time.Time{}); err != nil {
		return nil, nil, err
	}
	return u.UnsafeConn(), pending, nil
}

// prefixConn reads pending before its connection.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// hijacker hands the websocket upgrader a connection already taken over
// from fasthttp, with the read buffer the connection keeps.
type hijacker struct {
	conn   net.Conn
	brw    *bufio.ReadWriter
	header http.Header
}

func (h *hijacker) Header() http.Header {
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

func (h *hijacker) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacker) WriteHeader(int)             {}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, h.brw, nil }

// newUpgrader is the handshake of the room websockets: the read buffer is
// the one accept gives (readBufferSize), write buffers are lent by the
// pool while a writer runs.
func newUpgrader(pool websocket.BufferPool) websocket.Upgrader {
	return websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		WriteBufferSize:  1024,
		WriteBufferPool:  pool,
		// The caller compared Origin with the Host and base_url.
		CheckOrigin: func(*http.Request) bool { return true },
	}
}

// IsUpgrade reports whether ctx asks for a websocket.
func IsUpgrade(ctx *fasthttp.RequestCtx) bool { return websocket.FastHTTPIsWebSocketUpgrade(ctx) }
