package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf, 1024)
	captured := time.UnixMicro(1_700_000_000_123_456)
	frames := []Frame{
		{Seq: 1, Captured: captured, Width: 640, Height: 360, Codec: CodecJPEG, Payload: []byte{0xff, 0xd8, 1, 2, 3, 0xff, 0xd9}},
		{Seq: 1<<64 - 1, Width: MaxDimension, Height: 1, Codec: CodecJPEG, Payload: bytes.Repeat([]byte{7}, 1024)},
		{Seq: 3, Captured: captured, Width: 1, Height: 1, Codec: CodecJPEG},
	}
	for i := range frames {
		if err := enc.WriteFrame(&frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.WriteHeartbeat(captured); err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteClose(CloseStalled, "too slow"); err != nil {
		t.Fatal(err)
	}
	raw, err := AppendFrame(nil, &frames[0], 1024)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(raw)

	dec := NewDecoder(&buf, 1024)
	var m Message
	for i, want := range frames {
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got := m.Frame
		if m.Type != TypeFrame || got.Seq != want.Seq || !got.Captured.Equal(want.Captured) ||
			got.Width != want.Width || got.Height != want.Height || got.Codec != want.Codec || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("frame %d: got %+v want %+v", i, got, want)
		}
	}
	if err := dec.Decode(&m); err != nil || m.Type != TypeHeartbeat || !m.Heartbeat.Equal(captured) {
		t.Fatalf("heartbeat: %+v, %v", m, err)
	}
	if err := dec.Decode(&m); err != nil || m.Type != TypeClose || m.Close != (Close{Code: CloseStalled, Text: "too slow"}) {
		t.Fatalf("close: %+v, %v", m, err)
	}
	if err := dec.Decode(&m); err != nil || m.Frame.Seq != 1 || !bytes.Equal(m.Frame.Payload, frames[0].Payload) {
		t.Fatalf("appended frame: %+v, %v", m, err)
	}
	if err := dec.Decode(&m); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v, want io.EOF", err)
	}
}

func TestEncoderRefuses(t *testing.T) {
	enc := NewEncoder(io.Discard, 8)
	tests := []struct {
		name string
		f    Frame
		want error
	}{
		{name: "oversize", f: Frame{Width: 1, Height: 1, Codec: CodecJPEG, Payload: make([]byte, 9)}, want: ErrPayloadTooLong},
		{name: "zero width", f: Frame{Width: 0, Height: 1, Codec: CodecJPEG}, want: ErrBadDimensions},
		{name: "too tall", f: Frame{Width: 1, Height: MaxDimension + 1, Codec: CodecJPEG}, want: ErrBadDimensions},
		{name: "codec", f: Frame{Width: 1, Height: 1, Codec: 9}, want: ErrUnknownCodec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := enc.WriteFrame(&tc.f); !errors.Is(err, tc.want) {
				t.Fatalf("WriteFrame error = %v, want %v", err, tc.want)
			}
		})
	}
}

func msg(typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	b = append(b, typ)
	return append(b, body...)
}

func TestDecodeMalformed(t *testing.T) {
	frameBody := make([]byte, FrameHeaderSize+4)
	binary.BigEndian.PutUint16(frameBody[16:], 2)
	binary.BigEndian.PutUint16(frameBody[18:], 2)
	frameBody[20] = byte(CodecJPEG)
	zeroDim := append([]byte(nil), frameBody...)
	zeroDim[17] = 0
	badCodec := append([]byte(nil), frameBody...)
	badCodec[20] = 0
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{name: "empty message", in: []byte{0, 0, 0, 0}, want: ErrEmptyMessage},
		{name: "oversize frame", in: binary.BigEndian.AppendUint32(nil, 1+FrameHeaderSize+17), want: ErrTooLarge},
		{name: "huge length", in: []byte{0xff, 0xff, 0xff, 0xff, TypeFrame}, want: ErrTooLarge},
		{name: "unknown type", in: msg(9, nil), want: ErrUnknownType},
		{name: "short frame", in: msg(TypeFrame, make([]byte, FrameHeaderSize-1)), want: ErrMalformed},
		{name: "short heartbeat", in: msg(TypeHeartbeat, make([]byte, 7)), want: ErrMalformed},
		{name: "long close", in: msg(TypeClose, make([]byte, closeFixed+MaxCloseText+1)), limit: 1024, want: ErrMalformed},
		{name: "short close", in: msg(TypeClose, []byte{1}), want: ErrMalformed},
		{name: "zero dimension", in: msg(TypeFrame, zeroDim), want: ErrBadDimensions},
		{name: "bad codec", in: msg(TypeFrame, badCodec), want: ErrUnknownCodec},
		{name: "truncated body", in: msg(TypeFrame, frameBody)[:12], want: io.ErrUnexpectedEOF},
		{name: "truncated length", in: []byte{0, 0}, want: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit == 0 {
				tc.limit = 16
			}
			var m Message
			err := NewDecoder(bytes.NewReader(tc.in), tc.limit).Decode(&m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
		})
	}
}

// countingReader counts the bytes handed out so a test can relate the
// decoder's buffer to the data that actually arrived.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDecoderGrowsWithData(t *testing.T) {
	// A peer announces the largest allowed frame and then sends 10 bytes.
	in := binary.BigEndian.AppendUint32(nil, 1+FrameHeaderSize+DefaultMaxPayload)
	in = append(in, TypeFrame)
	in = append(in, make([]byte, 10)...)
	cr := &countingReader{r: bytes.NewReader(in)}
	dec := NewDecoder(cr, DefaultMaxPayload)
	var m Message
	if err := dec.Decode(&m); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Decode error = %v", err)
	}
	if cap(dec.buf) > initialRead {
		t.Fatalf("decoder reserved %d bytes for %d received", cap(dec.buf), cr.n)
	}
}

