package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/apptest"
)

// wsConn is a room websocket of a test client.
type wsConn struct {
	*websocket.Conn
	t testing.TB
	// buf holds the messages of a frame that next and nextMatching have not
	// returned yet: the server batches several messages into one frame.
	buf []map[string]any
}

// dialRoom opens the room websocket with the session cookie and a
// same-site Origin (origin "" sends none; "same" sends the server's).
func dialRoom(t testing.TB, base, code, session, origin string) (*wsConn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if session != "" {
		h.Set("Cookie", apptest.SessionCookie+"="+session)
	}
	switch origin {
	case "same":
		h.Set("Origin", base)
	case "":
	default:
		h.Set("Origin", origin)
	}
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/r/" + code + "/ws"
	c, resp, err := d.Dial(ws, h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.Close() })
	return &wsConn{Conn: c, t: t}, resp, nil
}

// mustDial opens the room websocket and reads hello.
func mustDial(t testing.TB, base, code, session string) (*wsConn, map[string]any) {
	t.Helper()
	c, resp, err := dialRoom(t, base, code, session, "same")
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial room %s: %v %s", code, err, status)
	}
	hello := c.next("hello")
	return c, hello
}

// messages reads one websocket message and splits it into its JSON
// messages.
func (c *wsConn) messages(timeout time.Duration) ([]map[string]any, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, part := range bytes.Split(data, []byte{'\n'}) {
		var m map[string]any
		if err := json.Unmarshal(part, &m); err != nil {
			c.t.Fatalf("server sent a part that is not JSON: %q", part)
		}
		out = append(out, m)
	}
	return out, nil
}

// next returns the next message of type typ, skipping others (bounded).
func (c *wsConn) next(typ string) map[string]any {
	c.t.Helper()
	return c.nextMatching(fmt.Sprintf("%q", typ), func(m map[string]any) bool { return m["type"] == typ })
}

// nextMatching returns the next message for which ok is true (bounded).
func (c *wsConn) nextMatching(what string, ok func(m map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 500 {
		if len(c.buf) == 0 {
			ms, err := c.messages(10 * time.Second)
			if err != nil {
				c.t.Fatalf("waiting for %s: %v", what, err)
			}
			c.buf = ms
		}
		m := c.buf[0]
		c.buf = c.buf[1:]
		if ok(m) {
			return m
		}
	}
	c.t.Fatalf("no %s among 500 messages", what)
	return nil
}

// send writes one JSON message.
func (c *wsConn) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send %s: %v", b, err)
	}
}

// errorCode sends v and returns the code of the error that answers it
// (matched by ref).
func (c *wsConn) errorCode(v map[string]any) string {
	c.t.Helper()
	ref := v["ref"].(string)
	c.send(v)
	m := c.nextMatching("an answer to "+ref, func(m map[string]any) bool { return m["ref"] == ref })
	if m["type"] != "error" {
		c.t.Fatalf("%v was answered with %v, want an error", v, m)
	}
	return m["code"].(string)
}

// createRoom creates a room through the form and returns its code.
func createRoom(t testing.TB, c *apptest.Client, name string) string {
	t.Helper()
	resp, body := c.PostForm(t, "/rooms", map[string][]string{"name": {name}})
	loc := resp.Header.Get("Location")
	i := strings.LastIndex(loc, "/r/")
	if resp.StatusCode != http.StatusSeeOther || i < 0 {
		t.Fatalf("create room: %s %s\n%s", resp.Status, loc, body)
	}
	return loc[i+3:]
}
