package reliability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"watchparty/engine/apptest"
)

// from returns a client whose connections come from the loopback address
// ip, so that the server log's lines about one attack can be counted.
func from(base, ip string) *webClient {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) }}
	return &webClient{base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// with copies the cookies of other (a session) into w.
func (w *webClient) with(other *webClient) *webClient {
	u, _ := url.Parse(other.base + "/")
	w.c.Jar.SetCookies(u, other.c.Jar.Cookies(u))
	return w
}

// logLines counts the server's log lines about refusals of address ip.
func logLines(p *proc, ip string) int {
	n := 0
	for _, l := range strings.Split(p.Output(), "\n") {
		switch {
		case strings.Contains(l, "remote="+ip+":"):
			n++
		case !strings.Contains(l, "ip="+ip+" ") && !strings.HasSuffix(l, "ip="+ip):
		case strings.Contains(l, "level=WARN"), strings.Contains(l, "level=ERROR"), strings.Contains(l, "msg=request") && strings.Contains(l, " status=4"):
			// Page loads that succeed are the access log, not refusals.
			n++
		}
	}
	return n
}

// rawPost sends a form with explicit headers from client w.
func (w *webClient) rawPost(t *testing.T, p string, vals url.Values, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.base+p, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", p, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (w *webClient) csrf(t *testing.T) string {
	t.Helper()
	_, body, err := w.get("/")
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := apptest.CSRFToken(body)
	if !ok {
		t.Fatal("no CSRF token on the start page")
	}
	return tok
}

func signUp(t *testing.T, base, ip, name string) *webClient {
	t.Helper()
	c := from(base, ip)
	email := strings.ToLower(name) + "@hostile.test"
	st, body, err := c.post("/signup", url.Values{"email": {email}, "name": {name}, "password": {"password-of-" + name}}, false)
	if err != nil || st != http.StatusSeeOther {
		t.Fatalf("sign-up %s: %d %v %s", name, st, err, body)
	}
	return c
}

// mustStatus fails unless a POST of an owner action answers want.
func mustPost(t *testing.T, c *webClient, p string, vals url.Values, want int) {
	t.Helper()
	st, body, err := c.post(p, vals, true)
	if err != nil || st != want {
		t.Fatalf("POST %s: %d %v (want %d) %s", p, st, err, want, body)
	}
}

// TestHostileInput runs attacks against one server process; each attack
// comes from its own loopback address, is refused, and leaves at most one
// line per kind of refusal in the server log.
func TestHostileInput(t *testing.T) {
	bin := apptest.Binary(t)
	media := t.TempDir()
	if err := os.WriteFile(filepath.Join(media, "film.mp4"), []byte("not really a film"), 0o644); err != nil {
		t.Fatal(err)
	}
	streamAddr := apptest.FreePort(t)
	p := startProc(t, bin, filepath.Join(t.TempDir(), "data"), "--media.dir", media, "--stream.listen", streamAddr)
	ann := signUp(t, p.URL, "127.0.0.1", "Ann")
	bob := signUp(t, p.URL, "127.0.0.1", "Bob")
	code := createRoomAs(t, ann, "hostile")
	mustPost(t, bob, "/r/"+code+"/join", url.Values{}, 200)

	t.Run("csrf from another origin", func(t *testing.T) {
		ip := "127.0.0.11"
		c := from(p.URL, ip).with(ann)
		tok := c.csrf(t)
		for i := range 40 {
			if st := c.rawPost(t, "/rooms", url.Values{"name": {"evil"}, "csrf": {tok}}, map[string]string{"Origin": "http://evil.example"}); st != 403 {
				t.Fatalf("cross-origin POST %d answered %d", i, st)
			}
			if st := c.rawPost(t, "/rooms", url.Values{"name": {"evil"}, "csrf": {"forged"}}, nil); st != 403 {
				t.Fatalf("POST with a forged token answered %d", st)
			}
		}
		if _, body, _ := ann.get("/"); strings.Contains(body, ">evil<") {
			t.Fatal("a refused request created a room")
		}
		if n := logLines(p, ip); n > 2 {
			t.Fatalf("80 refused requests made %d log lines, want at most 2 (one per kind)", n)
		}
	})

	t.Run("websocket from a foreign origin", func(t *testing.T) {
		for i := range 40 {
			origin := "http://evil.example"
			if i%2 == 1 {
				origin = "null"
			}
			_, resp, err := dialRoom(t, p.URL, code, ann.session(), origin)
			if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("foreign origin %q: %v %v", origin, err, resp)
			}
		}
		if n := logLines(p, "127.0.0.1"); n > 30 {
			t.Fatalf("the log grew by %d lines for 40 refused websockets", n)
		}
		if !strings.Contains(p.Output(), "not_logged_since") && strings.Count(p.Output(), "foreign origin refused") > 1 {
			t.Fatalf("each foreign websocket was logged:\n%s", p.Output())
		}
	})

	t.Run("acting after a kick or leave", func(t *testing.T) {
		carl := signUp(t, p.URL, "127.0.0.1", "Carl")
		dave := signUp(t, p.URL, "127.0.0.1", "Dave")
		mustPost(t, carl, "/r/"+code+"/join", url.Values{}, 200)
		mustPost(t, dave, "/r/"+code+"/join", url.Values{}, 200)
		cws, chello := mustDial(t, p.URL, code, carl.session())
		dws, _ := mustDial(t, p.URL, code, dave.session())
		carlID := chello["you"].(map[string]any)["id"].(string)
		mustPost(t, ann, "/r/"+code+"/kick", url.Values{"user": {carlID}}, 200)
		if m := cws.next("closed"); m["code"] != "kicked" {
			t.Fatalf("kicked member got %v", m)
		}
		mustPost(t, dave, "/r/"+code+"/leave", url.Values{}, 200)
		if m := dws.next("closed"); m["code"] != "removed" {
			t.Fatalf("member who left got %v", m)
		}
		for _, x := range []struct {
			name string
			c    *webClient
			join int
		}{{"kicked", carl, 403}, {"left", dave, 200}} {
			if _, resp, err := dialRoom(t, p.URL, code, x.c.session(), "same"); err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("%s member's websocket: %v %v", x.name, err, resp)
			}
			for _, action := range []string{"rename", "lock", "settings", "invite", "kick", "delete"} {
				if st, _, _ := x.c.post("/r/"+code+"/"+action, url.Values{"name": {"mine"}, "user": {carlID}}, true); st != 403 {
					t.Fatalf("%s member's %s answered %d", x.name, action, st)
				}
			}
			// A kicked member cannot rejoin; one who left may.
			if st, _, _ := x.c.post("/r/"+code+"/join", url.Values{}, true); st != x.join {
				t.Fatalf("%s member's rejoin answered %d, want %d", x.name, st, x.join)
			}
		}
	})

	t.Run("control messages without the role", func(t *testing.T) {
		mustPost(t, ann, "/r/"+code+"/settings", url.Values{"control": {"owner"}, "change_video": {"owner"}, "manage_queue": {"owner"}}, 200)
		aws, _ := mustDial(t, p.URL, code, ann.session())
		aws.send(map[string]any{"type": "video", "url": "https://example.org/a.mp4", "ref": "v"})
		aws.nextMatching("the owner's video", func(m map[string]any) bool { return m["type"] == "video" })
		aws.send(map[string]any{"type": "queue_add", "url": "https://example.org/b.mp4", "ref": "q"})
		bws, _ := mustDial(t, p.URL, code, bob.session())
		msgs := []map[string]any{
			{"type": "play"}, {"type": "pause"}, {"type": "seek", "t": 10}, {"type": "rate", "t": 2},
			{"type": "video", "url": "https://example.org/evil.mp4"},
			{"type": "queue_add", "url": "https://example.org/evil.mp4"}, {"type": "queue_remove", "id": "x"},
			{"type": "queue_move", "id": "x", "to": 0}, {"type": "queue_clear"}, {"type": "queue_next"},
		}
		for i, m := range msgs {
			m["ref"] = "n" + strconv.Itoa(i)
			if code := bws.errorCode(m); code != "forbidden" {
				t.Fatalf("%v from a plain member: error %q, want forbidden", m, code)
			}
		}
		for _, action := range []string{"rename", "lock", "settings", "invite", "kick", "unban", "role", "delete"} {
			if st, _, _ := bob.post("/r/"+code+"/"+action, url.Values{"name": {"bob's"}, "user": {"x"}, "role": {"moderator"}, "locked": {"1"}}, true); st != 403 {
				t.Fatalf("plain member's %s answered %d", action, st)
			}
		}
		mustPost(t, ann, "/r/"+code+"/settings", url.Values{"control": {"everyone"}, "change_video": {"everyone"}, "manage_queue": {"everyone"}}, 200)
	})

	t.Run("oversize and malformed websocket messages", func(t *testing.T) {
		bws, _ := mustDial(t, p.URL, code, bob.session())
		bad := []string{`not json`, `[]`, `{}`, `{"type":1}`, `{"type":"chat","text":123}`,
			strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), `{"type":"nope"}`, `{"type":"presence","state":"<b>"}`, "\x00\x01\x02"}
		for _, b := range bad {
			_ = bws.WriteMessage(websocket.TextMessage, []byte(b))
			m := bws.next("error")
			if c := m["code"]; c != "bad_message" && c != "unknown_type" {
				t.Fatalf("%q answered %v", b, m)
			}
		}
		// Invalid UTF-8 is refused, with the message's ref; it never reaches
		// anyone (docs/protocol.md).
		_ = bws.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"chat\",\"text\":\"a\xff\xfeb\",\"ref\":\"utf8\"}"))
		if m := bws.nextMatching("the answer to invalid UTF-8", func(m map[string]any) bool { return m["ref"] == "utf8" }); m["type"] != "error" || m["code"] != "bad_message" {
			t.Fatalf("invalid UTF-8 answered %v, want a bad_message error", m)
		}
		bws.send(map[string]any{"type": "ping", "t": 1})
		bws.next("pong") // still connected
		_ = bws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("x", 9000)+`"}`))
		if m := bws.next("error"); m["code"] != "too_large" {
			t.Fatalf("oversize message answered %v", m)
		}
		_ = bws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := bws.ReadMessage(); err != nil {
				if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
					t.Fatalf("after an oversize message: %v, want close 1009", err)
				}
				break
			}
		}
	})

	t.Run("malformed frame protocol", func(t *testing.T) {
		ip := "127.0.0.13"
		for i, line := range []string{"GET / HTTP/1.1\r\n", "WPFRAMES/1 viewer " + code + " forged-token\n", "WPFRAMES/9 viewer X Y\n",
			strings.Repeat("A", 64<<10), "\x00\xff\x00\xff\n"} {
			c := dialFrom(t, streamAddr, ip)
			_, _ = io.WriteString(c, line)
			_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
			reply, err := bufio.NewReader(c).ReadString('\n')
			if !strings.HasPrefix(reply, "ERR ") {
				t.Fatalf("frame handshake %d answered %q %v", i, reply, err)
			}
			c.Close()
		}
		if n := logLines(p, ip); n > 1 {
			t.Fatalf("5 refused frame connections made %d log lines", n)
		}
	})

	t.Run("path traversal on media", func(t *testing.T) {
		for _, path := range []string{"../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
			"/etc/passwd", "film.mp4/../../../etc/passwd", "..\\..\\etc\\passwd", "%252e%252e%252fetc%252fpasswd"} {
			st, body, err := bob.get("/r/" + code + "/media/file/" + path)
			if err != nil || st < 400 || st >= 500 || strings.Contains(body, "root:") {
				t.Fatalf("media/file/%s: %d %v", path, st, err)
			}
		}
		if st, body, _ := bob.get("/r/" + code + "/media/file/film.mp4"); st != 200 || body != "not really a film" {
			t.Fatalf("the real file: %d %q", st, body)
		}
	})

	t.Run("session cookie replay after log-out", func(t *testing.T) {
		eve := signUp(t, p.URL, "127.0.0.1", "Eve")
		mustPost(t, eve, "/r/"+code+"/join", url.Values{}, 200)
		old := eve.session()
		if st, _, err := eve.post("/logout", url.Values{}, false); err != nil || st != http.StatusSeeOther {
			t.Fatalf("log-out: %d %v", st, err)
		}
		replay := from(p.URL, "127.0.0.1")
		u, _ := url.Parse(p.URL + "/")
		replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "wp_session", Value: old}})
		if st, _, _ := replay.get("/account/"); st != http.StatusSeeOther {
			t.Fatalf("replayed cookie on /account/: %d, want a redirect to log in", st)
		}
		if _, resp, err := dialRoom(t, p.URL, code, old, "same"); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("replayed cookie on the websocket: %v %v", err, resp)
		}
	})

	t.Run("log-in brute force", func(t *testing.T) {
		ip := "127.0.0.14"
		c := from(p.URL, ip)
		limited := 0
		for i := range 30 {
			st, _, err := c.post("/login", url.Values{"email": {"ann@hostile.test"}, "password": {fmt.Sprint("guess-", i)}}, false)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case st == 429:
				limited++
			case st != 401:
				t.Fatalf("guess %d answered %d", i, st)
			}
		}
		if limited < 20 {
			t.Fatalf("only %d of 30 guesses were rate limited (limit 10 a minute)", limited)
		}
		if st, _, _ := c.post("/login", url.Values{"email": {"ann@hostile.test"}, "password": {"password-of-Ann"}}, false); st != 429 {
			t.Fatalf("the right password during the lock-out answered %d, want 429", st)
		}
		if n := logLines(p, ip); n > 3 {
			t.Fatalf("31 refused log-ins made %d log lines, want at most 3:\n%s", n, p.Output())
		}
	})
}

func dialFrom(t *testing.T, addr, ip string) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createRoomAs(t *testing.T, c *webClient, name string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/rooms", strings.NewReader(url.Values{"name": {name}, "csrf": {c.csrf(t)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	i := strings.LastIndex(loc, "/r/")
	if resp.StatusCode != http.StatusSeeOther || i < 0 {
		t.Fatalf("create room: %s %s", resp.Status, loc)
	}
	return loc[i+3:]
}
