package ws

import (
	"fmt"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// Upgrade answers the websocket handshake of ctx and, once the response is
// sent, runs serve on the connection's own goroutine until the connection
// ends. The caller must have checked the session and the origin: any
// origin is taken here. It returns an error (and has set the error
// response) when ctx is not a valid websocket handshake.
//
// fasthttp keeps ctx, with the request's and the response's headers, until
// serve returns, and a member may stay for hours: serve starts with both
// emptied, and with no user values left, so that an idle member holds none
// of them. serve must take what it needs of the request before Upgrade
// (capture it in the closure).
func (e *Endpoint) Upgrade(ctx *fasthttp.RequestCtx, serve func(conn *websocket.Conn)) error {
	u := &e.upgrader
	return u.Upgrade(ctx, func(conn *websocket.Conn) {
		ctx.Request = fasthttp.Request{}
		ctx.Response = fasthttp.Response{}
		ctx.ResetUserValues()
		defer func() {
			// The handshake's goroutine is not the server's: a panic here
			// would end the process.
			if p := recover(); p != nil {
				e.opt.Log.Error("panic serving a room websocket", "panic", fmt.Sprint(p))
				if nc := conn.NetConn(); nc != nil {
					_ = nc.SetDeadline(time.Unix(1, 0))
				}
				_ = conn.Close()
			}
		}()
		serve(conn)
	})
}

// newUpgrader is the handshake of the room websockets: a 512-byte read
// buffer per connection (a longer message is read through a pooled
// buffer, read.go) and write buffers lent by the pool while a writer runs.
func newUpgrader(pool websocket.BufferPool) websocket.FastHTTPUpgrader {
	return websocket.FastHTTPUpgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 1024,
		WriteBufferPool: pool,
		// The caller compared Origin with the Host and base_url.
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
	}
}

// IsUpgrade reports whether ctx asks for a websocket.
func IsUpgrade(ctx *fasthttp.RequestCtx) bool { return websocket.FastHTTPIsWebSocketUpgrade(ctx) }
