package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/apptest"
)

// dialRoomFrom opens the room websocket from the loopback address ip.
func dialRoomFrom(t *testing.T, base, code, session, ip string) (*wsConn, error) {
	t.Helper()
	h := http.Header{}
	h.Set("Cookie", "wp_session="+session)
	h.Set("Origin", base)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDial: func(n, a string) (net.Conn, error) {
		return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).Dial(n, a)
	}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/r/"+code+"/ws", h)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &wsConn{Conn: c, t: t}, nil
}

// firstRefusal reads a just-opened room websocket: "" when it gets hello,
// else the code of the error the server answered with before closing.
func (c *wsConn) firstRefusal() string {
	c.t.Helper()
	ms, err := c.messages(10 * time.Second)
	if err != nil {
		c.t.Fatalf("no first message: %v", err)
	}
	switch ms[0]["type"] {
	case "hello":
		return ""
	case "error":
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			c.t.Fatalf("after the refusal: %v, want close 1008", err)
		}
		return ms[0]["code"].(string)
	}
	c.t.Fatalf("first message %v", ms[0])
	return ""
}

// TestLimits checks every limits.* option on a server process started with
// low limits: each is enforced with a clear error.
func TestLimits(t *testing.T) {
	bin := apptest.Binary(t)
	stream := apptest.FreePort(t)
	p := startProc(t, bin, filepath.Join(t.TempDir(), "data"), "--stream.listen", stream,
		"--limits.conns_per_ip", "3", "--limits.members_per_room", "2", "--limits.rooms_per_user", "2",
		"--limits.chat_per_10s", "3", "--limits.viewers_per_stream", "2", "--limits.login_per_minute", "3")
	ann := signUp(t, p.URL, "127.0.0.21", "Ann")
	bob := signUp(t, p.URL, "127.0.0.22", "Bob")
	carl := signUp(t, p.URL, "127.0.0.23", "Carl")
	code := createRoomAs(t, ann, "limits")
	for _, c := range []*webClient{bob, carl} {
		mustPost(t, c, "/r/"+code+"/join", url.Values{}, 200)
	}

	t.Run("conns_per_ip", func(t *testing.T) {
		var open []*wsConn
		for i := range 3 {
			c, err := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.31")
			if err != nil || c.firstRefusal() != "" {
				t.Fatalf("connection %d: %v", i, err)
			}
			open = append(open, c)
		}
		c, err := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.31")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.firstRefusal(); got != "too_many_connections" {
			t.Fatalf("the 4th connection from one address: %q, want too_many_connections", got)
		}
		// Another address is not affected.
		other, err := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.32")
		if err != nil || other.firstRefusal() != "" {
			t.Fatalf("a connection from another address: %v", err)
		}
		for _, c := range append(open, other) {
			c.Close()
		}
		// The frame port counts connections per address too: of four silent
		// connections from one address, one is refused at once and the
		// other three when their handshake time runs out.
		replies := make(chan string, 4)
		for range 4 {
			c := dialFrom(t, stream, "127.0.0.33")
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				replies <- line
			}()
		}
		full, timedOut := 0, 0
		for range 4 {
			switch line := <-replies; {
			case strings.HasPrefix(line, "ERR too-many-connections"):
				full++
			case strings.HasPrefix(line, "ERR timeout"):
				timedOut++
			default:
				t.Fatalf("frame connection answered %q", line)
			}
		}
		if full != 1 || timedOut != 3 {
			t.Fatalf("four frame connections from one address: %d refused as too many, %d timed out; want 1 and 3", full, timedOut)
		}
	})

	t.Run("members_per_room", func(t *testing.T) {
		a, _ := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.41")
		b, _ := dialRoomFrom(t, p.URL, code, bob.session(), "127.0.0.42")
		if a.firstRefusal() != "" || b.firstRefusal() != "" {
			t.Fatal("the first two members were refused")
		}
		c, err := dialRoomFrom(t, p.URL, code, carl.session(), "127.0.0.43")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.firstRefusal(); got != "room_full" {
			t.Fatalf("a third member: %q, want room_full", got)
		}
		// A second tab of a member already in does not count twice.
		a2, _ := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.41")
		if got := a2.firstRefusal(); got != "" {
			t.Fatalf("a second tab of a connected member: %q", got)
		}
		a.Close()
		a2.Close()
		b.Close()
	})

	t.Run("rooms_per_user", func(t *testing.T) {
		createRoomAs(t, ann, "second")
		st, body, err := ann.post("/rooms", url.Values{"name": {"third"}}, false)
		if err != nil || st != http.StatusConflict || !strings.Contains(body, "rooms") {
			t.Fatalf("a third room: %d %v", st, err)
		}
	})

	t.Run("chat_per_10s", func(t *testing.T) {
		c, err := dialRoomFrom(t, p.URL, code, bob.session(), "127.0.0.51")
		if err != nil || c.firstRefusal() != "" {
			t.Fatalf("connect: %v", err)
		}
		for i := range 3 {
			c.send(map[string]any{"type": "chat", "text": fmt.Sprint("line ", i), "ref": fmt.Sprint("c", i)})
			c.nextMatching("the echo", func(m map[string]any) bool { return m["ref"] == fmt.Sprint("c", i) && m["type"] == "chat" })
		}
		c.send(map[string]any{"type": "chat", "text": "one too many", "ref": "c3"})
		m := c.nextMatching("the refusal", func(m map[string]any) bool { return m["ref"] == "c3" })
		if m["type"] != "error" || m["code"] != "rate_limited" || m["retry_ms"] == nil {
			t.Fatalf("the 4th line in 10 s: %v", m)
		}
		c.Close()
	})

	t.Run("viewers_per_stream", func(t *testing.T) {
		c, err := dialRoomFrom(t, p.URL, code, ann.session(), "127.0.0.61")
		if err != nil || c.firstRefusal() != "" {
			t.Fatalf("connect: %v", err)
		}
		c.send(map[string]any{"type": "stream_start", "source": "pattern:64x36", "ref": "s"})
		c.nextMatching("the stream", func(m map[string]any) bool {
			s, _ := m["stream"].(map[string]any)
			return m["type"] == "stream" && s["active"] == true
		})
		tok := streamToken(t, ann, code)
		for i := range 3 {
			v := dialFrom(t, stream, fmt.Sprint("127.0.0.", 62+i))
			fmt.Fprintf(v, "WPFRAMES/1 viewer %s %s\n", code, tok)
			_ = v.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, _ := bufio.NewReader(v).ReadString('\n')
			want := "OK "
			if i == 2 {
				want = "ERR full"
			}
			if !strings.HasPrefix(line, want) {
				t.Fatalf("viewer %d: %q, want %q", i+1, line, want)
			}
		}
		c.Close()
	})

	t.Run("login_per_minute", func(t *testing.T) {
		c := from(p.URL, "127.0.0.71")
		for i := range 4 {
			st, body, err := c.post("/login", url.Values{"email": {fmt.Sprintf("nobody%d@limits.test", i)}, "password": {"wrong password"}}, false)
			want := http.StatusUnauthorized
			if i == 3 {
				want = http.StatusTooManyRequests
			}
			if err != nil || st != want {
				t.Fatalf("log-in %d: %d %v, want %d", i+1, st, err, want)
			}
			if i == 3 && !strings.Contains(body, "Too many attempts") {
				t.Fatalf("the refusal does not say why:\n%s", body)
			}
		}
	})
}

func streamToken(t *testing.T, c *webClient, code string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/r/"+code+"/stream/token", strings.NewReader("role=viewer"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf(t))
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Token string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.Token == "" {
		t.Fatalf("stream token: %s %s", resp.Status, b)
	}
	return out.Token
}
