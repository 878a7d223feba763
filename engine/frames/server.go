package frames

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"watchparty/engine/frames/source"
	"watchparty/engine/frames/token"
	"watchparty/engine/frames/wire"
)

// Defaults of ServerOptions.
const (
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	lingerTime               = 500 * time.Millisecond
	lingerBytes              = 64 << 10
	viewerMaxPayload         = wire.MaxCloseText // viewers send no frames; room for a close message
)

// Errors of the server.
var (
	ErrNoHub           = errors.New("frames: server needs a hub")
	ErrNoGate          = errors.New("frames: server needs a gate that admits handshakes")
	ErrTooManyConns    = errors.New("frames: too many connections from this address")
	ErrUnexpectedFrame = errors.New("frames: viewers may not send frames")
)

// Gate admits a handshake: it checks the token for the room and role (and
// whatever else decides who may connect) and returns who connects.
// *Access is one.
type Gate interface {
	Admit(ctx context.Context, tok, room string, role wire.Role) (subject string, err error)
}

// ServerOptions configure a Server. Zero durations take the defaults.
type ServerOptions struct {
	Hub    *Hub
	Gate   Gate
	Logger *slog.Logger
	// MaxPixels refuses publisher frames whose JPEG header announces more
	// pixels (0: source.DefaultMaxSourcePixels): every viewer decodes what
	// a publisher sends.
	MaxPixels int

	// HandshakeTimeout bounds the time a client has to send its handshake
	// line from the moment it connects (slow senders are refused).
	HandshakeTimeout time.Duration
	// HeartbeatInterval is how often the server sends a heartbeat, and
	// how often it asks clients to send theirs.
	HeartbeatInterval time.Duration
	// ReadTimeout closes a connection that sent nothing for this long
	// (3 heartbeat intervals).
	ReadTimeout time.Duration
	// WriteTimeout bounds every write (the hub's stall timeout).
	WriteTimeout time.Duration
	// MaxPayload is the largest frame a publisher may send (the hub's).
	MaxPayload int
	// Admit, when set, is asked before anything is read from a new
	// connection; an error refuses it with "too-many-connections". The
	// returned release func is called when the connection ends.
	// IPLimiter.Admit is one implementation.
	Admit func(remote net.Addr) (release func(), err error)
	// WriteBuffer, when positive, sets the socket send buffer of viewer
	// connections (tests use a small one to show stalls quickly).
	WriteBuffer int
}

// Server accepts viewers and remote publishers over TCP.
type Server struct {
	opts ServerOptions
	log  *slog.Logger

	conns    atomic.Int64
	accepted atomic.Uint64
	refused  atomic.Uint64
	// refusals keeps bad handshakes from flooding the log (logonce.go).
	refusals refusalLog
}

// ServerStats are the server's connection counters.
type ServerStats struct {
	Open     int64  // connections being served
	Accepted uint64 // handshakes accepted
	Refused  uint64 // handshakes refused
}

// NewServer checks opts and returns a server.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Hub == nil {
		return nil, ErrNoHub
	}
	if opts.Gate == nil {
		return nil, ErrNoGate
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = source.DefaultMaxSourcePixels
	}
	hopts := opts.Hub.Options()
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 3 * opts.HeartbeatInterval
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = hopts.StallTimeout
	}
	if opts.MaxPayload <= 0 || opts.MaxPayload > hopts.MaxPayload {
		opts.MaxPayload = hopts.MaxPayload
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log}, nil
}

// Stats returns the server's connection counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Open: s.conns.Load(), Accepted: s.accepted.Load(), Refused: s.refused.Load()}
}

// Serve accepts connections on ln until ctx ends, then closes ln, tells every
// connection the server is stopping, and returns once all of them are gone.
// It returns nil after ctx ends, or the listener's error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("frame server accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("frames: accept: %w", err)
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, c)
		}()
	}
}

