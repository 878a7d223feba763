package limit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Listener bounds the connections open at once from one client address
// (its AddrKey: an IPv6 /64 counts as one). A connection over the bound is
// closed as soon as it is accepted, before the server spends a buffer on
// it. Addresses that exempt reports true for (trusted reverse proxies, which
// carry everyone's connections) are not counted.
type Listener struct {
	net.Listener
	perAddr int
	exempt  func(netip.Addr) bool

	mu      sync.Mutex
	open    map[string]int
	refused atomic.Int64
}

// NewListener wraps ln. perAddr <= 0 means no bound.
func NewListener(ln net.Listener, perAddr int, exempt func(netip.Addr) bool) *Listener {
	return &Listener{Listener: ln, perAddr: perAddr, exempt: exempt, open: map[string]int{}}
}

// Refused counts the connections closed for being over the bound.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// Accept returns the next connection within the bound.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.perAddr <= 0 {
			return c, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr != nil || (l.exempt != nil && l.exempt(ap.Addr().Unmap())) {
			return c, nil
		}
		key := AddrKey(ap.Addr().String())
		l.mu.Lock()
		if l.open[key] >= l.perAddr {
			l.mu.Unlock()
			l.refused.Add(1)
			_ = c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *Listener) release(key string) {
	l.mu.Lock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	l.mu.Unlock()
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// SyscallConn gives the socket under the connection, so that a room
// websocket's idle reader can wait for data without reading
// (engine/room/ws).
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
