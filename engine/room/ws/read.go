package ws

import (
	"errors"
	"io"
	"sync"

	"github.com/fasthttp/websocket"

	"watchparty/engine/room/proto"
)

// freeList is a bounded stack of byte buffers shared by all connections.
// Unlike sync.Pool it is not emptied by the garbage collector, so a burst
// after a collection does not allocate a buffer per connection again.
type freeList struct {
	mu   sync.Mutex
	bufs [][]byte
	size int // capacity of new buffers
	max  int // buffers kept
	keep int // largest capacity kept
}

// pop removes the last element of *s and returns it, if there is one.
func pop[T any](s *[]T) (T, bool) {
	var zero T
	n := len(*s)
	if n == 0 {
		return zero, false
	}
	v := (*s)[n-1]
	(*s)[n-1] = zero
	*s = (*s)[:n-1]
	return v, true
}

func (f *freeList) get() []byte {
	f.mu.Lock()
	b, ok := pop(&f.bufs)
	f.mu.Unlock()
	if ok {
		return b[:0]
	}
	return make([]byte, 0, f.size)
}

func (f *freeList) put(b []byte) {
	if cap(b) > f.keep {
		return
	}
	f.mu.Lock()
	if len(f.bufs) < f.max {
		f.bufs = append(f.bufs, b[:0])
	}
	f.mu.Unlock()
}

// Free lists shared by every connection of the process, as sync.Pools
// would be.
var (
	// batchBufs hold the frames a writer assembles from queued messages.
	batchBufs = &freeList{size: 4 << 10, max: 256, keep: 256 << 10} //nolint:gochecknoglobals // shared by every connection
	// readBufs hold one incoming message while it is decoded.
	readBufs = &freeList{size: proto.MaxMessageSize + 1, max: 256, keep: proto.MaxMessageSize + 1} //nolint:gochecknoglobals // shared by every connection
)

// WriteBufferPool is a websocket.BufferPool backed by a free list; give it
// to the websocket upgrader so that idle connections hold no write buffer.
type WriteBufferPool struct {
	mu   sync.Mutex
	vals []any
}

// Get returns a pooled value or nil.
func (p *WriteBufferPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, _ := pop(&p.vals)
	return v
}

// Put keeps v for reuse (up to 256 values).
func (p *WriteBufferPool) Put(v any) {
	p.mu.Lock()
	if len(p.vals) < 256 {
		p.vals = append(p.vals, v)
	}
	p.mu.Unlock()
}

var errTooLarge = errors.New("message too large")

// readMessage reads the next text message into a buffer from readBufs; a
// message longer than MaxMessageSize and at most max bytes is read into a
// buffer of its own.
func readMessage(conn Conn, max int) ([]byte, error) {
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			return nil, err
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		buf := readBufs.get()
		buf = buf[:proto.MaxMessageSize+1]
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil && max > proto.MaxMessageSize:
			big := make([]byte, max+1)
			copy(big, buf)
			readBufs.put(buf)
			m, err := io.ReadFull(r, big[n:])
			switch {
			case err == nil:
				return nil, errTooLarge
			case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
				return big[:n+m], nil
			default:
				return nil, err
			}
		case err == nil:
			readBufs.put(buf)
			return nil, errTooLarge
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return buf[:n], nil
		default:
			readBufs.put(buf)
			return nil, err
		}
	}
}