// refusal maps a handshake or admission error to an ERR code.
func refusal(err error) string {
	switch {
	case errors.Is(err, wire.ErrBadVersion), errors.Is(err, token.ErrBadVersion):
		return wire.RefuseBadVersion
	case errors.Is(err, wire.ErrLineTooLong):
		return wire.RefuseLineTooLong
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wire.RefuseTimeout
	case errors.Is(err, token.ErrExpired):
		return wire.RefuseExpired
	case errors.Is(err, token.ErrWrongRoom):
		return wire.RefuseWrongRoom
	case errors.Is(err, token.ErrWrongRole):
		return wire.RefuseWrongRole
	case errors.Is(err, token.ErrBadToken), errors.Is(err, token.ErrLifetime):
		return wire.RefuseBadToken
	case errors.Is(err, ErrTokenRevoked):
		return wire.RefuseRevoked
	case errors.Is(err, ErrForbidden):
		return wire.RefuseForbidden
	case errors.Is(err, ErrTooManyStreams):
		return wire.RefuseTooManyStreams
	case errors.Is(err, ErrTooManyViewers):
		return wire.RefuseFull
	case errors.Is(err, ErrStreamBusy):
		return wire.RefuseBusy
	case errors.Is(err, ErrTooManyConns):
		return wire.RefuseTooManyConns
	case errors.Is(err, ErrHubClosed):
		return wire.RefuseUnavailable
	case errors.Is(err, wire.ErrBadHandshake), errors.Is(err, wire.ErrBadRole), errors.Is(err, wire.ErrBadRoom):
		return wire.RefuseBadRequest
	}
	return wire.RefuseInternal
}

// refusalText is the part of the reason a client may see.
func refusalText(code string) string {
	switch code {
	case wire.RefuseBadVersion:
		return "this server speaks " + wire.Magic + "/" + strconv.Itoa(wire.Version)
	case wire.RefuseLineTooLong:
		return "handshake line longer than " + strconv.Itoa(wire.MaxHandshakeLine) + " bytes"
	case wire.RefuseTimeout:
		return "no handshake line in time"
	case wire.RefuseExpired:
		return "token expired; ask the room for a new one"
	case wire.RefuseWrongRoom:
		return "token was issued for another room"
	case wire.RefuseWrongRole:
		return "token was issued for another role"
	case wire.RefuseBadToken:
		return "invalid token"
	case wire.RefuseFull:
		return "the stream has as many viewers as it allows"
	case wire.RefuseBusy:
		return "the room already has a publisher"
	case wire.RefuseTooManyConns:
		return "too many connections from your address"
	case wire.RefuseUnavailable:
		return "the server is stopping"
	case wire.RefuseRevoked:
		return "token revoked: your access to this room changed; ask the room for a new one"
	case wire.RefuseForbidden:
		return "you are not a member of this room, or may not stream to it"
	case wire.RefuseTooManyStreams:
		return "too many streams run on this server, or by you"
	case wire.RefuseBadRequest:
		return "malformed handshake; expected: " + wire.Magic + "/" + strconv.Itoa(wire.Version) + " viewer|publisher ROOM TOKEN"
	}
	return "internal error"
}

