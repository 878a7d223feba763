// Package wire implements the watchparty frame protocol: a one-line text
// handshake followed by length-prefixed binary messages (frames, heartbeats
// and a close reason). Both ends of the protocol live here so the server, the
// command-line tools and the tests speak exactly the same bytes.
//
// The specification is docs/frames.md.
package wire

import (
	"errors"
	"time"
)

// Version is the protocol version this package speaks.
const Version = 1

// Magic is the protocol name that starts a handshake line.
const Magic = "WPFRAMES"

// Limits and defaults.
const (
	// DefaultMaxPayload is the largest frame payload accepted by default.
	DefaultMaxPayload = 8 << 20
	// MaxHandshakeLine is the longest handshake or reply line, newline included.
	MaxHandshakeLine = 1024
	// MaxCloseText is the longest close reason text in bytes.
	MaxCloseText = 256
	// MaxDimension is the largest width or height a frame may declare.
	MaxDimension = 1<<16 - 1
)

// Message types.
const (
	TypeFrame     byte = 1
	TypeHeartbeat byte = 2
	TypeClose     byte = 3
)

// Layout sizes in bytes.
const (
	// LengthSize is the size of the length prefix of every message.
	LengthSize = 4
	// FrameHeaderSize is the fixed part of a frame body after the type byte:
	// sequence (8), capture time (8), width (2), height (2), codec (1).
	FrameHeaderSize = 21
	// FramePrefixSize is everything in a frame message before the payload.
	FramePrefixSize = LengthSize + 1 + FrameHeaderSize
	heartbeatBody   = 8
	closeFixed      = 2
)

// Codec names the encoding of a frame payload.
type Codec byte

// Known codecs.
const (
	CodecJPEG Codec = 1
)

func (c Codec) String() string {
	if c == CodecJPEG {
		return "jpeg"
	}
	return "unknown"
}

// CloseCode says why a connection ends.
type CloseCode uint16

// Close codes.
const (
	CloseNormal     CloseCode = 0  // the peer is done
	CloseShutdown   CloseCode = 1  // the server is stopping
	CloseProtocol   CloseCode = 2  // malformed or unexpected message
	CloseTooLarge   CloseCode = 3  // a message exceeded the size limit
	CloseTimeout    CloseCode = 4  // nothing received within the read deadline
	CloseStalled    CloseCode = 5  // the viewer did not keep up
	CloseEnded      CloseCode = 6  // the stream stopped
	CloseBadFrame   CloseCode = 7  // a frame with bad dimensions or codec
	CloseInternal   CloseCode = 8  // the server failed
	CloseReplaced   CloseCode = 9  // another publisher took over
	CloseRevoked    CloseCode = 10 // the member's access was withdrawn
	closeCodeLimits CloseCode = 11
)

func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal"
	case CloseShutdown:
		return "shutdown"
	case CloseProtocol:
		return "protocol-error"
	case CloseTooLarge:
		return "too-large"
	case CloseTimeout:
		return "timeout"
	case CloseStalled:
		return "stalled"
	case CloseEnded:
		return "ended"
	case CloseBadFrame:
		return "bad-frame"
	case CloseInternal:
		return "internal"
	case CloseReplaced:
		return "replaced"
	case CloseRevoked:
		return "revoked"
	}
	return "unknown"
}

// Errors returned by the decoder and the handshake functions.
var (
	ErrTooLarge       = errors.New("wire: message exceeds size limit")
	ErrEmptyMessage   = errors.New("wire: empty message")
	ErrUnknownType    = errors.New("wire: unknown message type")
	ErrMalformed      = errors.New("wire: malformed message")
	ErrBadDimensions  = errors.New("wire: bad frame dimensions")
	ErrUnknownCodec   = errors.New("wire: unknown codec")
	ErrLineTooLong    = errors.New("wire: handshake line too long")
	ErrBadHandshake   = errors.New("wire: malformed handshake")
	ErrBadVersion     = errors.New("wire: unsupported protocol version")
	ErrBadRole        = errors.New("wire: unknown role")
	ErrBadRoom        = errors.New("wire: bad room code")
	ErrCloseTextLong  = errors.New("wire: close text too long")
	ErrPayloadTooLong = errors.New("wire: payload exceeds size limit")
)

// Frame is one picture on the wire.
type Frame struct {
	Seq      uint64
	Captured time.Time // carried with microsecond precision
	Width    int
	Height   int
	Codec    Codec
	Payload  []byte
}

// Close is the last message of a connection.
type Close struct {
	Code CloseCode
	Text string
}

// Message is one decoded message. Only the field matching Type is set.
type Message struct {
	Type      byte
	Frame     Frame     // TypeFrame; Payload aliases the decoder's buffer
	Heartbeat time.Time // TypeHeartbeat: the sender's clock
	Close     Close     // TypeClose
}

// UnixMicro converts t to the wire's capture time, zero staying zero.
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUnixMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
