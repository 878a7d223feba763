package ws

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directConn is the socket a broadcast may write to without the
// connection's writer (outbox.direct): a plain TCP connection's. TLS
// connections (and anything else that is not a syscall.Conn) have none.
func directConn(c net.Conn) syscall.RawConn { return rawConn(c) }

// writeNow writes hdr and body to the socket fd in one writev without
// waiting: it returns how many bytes the kernel took (maybe fewer than
// asked, none when the socket's buffer is full), or the socket's error.
//
// The socket is non-blocking, so the call returns at once: it is made
// without telling the scheduler (a raw system call). A broadcast makes one
// per member in a row, and on a server with one processor the scheduler
// would otherwise hand the processor to other goroutines during one of
// them and leave the broadcast waiting for it to come back.
func writeNow(fd uintptr, hdr, body []byte) (int, error) {
	var iov [2]unix.Iovec
	n := 0
	for _, b := range [2][]byte{hdr, body} {
		if len(b) > 0 {
			iov[n].Base = &b[0]
			iov[n].SetLen(len(b))
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		default:
			return 0, errno
		}
	}
}
