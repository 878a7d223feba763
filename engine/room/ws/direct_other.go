//go:build !linux

package ws

import (
	"net"
	"syscall"
)

// directConn gives no socket where writev is not at hand: every write goes
// through the connection's writer.
func directConn(net.Conn) syscall.RawConn { return nil }

// writeNow is never called without a directConn.
func writeNow(uintptr, []byte, []byte) (int, error) { return 0, nil }