func TestCloseTextClipped(t *testing.T) {
	long := strings.Repeat("é", MaxCloseText) // two bytes each
	b := AppendClose(nil, CloseProtocol, long)
	var m Message
	if err := NewDecoder(bytes.NewReader(b), 0).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if len(m.Close.Text) != MaxCloseText || !strings.HasPrefix(long, m.Close.Text) {
		t.Fatalf("clipped text has %d bytes", len(m.Close.Text))
	}
}

func TestParseHello(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Hello
		err  error
	}{
		{name: "viewer", line: "WPFRAMES/1 viewer ROOM-1 tok.en\n", want: Hello{Version: 1, Role: RoleViewer, Room: "ROOM-1", Token: "tok.en"}},
		{name: "publisher crlf", line: "WPFRAMES/1 publisher abc_9 t\r\n", want: Hello{Version: 1, Role: RolePublisher, Room: "abc_9", Token: "t"}},
		{name: "version 2", line: "WPFRAMES/2 viewer ROOM tok\n", err: ErrBadVersion},
		{name: "version 2 short", line: "WPFRAMES/2\n", err: ErrBadVersion},
		{name: "other protocol", line: "GET / HTTP/1.1\n", err: ErrBadHandshake},
		{name: "no version", line: "WPFRAMES viewer ROOM tok\n", err: ErrBadHandshake},
		{name: "bad role", line: "WPFRAMES/1 admin ROOM tok\n", err: ErrBadRole},
		{name: "bad room", line: "WPFRAMES/1 viewer RO/OM tok\n", err: ErrBadRoom},
		{name: "long room", line: "WPFRAMES/1 viewer " + strings.Repeat("a", MaxRoomLen+1) + " tok\n", err: ErrBadRoom},
		{name: "missing token", line: "WPFRAMES/1 viewer ROOM\n", err: ErrBadHandshake},
		{name: "extra field", line: "WPFRAMES/1 viewer ROOM tok x\n", err: ErrBadHandshake},
		{name: "double space", line: "WPFRAMES/1 viewer  ROOM tok\n", err: ErrBadHandshake},
		{name: "empty", line: "\n", err: ErrBadHandshake},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHello([]byte(tc.line))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseHello error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseHello = %+v, %v; want %+v", got, err, tc.want)
			}
			if again, err := ParseHello([]byte(got.String())); err != nil || again != got {
				t.Fatalf("String round trip = %+v, %v", again, err)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", MaxHandshakeLine) + "\n"
	r := bufio.NewReaderSize(strings.NewReader(long), 16)
	if _, err := ReadLine(r, MaxHandshakeLine); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long line error = %v", err)
	}
	fits := strings.Repeat("y", MaxHandshakeLine-1) + "\nrest"
	r = bufio.NewReaderSize(strings.NewReader(fits), 16)
	line, err := ReadLine(r, MaxHandshakeLine)
	if err != nil || len(line) != MaxHandshakeLine-1 {
		t.Fatalf("fitting line: %d bytes, %v", len(line), err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "rest" {
		t.Fatalf("bytes after the line = %q", rest)
	}
	if _, err := ReadLine(bufio.NewReader(strings.NewReader("no newline")), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("unterminated line error = %v", err)
	}
}

func TestReplies(t *testing.T) {
	var b bytes.Buffer
	if err := WriteOK(&b, map[string]string{ParamHeartbeatMS: "2000", ParamMaxPayload: "99"}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "OK WPFRAMES/1 heartbeat_ms=2000 max_payload=99\n" {
		t.Fatalf("OK line = %q", b.String())
	}
	r, err := ParseReply(b.Bytes())
	if err != nil || !r.OK || r.ParamInt(ParamHeartbeatMS, 0) != 2000 || r.ParamInt("missing", 7) != 7 {
		t.Fatalf("ParseReply(OK) = %+v, %v", r, err)
	}
	b.Reset()
	if err := WriteErr(&b, RefuseExpired, "token expired\nat noon"); err != nil {
		t.Fatal(err)
	}
	if b.String() != "ERR expired token expired at noon\n" {
		t.Fatalf("ERR line = %q", b.String())
	}
	_, err = ParseReply(b.Bytes())
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != RefuseExpired || !errors.Is(err, ErrRefused) {
		t.Fatalf("ParseReply(ERR) error = %v", err)
	}
	if _, err := ParseReply([]byte("OK WPFRAMES/3\n")); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("other version reply error = %v", err)
	}
}

func TestEncodeAllocations(t *testing.T) {
	enc := NewEncoder(io.Discard, 0)
	f := Frame{Seq: 1, Width: 640, Height: 360, Codec: CodecJPEG, Payload: make([]byte, 30000)}
	allocs := testing.AllocsPerRun(100, func() {
		f.Seq++
		if err := enc.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		if err := enc.WriteHeartbeat(time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("WriteFrame allocates %.1f times per frame", allocs)
	}
}

func TestDecodeAllocations(t *testing.T) {
	var stream bytes.Buffer
	f := Frame{Seq: 1, Width: 640, Height: 360, Codec: CodecJPEG, Payload: make([]byte, 30000)}
	one, err := AppendFrame(nil, &f, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 102 { // one warm-up, one AllocsPerRun warm-up, 100 runs
		stream.Write(one)
	}
	r := bytes.NewReader(stream.Bytes())
	dec := NewDecoder(r, 0)
	var m Message
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %.1f times per frame once warm", allocs)
	}
}
