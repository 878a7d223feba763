package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// initialRead is how much of a large message the decoder reserves before the
// bytes have actually arrived; the buffer then grows with the data, so a peer
// that announces a huge message and sends nothing costs little memory.
const initialRead = 64 << 10

// Decoder reads messages from a stream. It keeps one buffer that grows up to
// the size limit and is reused for every message: a decoded frame's Payload
// is valid only until the next call to Decode.
type Decoder struct {
	r          io.Reader
	maxPayload int
	lenBuf     [LengthSize]byte
	typ        [1]byte
	buf        []byte
}

// NewDecoder returns a decoder reading from r that refuses frame payloads
// larger than maxPayload bytes (DefaultMaxPayload when maxPayload <= 0).
func NewDecoder(r io.Reader, maxPayload int) *Decoder {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Decoder{r: r, maxPayload: maxPayload}
}

// MaxPayload reports the payload limit of the decoder.
func (d *Decoder) MaxPayload() int { return d.maxPayload }

// Decode reads the next message into m. Errors from the underlying reader are
// returned as they are (io.EOF on a clean end between messages); malformed
// input yields an error wrapping one of the ErrXxx values of this package.
func (d *Decoder) Decode(m *Message) error {
	if _, err := io.ReadFull(d.r, d.lenBuf[:]); err != nil {
		return err
	}
	announced := uint64(binary.BigEndian.Uint32(d.lenBuf[:]))
	if announced == 0 {
		return ErrEmptyMessage
	}
	if limit := uint64(1 + FrameHeaderSize + d.maxPayload); announced > limit {
		return fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, announced, limit)
	}
	n := int(announced)
	typ := d.typ[:]
	if _, err := io.ReadFull(d.r, typ); err != nil {
		return unexpected(err)
	}
	body := n - 1
	switch typ[0] {
	case TypeFrame:
		if body < FrameHeaderSize {
			return fmt.Errorf("%w: frame body of %d bytes", ErrMalformed, body)
		}
	case TypeHeartbeat:
		if body != heartbeatBody {
			return fmt.Errorf("%w: heartbeat body of %d bytes", ErrMalformed, body)
		}
	case TypeClose:
		if body < closeFixed || body > closeFixed+MaxCloseText {
			return fmt.Errorf("%w: close body of %d bytes", ErrMalformed, body)
		}
	default:
		return fmt.Errorf("%w: %d", ErrUnknownType, typ[0])
	}
	b, err := d.read(body)
	if err != nil {
		return err
	}
	*m = Message{Type: typ[0]}
	switch typ[0] {
	case TypeFrame:
		return decodeFrame(b, &m.Frame)
	case TypeHeartbeat:
		m.Heartbeat = fromUnixMicro(int64(binary.BigEndian.Uint64(b)))
	case TypeClose:
		m.Close.Code = CloseCode(binary.BigEndian.Uint16(b))
		m.Close.Text = strings.ToValidUTF8(string(b[closeFixed:]), "?")
	}
	return nil
}

// read fills the reusable buffer with exactly n bytes, growing it only as
// fast as data arrives.
func (d *Decoder) read(n int) ([]byte, error) {
	if n <= cap(d.buf) {
		d.buf = d.buf[:n]
		if _, err := io.ReadFull(d.r, d.buf); err != nil {
			return nil, unexpected(err)
		}
		return d.buf, nil
	}
	d.buf = d.buf[:0]
	for len(d.buf) < n {
		if len(d.buf) == cap(d.buf) {
			c := max(2*cap(d.buf), initialRead)
			grown := make([]byte, len(d.buf), min(c, n))
			copy(grown, d.buf)
			d.buf = grown
		}
		end := min(cap(d.buf), n)
		k, err := io.ReadFull(d.r, d.buf[len(d.buf):end])
		d.buf = d.buf[:len(d.buf)+k]
		if err != nil {
			return nil, unexpected(err)
		}
	}
	return d.buf, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func decodeFrame(b []byte, f *Frame) error {
	f.Seq = binary.BigEndian.Uint64(b[0:8])
	f.Captured = fromUnixMicro(int64(binary.BigEndian.Uint64(b[8:16])))
	f.Width = int(binary.BigEndian.Uint16(b[16:18]))
	f.Height = int(binary.BigEndian.Uint16(b[18:20]))
	f.Codec = Codec(b[20])
	f.Payload = b[FrameHeaderSize:]
	if f.Width == 0 || f.Height == 0 {
		return fmt.Errorf("%w: %dx%d", ErrBadDimensions, f.Width, f.Height)
	}
	if f.Codec != CodecJPEG {
		return fmt.Errorf("%w: %d", ErrUnknownCodec, f.Codec)
	}
	return nil
}

// CheckFrame validates a frame for sending with the given payload limit.
func CheckFrame(f *Frame, maxPayload int) error {
	if f.Width <= 0 || f.Height <= 0 || f.Width > MaxDimension || f.Height > MaxDimension {
		return fmt.Errorf("%w: %dx%d", ErrBadDimensions, f.Width, f.Height)
	}
	if f.Codec != CodecJPEG {
		return fmt.Errorf("%w: %d", ErrUnknownCodec, f.Codec)
	}
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	if len(f.Payload) > maxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLong, len(f.Payload), maxPayload)
	}
	return nil
}