func (s *Server) refuse(c net.Conn, err error) {
	code := refusal(err)
	s.refused.Add(1)
	if ok, more := s.refusals.take(c.RemoteAddr()); ok {
		s.log.Info("frame connection refused", "remote", c.RemoteAddr(), "code", code, "err", err, "not_logged_since", more)
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if wire.WriteErr(c, code, refusalText(code)) == nil {
		linger(c)
	}
}

// linger half-closes c and discards what the peer still sends for a moment,
// so the peer reads our last words instead of a connection reset.
func linger(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c, lingerBytes)
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	s.conns.Add(1)
	defer s.conns.Add(-1)
	defer c.Close()
	if s.opts.Admit != nil {
		release, err := s.opts.Admit(c.RemoteAddr())
		if err != nil {
			s.refuse(c, err)
			return
		}
		if release != nil {
			defer release()
		}
	}
	// Reading the handshake must not outlive the server.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	c.SetReadDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	br := bufio.NewReaderSize(c, 16<<10)
	line, err := wire.ReadLine(br, wire.MaxHandshakeLine)
	if !stop() {
		s.refuse(c, ErrHubClosed)
		return
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return
		}
		s.refuse(c, err)
		return
	}
	hello, err := wire.ParseHello(line)
	if err != nil {
		s.refuse(c, err)
		return
	}
	subject, err := s.opts.Gate.Admit(ctx, hello.Token, hello.Room, hello.Role)
	if err != nil {
		s.refuse(c, err)
		return
	}
	log := s.log.With("remote", c.RemoteAddr().String(), "room", hello.Room, "role", string(hello.Role), "subject", subject)
	sess := &session{srv: s, c: c, br: br, log: log, quit: make(chan wire.Close, 1), writerDone: make(chan struct{})}
	switch hello.Role {
	case wire.RoleViewer:
		s.serveViewer(ctx, sess, hello.Room, subject)
	case wire.RolePublisher:
		s.servePublisher(ctx, sess, hello.Room, subject)
	}
}

// session is one accepted connection: this goroutine reads, one writer
// goroutine owns every write.
type session struct {
	srv        *Server
	c          net.Conn
	br         *bufio.Reader
	log        *slog.Logger
	quit       chan wire.Close // reader -> writer: end with this close message
	writerDone chan struct{}
}

func (s *Server) okParams() map[string]string {
	return map[string]string{
		wire.ParamHeartbeatMS: strconv.FormatInt(s.opts.HeartbeatInterval.Milliseconds(), 10),
		wire.ParamTimeoutMS:   strconv.FormatInt(s.opts.ReadTimeout.Milliseconds(), 10),
		wire.ParamMaxPayload:  strconv.Itoa(s.opts.MaxPayload),
	}
}

func (ss *session) accept() error {
	ss.c.SetWriteDeadline(time.Now().Add(ss.srv.opts.WriteTimeout))
	if err := wire.WriteOK(ss.c, ss.srv.okParams()); err != nil {
		return err
	}
	ss.srv.accepted.Add(1)
	ss.log.Info("frame connection accepted")
	return nil
}

