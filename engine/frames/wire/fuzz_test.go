package wire

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, must
// keep its buffer within the limit, and whatever it accepts must encode back
// to the same bytes.
func FuzzDecode(f *testing.F) {
	fr := Frame{Seq: 7, Width: 4, Height: 3, Codec: CodecJPEG, Payload: []byte{0xff, 0xd8, 0xff, 0xd9}}
	seed, _ := AppendFrame(nil, &fr, 0)
	f.Add(seed)
	f.Add(AppendHeartbeat(nil, fr.Captured))
	f.Add(AppendClose(nil, CloseEnded, "bye"))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, in []byte) {
		dec := NewDecoder(bytes.NewReader(in), limit)
		var m Message
		for range 64 {
			if err := dec.Decode(&m); err != nil {
				break
			}
			if cap(dec.buf) > 1+FrameHeaderSize+limit {
				t.Fatalf("buffer grew to %d", cap(dec.buf))
			}
			var out []byte
			switch m.Type {
			case TypeFrame:
				var err error
				if out, err = AppendFrame(nil, &m.Frame, limit); err != nil {
					t.Fatalf("accepted frame does not encode: %v", err)
				}
			case TypeHeartbeat:
				out = AppendHeartbeat(nil, m.Heartbeat)
			case TypeClose:
				out = AppendClose(nil, m.Close.Code, m.Close.Text)
			}
			var again Message
			if err := NewDecoder(bytes.NewReader(out), limit).Decode(&again); err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
			if again.Type != m.Type || again.Frame.Seq != m.Frame.Seq || !bytes.Equal(again.Frame.Payload, m.Frame.Payload) ||
				again.Close != m.Close || !again.Heartbeat.Equal(m.Heartbeat) {
				t.Fatalf("round trip changed the message: %+v vs %+v", again, m)
			}
		}
	})
}

// FuzzHandshake feeds arbitrary lines to the handshake reader and parser:
// no panic, lines over the limit refused, and an accepted hello prints back
// to the same line.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte("WPFRAMES/1 viewer ROOM tok\n"))
	f.Add([]byte("WPFRAMES/1 publisher room_2 1.abc.def\r\n"))
	f.Add([]byte("WPFRAMES/2 viewer ROOM tok\n"))
	f.Add([]byte("WPFRAMES/1 viewer\n"))
	f.Add([]byte("OK WPFRAMES/1 heartbeat_ms=5000\n"))
	f.Add([]byte("ERR expired token expired\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		line, err := ReadLine(r, 256)
		if err != nil {
			return
		}
		if len(line) >= 256 {
			t.Fatalf("line of %d bytes accepted", len(line))
		}
		_, _ = ParseReply(line)
		h, err := ParseHello(line)
		if err != nil {
			return
		}
		again, err := ParseHello([]byte(h.String()))
		if err != nil || again != h {
			t.Fatalf("hello %+v does not round trip: %+v, %v", h, again, err)
		}
	})
}
