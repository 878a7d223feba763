package room

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"watchparty/engine/room/proto"
	"watchparty/engine/room/roomtest"
	"watchparty/engine/store"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := openStoreErr(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openStoreErr(dir string) (*store.Store, error) {
	return store.Open(dir, quietLog(), store.Options{})
}

func testLink(raw string) (Video, error) {
	switch {
	case strings.HasPrefix(raw, "https://youtu.be/"):
		return Video{Kind: "youtube", ID: strings.TrimPrefix(raw, "https://youtu.be/"), URL: raw}, nil
	case strings.HasSuffix(raw, ".webm") || strings.HasSuffix(raw, ".mp4"):
		return Video{Kind: "file", URL: raw}, nil
	}
	return Video{}, errors.New("paste a YouTube link or a direct .mp4/.webm/.ogg URL")
}

// newService opens a real store in a temporary directory.
func newService(t *testing.T, o Options) (*Service, *store.Store) {
	t.Helper()
	st := openStore(t, t.TempDir())
	o.Repo = NewBadger(st)
	o.Log = quietLog()
	if o.ParseLink == nil {
		o.ParseLink = testLink
	}
	svc := New(o)
	t.Cleanup(func() {
		svc.Close()
		st.Close()
	})
	return svc, st
}

// serveRooms returns the service the test clients connect to: room tests
// talk to the room through an in-memory transport (pipe), as any transport
// does; the websocket transport has its own tests in engine/room/ws.
func serveRooms(t *testing.T, svc *Service) *Service {
	t.Helper()
	t.Cleanup(svc.Close)
	return svc
}

// pipe is an in-memory Transport: it keeps every frame the room sends.
type pipe struct {
	mu     sync.Mutex
	pings  int // Ping calls
	frames [][]byte
	wake   chan struct{}
	closed bool
	reason string // of Close
	leave  func() // the client's Leave, run once when the room closes the pipe
}

func newPipe() *pipe { return &pipe{wake: make(chan struct{}, 1)} }

func (p *pipe) Send(_ proto.Type, msg []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.frames = append(p.frames, msg)
	p.signal()
	return true
}

// Close keeps the closed message and ends the connection: like a
// websocket reader that stops after the close, the client leaves the room.
func (p *pipe) Close(reason, text string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.frames = append(p.frames, proto.ClosedMessage(reason, text))
	p.closed, p.reason = true, reason
	p.signal()
	leave := p.leave
	p.mu.Unlock()
	if leave != nil {
		go leave() // Close runs on the room's actor, which Leave posts to
	}
}

func (p *pipe) Ping() {
	p.mu.Lock()
	p.pings++
	p.mu.Unlock()
}

// pinged is how many times the room has pinged the pipe.
func (p *pipe) pinged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pings
}

func (p *pipe) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// errPipeClosed is what a client reads after its connection closed.
type errPipeClosed struct{ reason string }

func (e errPipeClosed) Error() string { return "connection closed: " + e.reason }

// nextFrame returns the next frame the room sent (waiting up to 10 s).
func (p *pipe) nextFrame() ([]byte, error) {
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		if len(p.frames) > 0 {
			f := p.frames[0]
			p.frames = p.frames[1:]
			p.mu.Unlock()
			return f, nil
		}
		closed, reason := p.closed, p.reason
		p.mu.Unlock()
		if closed {
			return nil, errPipeClosed{reason}
		}
		select {
		case <-p.wake:
		case <-deadline:
			return nil, errors.New("no message within 10 s")
		}
	}
}

// testClient is a test member connected through a pipe.
type testClient struct {
	t    *testing.T
	p    *pipe
	c    *Conn
	once sync.Once
	in   roomtest.Inbox
}

func dial(t *testing.T, svc *Service, code string, u User) *testClient {
	t.Helper()
	c, err := tryDial(svc, code, u)
	if err != nil {
		t.Fatalf("connect as %s: %v", u.ID, err)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

func tryDial(svc *Service, code string, u User) (*testClient, error) {
	p := newPipe()
	tc := &testClient{p: p, in: roomtest.Inbox{Frame: p.nextFrame}}
	p.mu.Lock()
	p.leave = tc.close
	p.mu.Unlock()
	c, err := svc.Connect(code, u, p)
	if err != nil {
		return nil, err
	}
	tc.c = c
	return tc, nil
}

// close ends the connection, as a websocket that closes does.
func (c *testClient) close() {
	c.once.Do(func() {
		c.p.mu.Lock()
		c.p.closed = true
		c.p.signal()
		c.p.mu.Unlock()
		if c.c != nil {
			c.c.Leave()
		}
	})
}

func (c *testClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.sendRaw(b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// sendRaw hands the room one message as a transport's reader does.
func (c *testClient) sendRaw(b []byte) error {
	c.p.mu.Lock()
	closed := c.p.closed
	c.p.mu.Unlock()
	if closed {
		return errPipeClosed{c.p.reason}
	}
	m := new(proto.ClientMessage)
	if err := proto.Decode(b, m); err != nil {
		c.p.Send(proto.Error, proto.ErrorMessage(proto.CodeBadMessage, err.Error(), m.Ref, 0))
		return nil
	}
	if !c.c.Receive(m) {
		c.close()
	}
	return nil
}

func (c *testClient) next() (map[string]any, error)    { return c.in.Next() }
func (c *testClient) expect(typ string) map[string]any { c.t.Helper(); return c.in.Expect(c.t, typ) }
func (c *testClient) expectChat() map[string]any       { c.t.Helper(); return c.in.ExpectChat(c.t) }

func mustCreate(t *testing.T, svc *Service, owner User, name string) *Info {
	t.Helper()
	in, err := svc.Create(context.Background(), owner, name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func mustJoin(t *testing.T, svc *Service, code string, u User) {
	t.Helper()
	if _, err := svc.Join(context.Background(), code, u, ""); err != nil {
		t.Fatalf("join %s: %v", u.ID, err)
	}
}
