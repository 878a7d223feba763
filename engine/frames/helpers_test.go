package frames

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"watchparty/engine/frames/source"
	"watchparty/engine/frames/token"
	"watchparty/engine/frames/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testKey = []byte("watchparty-frames-test-key-32byt")

// testEnv is a hub and a server on a loopback port.
type testEnv struct {
	hub    *Hub
	srv    *Server
	signer *token.Signer
	addr   string
}

// newTestEnv starts a server; it is stopped (and waited for) at cleanup.
func newTestEnv(t testing.TB, hopts HubOptions, sopts ServerOptions) *testEnv {
	t.Helper()
	signer, err := token.NewSigner(testKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(hopts)
	access, err := NewAccess(AccessOptions{Tokens: signer, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	sopts.Hub, sopts.Gate = hub, access
	srv, err := NewServer(sopts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		hub.Close()
	})
	return &testEnv{hub: hub, srv: srv, signer: signer, addr: ln.Addr().String()}
}

func (e *testEnv) token(room string, role wire.Role, subject string) string {
	return e.signer.Issue(room, string(role), subject, 0, time.Minute)
}

// dial connects with a valid token.
func (e *testEnv) dial(t testing.TB, room string, role wire.Role, subject string, readBuf int) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), DialOptions{Addr: e.addr, Role: role, Room: room, Token: e.token(room, role, subject), ReadBuffer: readBuf})
	if err != nil {
		t.Fatalf("dial %s as %s: %v", room, role, err)
	}
	return c
}

// rawHandshake sends line on a fresh connection and returns the reply line.
func (e *testEnv) rawHandshake(t testing.TB, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if line != "" {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the reply to %.40q: %v", line, err)
	}
	return reply
}

// recvFrame reads until a frame, skipping heartbeats.
func recvFrame(t testing.TB, c *Conn) wire.Frame {
	t.Helper()
	var m wire.Message
	for range 1000 {
		if err := c.Recv(&m); err != nil {
			t.Fatalf("receive: %v", err)
		}
		if m.Type == wire.TypeFrame {
			f := m.Frame
			f.Payload = append([]byte(nil), f.Payload...)
			return f
		}
	}
	t.Fatal("no frame among 1000 messages")
	return wire.Frame{}
}

// recvClose reads until the server's close message.
func recvClose(t testing.TB, c *Conn) wire.Close {
	t.Helper()
	var m wire.Message
	for range 100000 {
		err := c.Recv(&m)
		var ce *CloseError
		if errors.As(err, &ce) {
			return ce.Close
		}
		if err != nil {
			t.Fatalf("waiting for a close message: %v", err)
		}
	}
	t.Fatal("no close message")
	return wire.Close{}
}

// patternJPEG is frame i of the test pattern at the default quality.
func patternJPEG(t testing.TB, w, h int, i uint64) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	source.DrawPattern(img, i)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: source.DefaultQuality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegFrame is a frame message carrying payload as a w x h JPEG.
func jpegFrame(t testing.TB, payload []byte, w, h int) []byte {
	t.Helper()
	b, err := wire.AppendFrame(nil, &wire.Frame{Seq: 1, Width: w, Height: h, Codec: wire.CodecJPEG, Payload: payload}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patchSOF rewrites the size in a JPEG's frame header: a small file that
// announces a huge picture.
func patchSOF(jpg []byte, w, h int) []byte {
	out := append([]byte(nil), jpg...)
	for i := 2; i+8 < len(out) && out[i] == 0xFF; i += 2 + int(out[i+2])<<8 | int(out[i+3]) {
		if m := out[i+1]; m == 0xC0 || m == 0xC2 {
			out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
			return out
		}
	}
	panic("no frame header")
}
