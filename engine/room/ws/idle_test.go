package ws_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"watchparty/engine/room"
	"watchparty/engine/room/ws"
)

// goroutinesIn counts the goroutines whose stack runs fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// waitGoroutines waits (bounded) until want goroutines run fn and returns
// how many do.
func waitGoroutines(fn string, want int) int {
	deadline := time.Now().Add(10 * time.Second)
	n := goroutinesIn(fn)
	for n != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		n = goroutinesIn(fn)
	}
	return n
}

// TestIdleConnectionsHoldOnlyTheirReader: a connected member with nothing
// to receive has one goroutine (its reader) and no writer; a message to
// everyone starts a writer per member, and each ends once its queue is
// empty.
func TestIdleConnectionsHoldOnlyTheirReader(t *testing.T) {
	const members = 12
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	clients := []*wsClient{dial(t, base, in.Code, ann)}
	for i := 1; i < members; i++ {
		u := room.User{ID: fmt.Sprintf("u-%d", i), Name: fmt.Sprintf("Member %d", i)}
		mustJoin(t, svc, in.Code, u)
		clients = append(clients, dial(t, base, in.Code, u))
	}
	for _, c := range clients {
		c.expect("hello")
	}
	const reader, writer = "ws.(*Endpoint).read(", "ws.(*outbox).write("
	if n := waitGoroutines(writer, 0); n != 0 {
		t.Fatalf("%d writer goroutines for %d idle connections, want none", n, members)
	}
	if n := goroutinesIn(reader); n != members {
		t.Fatalf("%d reader goroutines for %d connections", n, members)
	}
	clients[0].send(map[string]any{"type": "chat", "text": "hello all"})
	for _, c := range clients {
		if m := c.expectChat(); m["text"] != "hello all" {
			t.Fatalf("got %v", m)
		}
	}
	if n := waitGoroutines(writer, 0); n != 0 {
		t.Fatalf("%d writer goroutines left after the line was delivered", n)
	}
}

// TestUpgradeKeepsNoRequest: while a member is connected, the handshake's
// request and response (their headers, cookies and the handlers' values)
// are no longer held.
func TestUpgradeKeepsNoRequest(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	ep := ws.New(svc, ws.Options{Log: quietLog()})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	type held struct{ reqHeaders, respHeaders, cookies, values int }
	seen := make(chan held, 1)
	app.Get("/ws/:code", func(c *fiber.Ctx) error {
		code := strings.Clone(c.Params("code"))
		c.Locals("user", ann)
		c.Set("Content-Security-Policy", strings.Repeat("x", 200))
		ctx := c.Context()
		return ep.Upgrade(ctx, func(conn *websocket.Conn) {
			h := held{reqHeaders: ctx.Request.Header.Len(), respHeaders: ctx.Response.Header.Len()}
			ctx.Request.Header.VisitAllCookie(func(_, _ []byte) { h.cookies++ })
			ctx.VisitUserValues(func(_ []byte, _ any) { h.values++ })
			seen <- h
			_ = ep.Serve(code, ann, conn)
		})
	})
	base := listen(t, svc, app)
	hdr := http.Header{"Cookie": {"session=" + strings.Repeat("s", 64)}, "User-Agent": {"test"}}
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(base+"/ws/"+in.Code, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(conn)
	c.t = t
	c.expect("hello")
	// A fresh response counts its default Content-Type.
	var fresh fasthttp.Response
	if h := <-seen; h != (held{respHeaders: fresh.Header.Len()}) {
		t.Fatalf("a served connection still holds its handshake: %+v", h)
	}
}
