package syncplay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"watchparty/engine/room"
)

// Rooms is what the listener needs of the room service.
type Rooms interface {
	Connect(code string, u room.User, t room.Transport) (*room.Conn, error)
	Member(ctx context.Context, code, uid string) (*room.Member, error)
}

// TokenChecker checks an access token for a room; *Tokens is one.
type TokenChecker interface {
	Check(code, password string) (string, error)
}

// Options configure a Server. Zero durations and sizes take the defaults
// of config/options.go's syncplay.* keys (the app passes them).
type Options struct {
	Rooms  Rooms
	Tokens TokenChecker
	// TLS, when set, is offered to clients that ask for STARTTLS.
	TLS *tls.Config
	Log *slog.Logger
	// MaxLine bounds one protocol line.
	MaxLine int
	// HelloTimeout bounds the time from connecting to a complete Hello
	// (and the TLS handshake); IdleTimeout the time one line may take
	// once connected (a client answers every State within a second).
	HelloTimeout time.Duration
	IdleTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxConns bounds the connections open at once.
	MaxConns int
	// SeekThreshold: a player further than this from the room's position
	// is told to seek.
	SeekThreshold time.Duration
	// StateInterval is how often the server sends each client the room's
	// state (the stock server's is one second).
	StateInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxLine <= 0 {
		o.MaxLine = 16 << 10
	}
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 256
	}
	if o.SeekThreshold <= 0 {
		o.SeekThreshold = 200 * time.Millisecond
	}
	if o.StateInterval <= 0 {
		o.StateInterval = time.Second
	}
	return o
}

// Server accepts Syncplay clients and joins them to rooms.
type Server struct {
	opt Options

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
	// refused counts connections turned away before a session began.
	refused int
}

// New returns a server; Serve runs it.
func New(o Options) *Server {
	return &Server{opt: o.withDefaults(), conns: map[net.Conn]struct{}{}, sessions: map[*session]struct{}{}}
}

// Serve accepts connections on ln until ctx ends, then tells every client
// the server is going away, closes the connections and waits for them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			break
		}
		if !s.track(c) {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(ErrorLine("the server has too many native players connected; try again later"))
			_ = c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(c)
		}()
	}
	s.shutdown()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("syncplay: accepting: %w", err)
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.opt.MaxConns {
		s.refused++
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// shutdown ends every connection: sessions get an Error line first.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	inSession := map[net.Conn]bool{}
	for se := range s.sessions {
		sessions = append(sessions, se)
		inSession[se.raw] = true
	}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		if !inSession[c] {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, se := range sessions {
		se.Close("shutdown", "The server is shutting down.")
	}
	for _, c := range conns {
		// Connections still in their handshake.
		_ = c.SetReadDeadline(time.Now())
	}
	s.wg.Wait()
}

// Live is the number of open connections.
func (s *Server) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// handle runs one connection: the handshake, then the session.
func (s *Server) handle(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(s.opt.HelloTimeout))
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		// Shut down between Accept and here: the deadline just set would
		// outlive shutdown's.
		return
	}
	lr := NewLineReader(c, s.opt.MaxLine)
	var conn net.Conn = c
	for {
		line, err := lr.ReadLine()
		if err != nil {
			switch {
			case errors.Is(err, ErrLineTooLong):
				s.refuse(conn, "line too long")
			case isTimeout(err):
				s.refuse(conn, "timed out waiting for Hello")
			}
			return
		}
		if len(line) == 0 {
			continue
		}
		m, err := DecodeClient(line)
		if err != nil {
			s.refuse(conn, "expected a Hello: "+err.Error())
			return
		}
		switch {
		case m.TLS != nil && m.Hello == nil:
			if *m.TLS != "send" || s.opt.TLS == nil || conn != c {
				if !write(conn, Encode("TLS", map[string]string{"startTLS": "false"})) {
					return
				}
				continue
			}
			if !write(conn, Encode("TLS", map[string]string{"startTLS": "true"})) {
				return
			}
			tc := tls.Server(c, s.opt.TLS)
			if err := tc.Handshake(); err != nil {
				s.opt.Log.Debug("syncplay TLS handshake failed", "addr", c.RemoteAddr().String(), "err", err)
				return
			}
			conn = tc
			lr = NewLineReader(tc, s.opt.MaxLine)
		case m.Hello != nil:
			s.hello(c, conn, lr, m.Hello)
			return
		default:
			// Garbage before Hello: the stock server answers the same.
			s.refuse(conn, "not logged in: send Hello first")
			return
		}
	}
}

// refuse sends an Error line and lets the caller close the connection.
func (s *Server) refuse(c net.Conn, text string) {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(ErrorLine(text))
}

// Refused counts connections turned away before joining a room.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func write(c net.Conn, b []byte) bool {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write(b)
	return err == nil
}

// hello checks the room and the access token, then runs the session on
// c (raw itself, or TLS over it).
func (s *Server) hello(raw, c net.Conn, lr *LineReader, h *Hello) {
	if h.Username == "" || h.Room == "" || h.Version == "" {
		s.refuse(c, "Hello needs a user name, a room and a version")
		return
	}
	code, ok := room.NormalizeCode(h.Room)
	if !ok {
		s.refuse(c, "no room has this code: the room name is the room's code, as the room page shows it")
		return
	}
	if h.Password == "" {
		s.refuse(c, "a password is needed: copy the command from the room page (Join with mpv/VLC)")
		return
	}
	uid, err := s.opt.Tokens.Check(code, h.Password)
	if err != nil {
		s.refuse(c, "wrong password: the access token is not valid for this room (it may have expired); copy a new command from the room page")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	m, err := s.opt.Rooms.Member(ctx, code, uid)
	cancel()
	if err != nil {
		s.refuse(c, err.Error())
		return
	}
	se := newSession(s, c, lr, code, h)
	se.raw = raw
	u := room.User{ID: m.ID, Name: m.Name, Guest: m.Guest, Native: true, Expires: m.Expires}
	if !s.add(se) {
		s.refuse(c, "the server is shutting down")
		return
	}
	defer s.remove(se)
	rc, err := s.opt.Rooms.Connect(code, u, se)
	if err != nil {
		s.refuse(c, err.Error())
		return
	}
	s.opt.Log.Info("native player joined", "room", code, "user", m.ID, "client", h.Version)
	se.run(rc)
	rc.Leave()
	s.opt.Log.Info("native player left", "room", code, "user", m.ID)
}

func (s *Server) add(se *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[se] = struct{}{}
	return true
}

func (s *Server) remove(se *session) {
	s.mu.Lock()
	delete(s.sessions, se)
	s.mu.Unlock()
}