// closeFor maps the reason a session ends to a close message.
func closeFor(err error) wire.Close {
	switch {
	case errors.Is(err, ErrStreamEnded):
		return wire.Close{Code: wire.CloseEnded, Text: "the stream ended"}
	case errors.Is(err, ErrStalled):
		return wire.Close{Code: wire.CloseStalled, Text: "too slow to receive frames"}
	case errors.Is(err, ErrHubClosed), errors.Is(err, context.Canceled):
		return wire.Close{Code: wire.CloseShutdown, Text: "server stopping"}
	case errors.Is(err, ErrRevoked):
		return wire.Close{Code: wire.CloseRevoked, Text: "your access to this room's stream was withdrawn"}
	case errors.Is(err, ErrIdle):
		return wire.Close{Code: wire.CloseEnded, Text: "the stream stopped: nobody watched it"}
	case errors.Is(err, source.ErrTooManyPixels):
		return wire.Close{Code: wire.CloseBadFrame, Text: "picture larger than the server accepts"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return wire.Close{Code: wire.CloseTimeout, Text: "nothing received in time"}
	case errors.Is(err, wire.ErrTooLarge), errors.Is(err, wire.ErrPayloadTooLong):
		return wire.Close{Code: wire.CloseTooLarge, Text: "message too large"}
	case errors.Is(err, wire.ErrBadDimensions), errors.Is(err, wire.ErrUnknownCodec), errors.Is(err, source.ErrBadJPEG):
		return wire.Close{Code: wire.CloseBadFrame, Text: "bad frame"}
	case errors.Is(err, wire.ErrEmptyMessage), errors.Is(err, wire.ErrUnknownType), errors.Is(err, wire.ErrMalformed),
		errors.Is(err, ErrUnexpectedFrame), errors.Is(err, io.ErrUnexpectedEOF):
		return wire.Close{Code: wire.CloseProtocol, Text: "protocol error"}
	case err == nil, errors.Is(err, ErrViewerClosed):
		return wire.Close{Code: wire.CloseNormal, Text: "bye"}
	}
	return wire.Close{Code: wire.CloseInternal, Text: "internal error"}
}

// readLoop reads client messages until the peer leaves or errs, and hands
// frames to onFrame (nil: frames are a protocol error). It returns the
// close message to send, or ok=false when nothing should be sent.
func (ss *session) readLoop(maxPayload int, onFrame func(*wire.Frame) error) (wire.Close, bool) {
	dec := wire.NewDecoder(ss.br, maxPayload)
	var m wire.Message
	for {
		ss.c.SetReadDeadline(time.Now().Add(ss.srv.opts.ReadTimeout))
		err := dec.Decode(&m)
		if err == nil {
			switch m.Type {
			case wire.TypeHeartbeat:
				continue
			case wire.TypeClose:
				ss.log.Info("peer closed", "code", m.Close.Code.String(), "text", m.Close.Text)
				return wire.Close{}, false
			case wire.TypeFrame:
				if onFrame == nil {
					err = ErrUnexpectedFrame
				} else {
					err = onFrame(&m.Frame)
				}
			}
			if err == nil {
				continue
			}
		}
		select {
		case <-ss.writerDone:
			return wire.Close{}, false // the writer ended the session
		default:
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return wire.Close{}, false
		}
		ss.log.Info("frame connection read", "err", err)
		return closeFor(err), true
	}
}

// endReader is called by the writer when it ends the session first: the
// reader gets a short grace period to see the peer's close.
func (ss *session) endReader() {
	ss.c.SetReadDeadline(time.Now().Add(lingerTime))
}

// writeClose sends the last message and half-closes the connection.
func (ss *session) writeClose(enc *wire.Encoder, cl wire.Close) {
	ss.c.SetWriteDeadline(time.Now().Add(time.Second))
	if enc.WriteClose(cl.Code, cl.Text) == nil {
		if tc, ok := ss.c.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		}
	}
}

func (s *Server) serveViewer(ctx context.Context, ss *session, room, subject string) {
	c := ss.c
	if s.opts.WriteBuffer > 0 {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetWriteBuffer(s.opts.WriteBuffer)
		}
	}
	v, err := s.opts.Hub.Subscribe(room, ViewerOptions{
		Name:   subject + "@" + c.RemoteAddr().String(),
		Member: subject,
		OnKick: func() { c.Close() },
	})
	if err != nil {
		s.refuse(c, err)
		return
	}
	defer v.Close()
	if err := ss.accept(); err != nil {
		return
	}
	// The writer stops when the server does, or when the reader has a
	// close message for it (ss.quit).
	stop := make(chan struct{})
	halt := sync.OnceFunc(func() { close(stop) })
	defer context.AfterFunc(ctx, halt)()
	go ss.viewerWriter(ctx, v, stop)
	cl, send := ss.readLoop(viewerMaxPayload, nil)
	if send {
		ss.quit <- cl
		halt()
	} else {
		v.Close()
	}
	<-ss.writerDone
	st := v.Stats()
	ss.log.Info("viewer left", "sent", st.Sent, "dropped", st.Dropped, "reason", v.Err())
}

// viewerWriter writes v's frames and heartbeats until the viewer closes,
// its connection fails, or stop closes; then it says goodbye.
func (ss *session) viewerWriter(ctx context.Context, v *Viewer, stop <-chan struct{}) {
	defer close(ss.writerDone)
	defer ss.endReader()
	sink := tcpSink{c: ss.c, enc: wire.NewEncoder(ss.c, 0), timeout: ss.srv.opts.WriteTimeout}
	err := v.Drain(sink, DrainOptions{Stop: stop, PingEvery: ss.srv.opts.HeartbeatInterval, Ping: sink.heartbeat})
	switch {
	case errors.Is(err, ErrSinkFailed):
		ss.log.Info("viewer write", "err", err)
	case errors.Is(err, ErrDrainStopped):
		select {
		case cl := <-ss.quit:
			ss.writeClose(sink.enc, cl)
		default:
			ss.writeClose(sink.enc, closeFor(ctx.Err()))
		}
	default: // the viewer closed: its frames were written
		ss.writeClose(sink.enc, closeFor(err))
	}
}

