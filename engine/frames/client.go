package frames

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"watchparty/engine/frames/wire"
)

// ErrClosedByServer wraps the close message a server sent.
var ErrClosedByServer = errors.New("frames: closed by server")

// CloseError is a close message received from the peer.
type CloseError struct{ Close wire.Close }

func (e *CloseError) Error() string {
	return fmt.Sprintf("closed by server: %s: %s", e.Close.Code, e.Close.Text)
}

// Is makes errors.Is(err, ErrClosedByServer) true.
func (e *CloseError) Is(target error) bool { return target == ErrClosedByServer }

// DialOptions say where and as whom to connect.
type DialOptions struct {
	Addr  string    // host:port of the frame server
	Role  wire.Role // wire.RoleViewer or wire.RolePublisher
	Room  string
	Token string
	// HandshakeTimeout bounds connecting plus the handshake (5 s).
	HandshakeTimeout time.Duration
	// MaxPayload is the largest frame accepted from the server (wire default).
	MaxPayload int
	// ReadBuffer, when positive, sets the socket receive buffer.
	ReadBuffer int
	Dialer     *net.Dialer
}

// Conn is a client connection after a successful handshake. Recv must be
// called from one goroutine; the Send methods may be called from any.
type Conn struct {
	c   net.Conn
	dec *wire.Decoder
	wmu sync.Mutex
	enc *wire.Encoder

	// From the server's OK line.
	Heartbeat  time.Duration
	Timeout    time.Duration
	MaxPayload int
}

// Dial connects and performs the handshake. A refusal is returned as a
// *wire.RefusedError (errors.Is(err, wire.ErrRefused)).
func Dial(ctx context.Context, opts DialOptions) (*Conn, error) {
	hello := wire.Hello{Version: wire.Version, Role: opts.Role, Room: opts.Room, Token: opts.Token}
	if err := hello.Check(); err != nil {
		return nil, err
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	c, err := d.DialContext(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("frames: dial %s: %w", opts.Addr, err)
	}
	if tc, ok := c.(*net.TCPConn); ok && opts.ReadBuffer > 0 {
		tc.SetReadBuffer(opts.ReadBuffer)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	conn, err := handshake(c, hello, opts.MaxPayload)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return conn, nil
}

func handshake(c net.Conn, hello wire.Hello, maxPayload int) (*Conn, error) {
	if _, err := c.Write([]byte(hello.String())); err != nil {
		return nil, fmt.Errorf("frames: send handshake: %w", err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	line, err := wire.ReadLine(br, wire.MaxHandshakeLine)
	if err != nil {
		return nil, fmt.Errorf("frames: read handshake reply: %w", err)
	}
	reply, err := wire.ParseReply(line)
	if err != nil {
		return nil, err
	}
	if maxPayload <= 0 {
		maxPayload = wire.DefaultMaxPayload
	}
	conn := &Conn{
		c:          c,
		dec:        wire.NewDecoder(br, maxPayload),
		Heartbeat:  time.Duration(reply.ParamInt(wire.ParamHeartbeatMS, int(DefaultHeartbeatInterval/time.Millisecond))) * time.Millisecond,
		Timeout:    time.Duration(reply.ParamInt(wire.ParamTimeoutMS, int(3*DefaultHeartbeatInterval/time.Millisecond))) * time.Millisecond,
		MaxPayload: reply.ParamInt(wire.ParamMaxPayload, wire.DefaultMaxPayload),
	}
	if conn.Heartbeat <= 0 {
		conn.Heartbeat = DefaultHeartbeatInterval
	}
	if conn.Timeout < conn.Heartbeat {
		conn.Timeout = 3 * conn.Heartbeat
	}
	conn.enc = wire.NewEncoder(c, conn.MaxPayload)
	return conn, nil
}

// Recv reads the next message, waiting at most the server's timeout. A close
// message from the server is returned as a *CloseError.
func (c *Conn) Recv(m *wire.Message) error {
	c.c.SetReadDeadline(time.Now().Add(c.Timeout))
	if err := c.dec.Decode(m); err != nil {
		return err
	}
	if m.Type == wire.TypeClose {
		return &CloseError{Close: m.Close}
	}
	return nil
}

// SendFrame writes one frame (publishers).
func (c *Conn) SendFrame(f *wire.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(c.Timeout))
	return c.enc.WriteFrame(f)
}

// SendHeartbeat writes a heartbeat.
func (c *Conn) SendHeartbeat() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(c.Timeout))
	return c.enc.WriteHeartbeat(time.Now())
}

// KeepAlive sends a heartbeat every server heartbeat interval until ctx ends
// or a write fails.
func (c *Conn) KeepAlive(ctx context.Context) error {
	t := time.NewTicker(c.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.SendHeartbeat(); err != nil {
				return err
			}
		}
	}
}

// CloseWith sends a close message, best effort, and closes the connection.
func (c *Conn) CloseWith(code wire.CloseCode, text string) error {
	c.wmu.Lock()
	c.c.SetWriteDeadline(time.Now().Add(time.Second))
	c.enc.WriteClose(code, text)
	c.wmu.Unlock()
	return c.c.Close()
}

// Close closes the connection without a close message.
func (c *Conn) Close() error { return c.c.Close() }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.c }
