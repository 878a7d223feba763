package ws_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"watchparty/engine/room"
	"watchparty/engine/room/ws"
)

// goroutinesIn counts the goroutines whose stack runs every one of fns.
func goroutinesIn(fns ...string) int {
	return countIn(goroutineStacks(), fns...)
}

// goroutineStacks is one snapshot of every goroutine's stack.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Split(string(buf), "\n\n")
}

// countIn counts the stacks of a snapshot that run every one of fns.
func countIn(stacks []string, fns ...string) int {
	count := 0
	for _, g := range stacks {
		all := true
		for _, fn := range fns {
			all = all && strings.Contains(g, fn)
		}
		if all {
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
// everyone puts a writer on each member's queue, each leaves it once it is
// empty, and the writers end after their short wait for more.
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
	// A member's hello is written before its reader starts: wait for it.
	if n := waitGoroutines(reader, members); n != members {
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
	// The writers wait a moment for another outbox, then end.
	if n := waitGoroutines("ws.(*writers).work(", 0); n != 0 {
		t.Fatalf("%d writers still wait with every member idle", n)
	}
	if n := goroutinesIn(reader); n != members {
		t.Fatalf("%d reader goroutines for %d connections", n, members)
	}
}

// TestUpgradeKeepsNoRequest: while a member is connected, the handshake's
// goroutine has returned, so fasthttp has taken back the request's context
// (its headers, cookies, the handlers' values and buffers); the member's
// reader runs on a goroutine of its own.
func TestUpgradeKeepsNoRequest(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	hdr := http.Header{"Cookie": {"session=" + strings.Repeat("s", 64)}, "User-Agent": {"test"}}
	q := url.Values{"user": {ann.ID}, "name": {ann.Name}}
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(base+"/ws/"+in.Code+"?"+q.Encode(), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(conn)
	c.t = t
	c.expect("hello")
	if n := waitGoroutines("fasthttp.hijackConnHandler(", 0); n != 0 {
		t.Fatalf("%d handshake goroutines still hold their request while the member stays", n)
	}
	if n := waitGoroutines("ws.(*Endpoint).read(", 1); n != 1 {
		t.Fatalf("%d readers for one member", n)
	}
	c.send(map[string]any{"type": "chat", "text": "after the handshake"})
	if m := c.expectChat(); m["text"] != "after the handshake" {
		t.Fatalf("got %v", m)
	}
}

// clientFrame is a masked text frame as a client sends it.
func clientFrame(t *testing.T, op byte, payload string) []byte {
	t.Helper()
	if len(payload) > 125 {
		t.Fatal("payload too long for a one-byte length")
	}
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x80 | op, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}

// chatFrame is a chat message with text in a client frame.
func chatFrame(t *testing.T, text string) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "chat", "text": text})
	return clientFrame(t, websocket.TextMessage, string(b))
}

// pipelining is a client connection that sends extra right behind the
// handshake request, in the same write.
type pipelining struct {
	net.Conn
	extra []byte
	sent  bool
}

func (p *pipelining) Write(b []byte) (int, error) {
	if p.sent {
		return p.Conn.Write(b)
	}
	p.sent = true
	if _, err := p.Conn.Write(append(append([]byte(nil), b...), p.extra...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// TestFramesPipelinedBehindHandshake: frames a client sends in the same
// packet as its handshake (fasthttp has read them into its own buffer with
// the request) are not lost when fasthttp takes its buffer back: the room
// gets them, in order, and the connection goes on.
func TestFramesPipelinedBehindHandshake(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	extra := append(chatFrame(t, "pipelined one"), chatFrame(t, "pipelined two")...)
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err != nil {
			return nil, err
		}
		return &pipelining{Conn: c, extra: extra}, nil
	}}
	c, err := tryDial(base, in.Code, ann, d)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	defer c.conn.Close()
	c.expect("hello")
	for _, want := range []string{"pipelined one", "pipelined two"} {
		if m := c.expectChat(); m["text"] != want {
			t.Fatalf("got %v, want the line %q", m, want)
		}
	}
	c.send(map[string]any{"type": "chat", "text": "then a normal one"})
	if m := c.expectChat(); m["text"] != "then a normal one" {
		t.Fatalf("got %v", m)
	}
}

// TestFramesInOnePacket: frames that arrive together (two messages, a pong
// between them) are all read, though the reader waits for the socket only
// when its buffer is empty.
func TestFramesInOnePacket(t *testing.T) {
	svc, _ := newService(t, room.Options{})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	c := dial(t, base, in.Code, ann)
	c.expect("hello")
	var b []byte
	b = append(b, chatFrame(t, "first")...)
	b = append(b, clientFrame(t, websocket.PongMessage, "unasked")...)
	b = append(b, chatFrame(t, "second")...)
	if _, err := c.conn.NetConn().Write(b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "second"} {
		if m := c.expectChat(); m["text"] != want {
			t.Fatalf("got %v, want the line %q", m, want)
		}
	}
}

// TestIdleReadersWaitShallow: members who only answer the server's pings
// are parked waiting for their socket (socket.go), not inside the websocket
// library's frame reader, so that the collector can shrink their stacks.
func TestIdleReadersWaitShallow(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the shallow wait peeks at the socket, which this test expects on Linux only")
	}
	const members = 5
	svc, _ := newService(t, room.Options{PingInterval: 20 * time.Millisecond})
	in := mustCreate(t, svc, ann, "")
	base := serveRooms(t, svc)
	done := make(chan struct{})
	defer close(done)
	for i := range members {
		u := ann
		if i > 0 {
			u = room.User{ID: fmt.Sprintf("u-%d", i), Name: fmt.Sprintf("Member %d", i)}
			mustJoin(t, svc, in.Code, u)
		}
		c := dial(t, base, in.Code, u)
		c.expect("hello")
		// Reading answers the pings.
		go func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := c.next(); err != nil {
					return
				}
			}
		}()
	}
	// A pong comes back every ping interval and wakes its reader for a
	// moment, so two snapshots can disagree: wait for one in which every
	// reader is parked on its socket and none inside the frame reader.
	deadline := time.Now().Add(10 * time.Second)
	var parked, deep int
	for {
		g := goroutineStacks()
		parked = countIn(g, "ws.(*socket).awaitFrame(", "ws.waitReadable(")
		deep = countIn(g, "ws.(*Endpoint).read(", "websocket.(*Conn).advanceFrame(")
		if parked == members && deep == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if parked != members {
		t.Fatalf("%d of %d idle readers wait for their socket", parked, members)
	}
	if deep != 0 {
		t.Fatalf("%d idle readers wait inside the frame reader", deep)
	}
}