// tcpSink writes to a TCP viewer, each write within the write timeout.
type tcpSink struct {
	c       net.Conn
	enc     *wire.Encoder
	timeout time.Duration
}

func (t tcpSink) WriteFrame(p *Packet) error {
	t.c.SetWriteDeadline(time.Now().Add(t.timeout))
	return t.enc.WriteRaw(p.Wire)
}

func (t tcpSink) heartbeat() error {
	t.c.SetWriteDeadline(time.Now().Add(t.timeout))
	return t.enc.WriteHeartbeat(time.Now())
}

func (s *Server) servePublisher(ctx context.Context, ss *session, room, subject string) {
	c := ss.c
	pub, err := s.opts.Hub.Start(room, SourceInfo{Description: "remote publisher " + c.RemoteAddr().String(), Publisher: subject})
	if err != nil {
		s.refuse(c, err)
		return
	}
	defer pub.Stop()
	if err := ss.accept(); err != nil {
		return
	}
	go ss.publisherWriter(ctx, pub)
	cl, send := ss.readLoop(s.opts.MaxPayload, func(f *wire.Frame) error {
		// Viewers decode what is published: the picture's own header,
		// not the frame's, says what that costs.
		w, h, err := source.JPEGHeader(f.Payload, s.opts.MaxPixels)
		if err != nil {
			return err
		}
		if w != f.Width || h != f.Height {
			return fmt.Errorf("%w: frame says %dx%d, its JPEG %dx%d", wire.ErrBadDimensions, f.Width, f.Height, w, h)
		}
		return pub.Publish(Frame{Captured: f.Captured, Width: f.Width, Height: f.Height, Codec: f.Codec, Payload: f.Payload})
	})
	if send {
		ss.quit <- cl
	}
	pub.Stop()
	<-ss.writerDone
	ss.log.Info("publisher left", "reason", pub.Err())
}

func (ss *session) publisherWriter(ctx context.Context, pub *Publication) {
	defer close(ss.writerDone)
	defer ss.endReader()
	enc := wire.NewEncoder(ss.c, 0)
	hb := time.NewTicker(ss.srv.opts.HeartbeatInterval)
	defer hb.Stop()
	for {
		select {
		case <-hb.C:
			ss.c.SetWriteDeadline(time.Now().Add(ss.srv.opts.WriteTimeout))
			if err := enc.WriteHeartbeat(time.Now()); err != nil {
				return
			}
		case cl := <-ss.quit:
			ss.writeClose(enc, cl)
			return
		case <-pub.Done():
			select {
			case cl := <-ss.quit: // the reader's reason is the better one
				ss.writeClose(enc, cl)
			default:
				ss.writeClose(enc, closeFor(pub.Err()))
			}
			return
		case <-ctx.Done():
			ss.writeClose(enc, closeFor(ctx.Err()))
			return
		}
	}
}

// IPLimiter caps simultaneous connections per remote IP; its Admit method
// fits ServerOptions.Admit.
type IPLimiter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewIPLimiter allows up to max connections per IP.
func NewIPLimiter(max int) *IPLimiter {
	return &IPLimiter{max: max, n: make(map[string]int)}
}

// Admit counts a connection from addr or refuses it with ErrTooManyConns.
func (l *IPLimiter) Admit(addr net.Addr) (func(), error) {
	ip := addr.String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] >= l.max {
		return nil, fmt.Errorf("%w: %s", ErrTooManyConns, ip)
	}
	l.n[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.n[ip]--; l.n[ip] <= 0 {
				delete(l.n, ip)
			}
		})
	}, nil
}
