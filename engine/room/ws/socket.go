package ws

import (
	"bufio"
	"net"
	"syscall"

	"github.com/fasthttp/websocket"
)

// socket is an upgraded room websocket whose reader waits for data in a
// shallow frame. A goroutine's stack grows while it runs deep calls and the
// garbage collector halves it while it is parked using less than a quarter
// of it: a reader parked inside the websocket library's frame reader (a
// dozen frames down to the poller) keeps 4 KiB, one parked in awaitFrame
// goes back to the 2 KiB a goroutine starts with.
type socket struct {
	*websocket.Conn
	br *bufio.Reader   // the connection's read buffer (the upgrader reuses it)
	rc syscall.RawConn // the TCP socket; nil: no shallow wait (TLS, buffered input)
	wc syscall.RawConn // the TCP socket for direct writes (directConn); nil: none (TLS)
	lc *libConn        // what the library writes to
}

// rawConn is the socket of a TCP connection, or nil.
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// awaitFrame returns once the next frame is anything but a pong: it waits
// until the socket has data, then consumes the pongs that stand first
// (calling pong for each), which the library would handle deep in its
// frame reader and then wait there for the next frame. It is called
// between messages, where the library's reader is at a frame boundary. An
// error of the socket is left for the next read to report, except one of
// the wait (a deadline, a closed connection), which is returned.
func (s *socket) awaitFrame(pong func(string) error) error {
	for {
		if s.br.Buffered() == 0 && s.rc != nil {
			if err := waitReadable(s.rc); err != nil {
				return err
			}
		}
		h, err := s.br.Peek(2)
		// A final, unfragmented pong, masked as a client's frames are, of
		// at most 125 bytes (a control frame's limit); anything else is
		// the library's to read and to judge.
		if err != nil || h[0] != 0x80|websocket.PongMessage || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
			return nil
		}
		n := 2 + 4 + int(h[1]&0x7f)
		if _, err := s.br.Peek(n); err != nil {
			return nil
		}
		_, _ = s.br.Discard(n)
		if err := pong(""); err != nil {
			return err
		}
	}
}