// TestOverTLS: served over TLS by the server itself (no proxy in front),
// where the reader cannot peek at the socket under the encryption, a member
// still gets frames sent behind the handshake and in one packet, stays
// connected across pings, and chats.
func TestOverTLS(t *testing.T) {
	svc, _ := newService(t, room.Options{PingInterval: 20 * time.Millisecond})
	in := mustCreate(t, svc, ann, "")
	ep := ws.New(svc, ws.Options{Log: quietLog(), ReadGrace: time.Second})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	mount(app, ep)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = app.Listener(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS12}))
	}()
	t.Cleanup(func() {
		svc.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	})
	extra := chatFrame(t, "pipelined")
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second,
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, network, addr) //nolint:gosec // the test's own certificate
			if err != nil {
				return nil, err
			}
			return &pipelining{Conn: c, extra: extra}, nil
		}}
	c, err := tryDial("wss://"+ln.Addr().String(), in.Code, ann, d)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	defer c.conn.Close()
	c.expect("hello")
	if m := c.expectChat(); m["text"] != "pipelined" {
		t.Fatalf("got %v", m)
	}
	// Many ping intervals and more than the read timeout (1.04 s) pass.
	for i := range 10 {
		time.Sleep(150 * time.Millisecond)
		text := fmt.Sprint("line ", i)
		if _, err := c.conn.NetConn().Write(append(chatFrame(t, text), clientFrame(t, websocket.PongMessage, "")...)); err != nil {
			t.Fatal(err)
		}
		if m := c.expectChat(); m["text"] != text {
			t.Fatalf("got %v, want %q", m, text)
		}
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
