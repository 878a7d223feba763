package rtc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Frames travel as one or more data channel messages. Each message starts
// with an 8-byte header, big endian:
//
//	uint32 frame sequence (per channel, starts at 1, wraps)
//	uint16 chunk index (0-based)
//	uint16 chunk count (>= 1)
//
// followed by the chunk's bytes. A message is at most MaxMessageSize bytes,
// which every browser accepts; a frame is the concatenation of its chunks in
// index order. The channel is unordered and unreliable: a frame with a
// missing chunk is discarded by the receiver when a newer frame starts.
const (
	ChunkHeaderSize = 8
	MaxMessageSize  = 64 * 1024
	MaxChunkPayload = MaxMessageSize - ChunkHeaderSize
	// MaxFrameSize is the largest frame a sink sends.
	MaxFrameSize = 16 << 20
)

// Errors of FrameSink.WriteFrame.
var (
	// ErrSinkClosed: the data channel or its peer closed.
	ErrSinkClosed = errors.New("rtc: frames channel closed")
	// ErrFrameSize: the frame is empty or larger than MaxFrameSize.
	ErrFrameSize = errors.New("rtc: frame size out of range")
)

// FrameSink writes frames to one member's "frames" data channel. It keeps
// no frame of its own: WriteFrame waits while the channel's buffered amount
// is above the high-water mark, and the caller (the frames drain loop)
// keeps the newest frames meanwhile.
type FrameSink struct {
	room, member string
	dc           *webrtc.DataChannel
	high         uint64
	stat         *counters

	kick      chan struct{} // the buffered amount fell low
	done      chan struct{}
	closeOnce sync.Once

	mu  sync.Mutex // one write at a time
	seq uint32

	sent, dropped atomic.Uint64
}

func newFrameSink(room, member string, dc *webrtc.DataChannel, high uint64, stat *counters) *FrameSink {
	f := &FrameSink{
		room: room, member: member, dc: dc, high: high, stat: stat,
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	dc.SetBufferedAmountLowThreshold(high / 2)
	dc.OnBufferedAmountLow(func() {
		// Runs inside the SCTP stack: only wake a waiting writer.
		select {
		case f.kick <- struct{}{}:
		default:
		}
	})
	return f
}

// Room and Member name the viewer.
func (f *FrameSink) Room() string   { return f.room }
func (f *FrameSink) Member() string { return f.member }

// Done is closed when the data channel or the peer closes.
func (f *FrameSink) Done() <-chan struct{} { return f.done }

// Sent and Dropped count frames: written, and refused or failed.
func (f *FrameSink) Sent() uint64    { return f.sent.Load() }
func (f *FrameSink) Dropped() uint64 { return f.dropped.Load() }

// WriteFrame sends one encoded frame. While the channel's buffered amount
// is above the high-water mark it waits for the channel to drain, until
// deadline (then it returns an error wrapping os.ErrDeadlineExceeded) or
// until the channel closes (ErrSinkClosed). b is shared, not copied: the
// caller must not modify it afterwards (the hub encodes a frame once for
// every viewer and never changes it).
func (f *FrameSink) WriteFrame(b []byte, deadline time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(b) == 0 || len(b) > MaxFrameSize {
		f.drop()
		return fmt.Errorf("%w: %d bytes", ErrFrameSize, len(b))
	}
	if err := f.waitRoom(deadline); err != nil {
		f.drop()
		return err
	}
	f.seq++
	for _, m := range chunkFrame(f.seq, b) {
		if err := f.dc.Send(m); err != nil {
			f.drop()
			return fmt.Errorf("%w: %w", ErrSinkClosed, err)
		}
	}
	f.sent.Add(1)
	f.stat.framesSent.Add(1)
	f.stat.frameBytes.Add(uint64(len(b)))
	return nil
}

// waitRoom waits until the buffered amount is at most the high-water mark.
func (f *FrameSink) waitRoom(deadline time.Time) error {
	var timeout <-chan time.Time
	for {
		select {
		case <-f.done:
			return ErrSinkClosed
		default:
		}
		if f.dc.BufferedAmount() <= f.high {
			return nil
		}
		if timeout == nil {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-f.kick:
		case <-f.done:
			return ErrSinkClosed
		case <-timeout:
			return fmt.Errorf("rtc: frames channel congested: %w", os.ErrDeadlineExceeded)
		}
	}
}

func (f *FrameSink) drop() {
	f.dropped.Add(1)
	f.stat.framesDropped.Add(1)
}

func (f *FrameSink) close() {
	f.closeOnce.Do(func() { close(f.done) })
}

// chunkFrame splits a frame into data channel messages.
func chunkFrame(seq uint32, b []byte) [][]byte {
	count := (len(b) + MaxChunkPayload - 1) / MaxChunkPayload
	if count == 0 {
		count = 1
	}
	out := make([][]byte, 0, count)
	for i := 0; i < count; i++ {
		part := b[i*MaxChunkPayload : min(len(b), (i+1)*MaxChunkPayload)]
		m := make([]byte, ChunkHeaderSize+len(part))
		binary.BigEndian.PutUint32(m[0:4], seq)
		binary.BigEndian.PutUint16(m[4:6], uint16(i))
		binary.BigEndian.PutUint16(m[6:8], uint16(count))
		copy(m[ChunkHeaderSize:], part)
		out = append(out, m)
	}
	return out
}

// Reassembler rebuilds frames from "frames" data channel messages, for Go
// receivers and tests. Browsers do the same in JavaScript (docs/webrtc.md).
type Reassembler struct {
	seq   uint32
	have  bool
	done  bool
	count int
	got   int
	size  int
	parts [][]byte
}

// Push takes one message and returns a complete frame when one is ready.
// Malformed messages and chunks of frames older than the current one are
// ignored.
func (r *Reassembler) Push(msg []byte) (frame []byte, seq uint32, ok bool) {
	if len(msg) < ChunkHeaderSize {
		return nil, 0, false
	}
	s := binary.BigEndian.Uint32(msg[0:4])
	idx := int(binary.BigEndian.Uint16(msg[4:6]))
	count := int(binary.BigEndian.Uint16(msg[6:8]))
	if count == 0 || idx >= count || count > MaxFrameSize/MaxChunkPayload+1 {
		return nil, 0, false
	}
	if r.have && s != r.seq && int32(s-r.seq) < 0 {
		return nil, 0, false
	}
	if !r.have || s != r.seq {
		r.seq, r.have, r.done = s, true, false
		r.count, r.got, r.size = count, 0, 0
		r.parts = make([][]byte, count)
	}
	if r.done || count != r.count || r.parts[idx] != nil {
		return nil, 0, false
	}
	r.parts[idx] = append([]byte(nil), msg[ChunkHeaderSize:]...)
	r.got++
	r.size += len(msg) - ChunkHeaderSize
	if r.got < r.count {
		return nil, 0, false
	}
	out := make([]byte, 0, r.size)
	for _, p := range r.parts {
		out = append(out, p...)
	}
	r.done = true
	r.parts = nil
	return out, s, true
}
