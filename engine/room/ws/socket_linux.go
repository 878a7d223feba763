package ws

import "syscall"

// waitReadable parks until the socket has data to read (or its peer closed
// it, or it failed), without reading: the poller wakes the goroutine, and a
// one-byte peek tells data from a spurious wake-up.
func waitReadable(rc syscall.RawConn) error {
	return rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR //nolint:errorlint // raw errno from the syscall
	})
}
