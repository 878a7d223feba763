package room

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"watchparty/engine/store"
)

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

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
	o.Store = st
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

// serveRooms runs a Fiber server on loopback whose websocket endpoint
// trusts a user id in the query string: the session and origin checks are
// the web package's, tested there.
func serveRooms(t *testing.T, svc *Service) string {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	pool := &WriteBufferPool{}
	app.Get("/ws/:code", fws.New(func(c *fws.Conn) {
		u := User{ID: c.Query("user"), Name: c.Query("name"), Guest: c.Query("guest") == "1"}
		_ = svc.Serve(c.Params("code"), u, c.Conn)
	}, fws.Config{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: pool}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		svc.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	})
	return "ws://" + ln.Addr().String()
}

// wsClient is a test member.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	buf  []map[string]any
	seen []map[string]any // every message returned so far
}

func dial(t *testing.T, base, code string, u User) *wsClient {
	t.Helper()
	c, err := tryDial(base, code, u, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", u.ID, err)
	}
	c.t = t
	t.Cleanup(func() { c.conn.Close() })
	return c
}

func tryDial(base, code string, u User, d *websocket.Dialer) (*wsClient, error) {
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	q := url.Values{"user": {u.ID}, "name": {u.Name}}
	conn, _, err := d.Dial(base+"/ws/"+code+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	return &wsClient{conn: conn}, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next message, splitting frames that carry several.
func (c *wsClient) next() (map[string]any, error) {
	for len(c.buf) == 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		for _, part := range strings.Split(string(data), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(part), &m); err != nil {
				return nil, err
			}
			c.buf = append(c.buf, m)
		}
	}
	m := c.buf[0]
	c.buf = c.buf[1:]
	c.seen = append(c.seen, m)
	return m, nil
}

// expect returns the next message of type typ, skipping others.
func (c *wsClient) expect(typ string) map[string]any {
	c.t.Helper()
	for range 10000 {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m["type"] == typ {
			return m
		}
	}
	c.t.Fatalf("no %s message", typ)
	return nil
}

// expectChat returns the next member chat line (system lines skipped).
func (c *wsClient) expectChat() map[string]any {
	c.t.Helper()
	for range 10000 {
		m := c.expect("chat")
		if m["system"] != true {
			return m
		}
	}
	c.t.Fatal("no chat line")
	return nil
}

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
