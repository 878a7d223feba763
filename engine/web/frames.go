package web

import (
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"watchparty/engine/account"
	"watchparty/engine/frames"
	"watchparty/engine/frames/wire"
	"watchparty/engine/limit"
	"watchparty/engine/revoke"
	"watchparty/engine/room/proto"
	"watchparty/engine/room/ws"
)

// Frames is what the web server needs of frame streaming: the hub the
// browser relay subscribes to, the token issuer, and the TCP listener's
// address for the room page's Stream panel.
type Frames struct {
	Hub    *frames.Hub
	Tokens FrameTokens
	// Addr returns the frame listener's address, "" when stream.listen is off.
	Addr func() string
}

// FrameTokens issues frame tokens to members the web server checked;
// *frames.Access is one.
type FrameTokens interface {
	Issue(room, member string, role wire.Role) (tok string, expires time.Time, err error)
}

// relayPing is how often the relay pings a browser.
const relayPing = 25 * time.Second

// relaySessions are the open relay websockets: closed when the server stops
// (Fiber's shutdown does not close upgraded connections), and when what let
// them in is revoked (the session ended, or the member left the room).
type relaySessions struct {
	mu     sync.Mutex
	open   map[chan struct{}]*relayEntry
	closed bool
	pool   *ws.WriteBufferPool
}

// relayEntry is one relay: who watches which room, and why it was closed.
type relayEntry struct {
	user, session, room string
	reason              string // the close frame's text
}

func (rs *relaySessions) add(user, session, code string) (chan struct{}, *relayEntry, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return nil, nil, false
	}
	q := make(chan struct{})
	e := &relayEntry{user: user, session: session, room: code, reason: "shutdown"}
	rs.open[q] = e
	return q, e, true
}

func (rs *relaySessions) remove(q chan struct{}) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, ok := rs.open[q]; ok {
		delete(rs.open, q)
		close(q)
	}
}

func (rs *relaySessions) closeAll() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.closed = true
	for q := range rs.open {
		delete(rs.open, q)
		close(q)
	}
}

// revoked closes the relays an event takes the right away from.
func (rs *relaySessions) revoked(ev revoke.Event) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for q, e := range rs.open {
		var reason string
		switch {
		case ev.Ends(e.user, e.session):
			reason = proto.ReasonLoggedOut
		case ev.Kind == revoke.Member && ev.Room == e.room && (ev.User == "" || ev.User == e.user):
			reason = proto.ReasonRemoved
		default:
			continue
		}
		e.reason = reason
		delete(rs.open, q)
		close(q)
	}
}

// framesRoutes registers the browser relay and the token endpoint.
func (s *Server) framesRoutes(r fiber.Router) {
	if s.frames == nil {
		return
	}
	s.relays = &relaySessions{open: map[chan struct{}]*relayEntry{}, pool: &ws.WriteBufferPool{}}
	s.OnClose(s.relays.closeAll)
	if s.revoke != nil {
		s.revoke.Subscribe(s.relays.revoked)
	}
	r.Get("/r/:code/frames", s.roomCode, s.roomSocketCheck, websocket.New(s.frameRelay, websocket.Config{
		ReadBufferSize:  512,
		WriteBufferSize: 64 << 10,
		WriteBufferPool: s.relays.pool,
		// Origins stays empty: roomSocketCheck compares Origin with the
		// Host and base_url before the upgrade.
	}))
	r.Post("/r/:code/stream/token", s.roomCode, s.requireUser, s.streamToken)
}