// PutFrameHeader writes the FramePrefixSize bytes that precede a frame's
// payload on the wire into dst, which must be at least that long.
func PutFrameHeader(dst []byte, f *Frame) {
	binary.BigEndian.PutUint32(dst[0:4], uint32(1+FrameHeaderSize+len(f.Payload)))
	dst[4] = TypeFrame
	binary.BigEndian.PutUint64(dst[5:13], f.Seq)
	binary.BigEndian.PutUint64(dst[13:21], uint64(unixMicro(f.Captured)))
	binary.BigEndian.PutUint16(dst[21:23], uint16(f.Width))
	binary.BigEndian.PutUint16(dst[23:25], uint16(f.Height))
	dst[25] = byte(f.Codec)
}

// AppendFrame appends the complete wire message of f to dst. It is how a
// frame is encoded once and then written to any number of connections.
func AppendFrame(dst []byte, f *Frame, maxPayload int) ([]byte, error) {
	if err := CheckFrame(f, maxPayload); err != nil {
		return dst, err
	}
	var hdr [FramePrefixSize]byte
	PutFrameHeader(hdr[:], f)
	dst = append(dst, hdr[:]...)
	return append(dst, f.Payload...), nil
}

// AppendHeartbeat appends a heartbeat message carrying t.
func AppendHeartbeat(dst []byte, t time.Time) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 1+heartbeatBody)
	dst = append(dst, TypeHeartbeat)
	return binary.BigEndian.AppendUint64(dst, uint64(unixMicro(t)))
}

// AppendClose appends a close message; text longer than MaxCloseText is cut
// at a character boundary.
func AppendClose(dst []byte, code CloseCode, text string) []byte {
	text = clip(text, MaxCloseText)
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+closeFixed+len(text)))
	dst = append(dst, TypeClose)
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, text...)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// Encoder writes messages to a stream. Its header buffers are reused, and a
// frame's payload is handed to the writer without copying (one writev on a
// TCP connection), so writing a frame allocates nothing.
type Encoder struct {
	w          io.Writer
	maxPayload int
	hdr        [FramePrefixSize]byte
	small      [LengthSize + 1 + closeFixed + MaxCloseText]byte
	vec        [2][]byte
	bufs       net.Buffers
}

// NewEncoder returns an encoder writing to w that refuses payloads larger
// than maxPayload (DefaultMaxPayload when maxPayload <= 0).
func NewEncoder(w io.Writer, maxPayload int) *Encoder {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Encoder{w: w, maxPayload: maxPayload}
}

// WriteFrame writes one frame message.
func (e *Encoder) WriteFrame(f *Frame) error {
	if err := CheckFrame(f, e.maxPayload); err != nil {
		return err
	}
	PutFrameHeader(e.hdr[:], f)
	if len(f.Payload) == 0 {
		_, err := e.w.Write(e.hdr[:])
		return err
	}
	e.vec[0], e.vec[1] = e.hdr[:], f.Payload
	e.bufs = e.vec[:]
	_, err := e.bufs.WriteTo(e.w)
	e.vec[0], e.vec[1] = nil, nil
	return err
}

// WriteHeartbeat writes a heartbeat carrying t.
func (e *Encoder) WriteHeartbeat(t time.Time) error {
	_, err := e.w.Write(AppendHeartbeat(e.small[:0], t))
	return err
}

// WriteClose writes a close message.
func (e *Encoder) WriteClose(code CloseCode, text string) error {
	_, err := e.w.Write(AppendClose(e.small[:0], code, text))
	return err
}

// WriteRaw writes an already encoded message, such as one built with
// AppendFrame.
func (e *Encoder) WriteRaw(msg []byte) error {
	_, err := e.w.Write(msg)
	return err
}
