//go:build !linux

package ws

import "syscall"

// waitReadable does not wait where a socket cannot be peeked at: the reader
// waits in the library's frame reader.
func waitReadable(syscall.RawConn) error { return nil }