// streamToken hands a member a frame token: role "viewer" to any member,
// "publisher" to members who may change the video. The answer carries the
// frame server's address and the command lines that use the token.
func (s *Server) streamToken(c *fiber.Ctx) error {
	u, code, in, err := s.visitRoom(c)
	if err != nil {
		return err
	}
	m, err := s.rooms.svc.Member(c.UserContext(), code, u.ID)
	if err != nil {
		return roomError(err)
	}
	role := c.FormValue("role", string(wire.RoleViewer))
	switch wire.Role(role) {
	case wire.RoleViewer:
	case wire.RolePublisher:
		if !in.Settings.ChangeVideo.Allows(m.Role) {
			return fiber.NewError(fiber.StatusForbidden, "You may not stream to this room: its settings reserve changing the video.")
		}
	default:
		return fiber.NewError(fiber.StatusBadRequest, `role must be "viewer" or "publisher"`)
	}
	tok, expires, err := s.frames.Tokens.Issue(code, u.ID, wire.Role(role))
	if err != nil {
		return err
	}
	addr := publicFrameAddr(s.frames.Addr(), c.Hostname())
	out := fiber.Map{"role": role, "room": code, "token": tok, "addr": addr,
		"expires": expires.UnixMilli()}
	if addr != "" {
		if role == string(wire.RolePublisher) {
			out["command"] = "watchparty publish --server " + addr + " --room " + code + " --token " + tok + " camera:0"
		} else {
			out["command"] = "watchparty view --server " + addr + " --room " + code + " --token " + tok + " --out ./frames"
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// publicFrameAddr is the frame listener's address as a member's computer
// should dial it: a listener on every interface is reached at the host
// name the member used for the web page.
func publicFrameAddr(listen, requestHost string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return listen
	}
	h := requestHost
	if hh, _, err := net.SplitHostPort(requestHost); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "" {
		return listen
	}
	return net.JoinHostPort(h, port)
}

// frameRelay sends a room's frames to a browser: each frame is one binary
// websocket message holding the frame protocol's frame message unchanged
// (docs/protocol.md, "Frames in the browser"). The handler goroutine writes;
// a reader goroutine only watches for the browser leaving.
func (s *Server) frameRelay(conn *websocket.Conn) {
	// The server keeps hijacked connections open (server.go).
	defer conn.Close()
	u, _ := conn.Locals("user").(*account.User)
	code, _ := conn.Locals("room").(string)
	if u == nil || code == "" {
		return
	}
	closeWith := func(status int, text string) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(status, text), time.Now().Add(time.Second))
	}
	ip := limit.AddrKey(conn.IP()) // IPv6: the /64
	if !s.rooms.acquireIP(ip, s.cfg.Limits.ConnsPerIP) {
		closeWith(websocket.ClosePolicyViolation, "too_many_connections")
		return
	}
	defer s.rooms.releaseIP(ip)
	session := ""
	if tok, _ := conn.Locals("session").(string); tok != "" {
		session = account.SessionID(tok)
	}
	quit, entry, ok := s.relays.add(u.ID, session, code)
	if !ok {
		closeWith(websocket.CloseGoingAway, "shutdown")
		return
	}
	defer s.relays.remove(quit)
	nc := conn.NetConn()
	v, err := s.frames.Hub.Subscribe(code, frames.ViewerOptions{
		Name:   u.ID + "@web",
		Member: u.ID,
		// A stalled browser: wake the writer blocked on it.
		OnKick: func() { _ = nc.SetWriteDeadline(time.Unix(1, 0)) },
	})
	if err != nil {
		status, text := websocket.CloseTryAgainLater, "full"
		if errors.Is(err, frames.ErrHubClosed) {
			status, text = websocket.CloseGoingAway, "shutdown"
		}
		closeWith(status, text)
		return
	}
	defer v.Close()

	readDone := make(chan struct{})
	conn.SetReadLimit(512)
	go func() {
		defer close(readDone)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(2*relayPing + 10*time.Second))
			if _, _, err := conn.ReadMessage(); err != nil {
				v.Close()
				return
			}
		}
	}()
	defer func() {
		// The connection goes back to a pool when this handler returns:
		// the reader must be gone by then.
		_ = nc.SetReadDeadline(time.Unix(1, 0))
		<-readDone
	}()

	wt := s.frames.Hub.Options().StallTimeout
	err = v.Drain(relaySink{conn: conn, timeout: wt}, frames.DrainOptions{Stop: quit, PingEvery: relayPing,
		Ping: func() error { return conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wt)) }})
	switch {
	case errors.Is(err, frames.ErrDrainStopped):
		if entry.reason == "shutdown" {
			closeWith(websocket.CloseGoingAway, "shutdown")
		} else {
			closeWith(websocket.ClosePolicyViolation, entry.reason)
		}
	case errors.Is(err, frames.ErrStreamEnded):
		closeWith(websocket.CloseNormalClosure, "ended")
	case errors.Is(err, frames.ErrStalled):
		closeWith(websocket.CloseTryAgainLater, "stalled")
	case errors.Is(err, frames.ErrRevoked):
		closeWith(websocket.ClosePolicyViolation, "revoked")
	case errors.Is(err, frames.ErrHubClosed):
		closeWith(websocket.CloseGoingAway, "shutdown")
	}
}

// relaySink writes each frame as one binary websocket message, within the
// stall timeout.
type relaySink struct {
	conn    *websocket.Conn
	timeout time.Duration
}

func (r relaySink) WriteFrame(p *frames.Packet) error {
	_ = r.conn.NetConn().SetWriteDeadline(time.Now().Add(r.timeout))
	return r.conn.WriteMessage(websocket.BinaryMessage, p.Wire)
}
