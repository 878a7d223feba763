package ws

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// directConn is the socket a broadcast may write to without the
// connection's writer (outbox.direct): a plain TCP connection's. TLS
// connections (and anything else that is not a syscall.Conn) have none.
func directConn(c net.Conn) syscall.RawConn { return rawConn(c) }

// writeNow writes hdr and body to the socket fd in one writev without
// waiting: it returns how many bytes the kernel took (maybe fewer than
// asked, none when the socket's buffer is full), or the socket's error.
func writeNow(fd uintptr, hdr, body []byte) (int, error) {
	for {
		n, err := unix.Writev(int(fd), [][]byte{hdr, body})
		switch err { //nolint:errorlint // raw errno from the syscall
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		default:
			return 0, err
		}
	}
}
