package syncplay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The lines below are what Debian's syncplay 1.6.9 client sends (taken from
// its debug output), so the decoder is checked against the real client.
const (
	clientHello = `{"Hello": {"username": "ann", "password": "v1.tok.sig", "room": {"name": "ABCDEFGHJK"}, "version": "1.2.255", "realversion": "1.6.9", "features": {"sharedPlaylists": true, "chat": true, "featureList": true, "readiness": true, "managedRooms": true}}}`
	clientState = `{"State": {"playstate": {"position": 12.5, "paused": false, "doSeek": true}, "ping": {"latencyCalculation": 1764931200.25, "clientLatencyCalculation": 1764931200.31, "clientRtt": 0.002}, "ignoringOnTheFly": {"server": 2}}}`
	clientSet   = `{"Set": {"file": {"name": "clip.webm", "duration": 30.0, "size": 123456}, "ready": {"isReady": true, "manuallyInitiated": false}}}`
)

func TestDecodeClient(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		check func(t *testing.T, m *ClientMessage)
	}{
		{"hello", clientHello, func(t *testing.T, m *ClientMessage) {
			h := m.Hello
			if h == nil || h.Username != "ann" || h.Password != "v1.tok.sig" || h.Room != "ABCDEFGHJK" || h.Version != "1.6.9" || h.Features["chat"] != true {
				t.Fatalf("hello %+v", h)
			}
		}},
		{"state", clientState, func(t *testing.T, m *ClientMessage) {
			s := m.State
			if s == nil || !s.HasPlaystate || s.Position != 12.5 || s.Paused || !s.DoSeek || s.LatencyCalculation != 1764931200.25 ||
				s.ClientLatencyCalculation != 1764931200.31 || s.ClientRTT != 0.002 || s.IgnoreServer != 2 || s.IgnoreClient != 0 {
				t.Fatalf("state %+v", s)
			}
		}},
		{"state without playstate", `{"State": {"ping": {"latencyCalculation": 5}}}`, func(t *testing.T, m *ClientMessage) {
			if m.State == nil || m.State.HasPlaystate || m.State.LatencyCalculation != 5 {
				t.Fatalf("state %+v", m.State)
			}
		}},
		{"set", clientSet, func(t *testing.T, m *ClientMessage) {
			s := m.Set
			if s == nil || s.File == nil || s.File.Name != "clip.webm" || s.File.Duration != 30 || s.File.Size != float64(123456) ||
				s.Ready == nil || !s.Ready.IsReady || s.Ready.ManuallyInitiated {
				t.Fatalf("set %+v", s)
			}
		}},
		{"hashed file", `{"Set": {"file": {"name": "8f3a", "duration": 30, "size": "c0ffee"}}}`, func(t *testing.T, m *ClientMessage) {
			if m.Set.File.Size != "c0ffee" {
				t.Fatalf("size %v", m.Set.File.Size)
			}
		}},
		{"playlist", `{"Set": {"playlistChange": {"files": ["a.mkv", "b.mkv"]}, "playlistIndex": {"index": 1}}}`, func(t *testing.T, m *ClientMessage) {
			if !m.Set.Playlist || len(m.Set.PlaylistFiles) != 2 || m.Set.PlaylistIndex == nil || *m.Set.PlaylistIndex != 1 {
				t.Fatalf("set %+v", m.Set)
			}
		}},
		{"list", `{"List": null}`, func(t *testing.T, m *ClientMessage) {
			if !m.List {
				t.Fatal("no list")
			}
		}},
		{"chat", `{"Chat": "hello \u00e9"}`, func(t *testing.T, m *ClientMessage) {
			if m.Chat == nil || *m.Chat != "hello é" {
				t.Fatalf("chat %v", m.Chat)
			}
		}},
		{"tls", `{"TLS": {"startTLS": "send"}}`, func(t *testing.T, m *ClientMessage) {
			if m.TLS == nil || *m.TLS != "send" {
				t.Fatalf("tls %v", m.TLS)
			}
		}},
		{"two commands", `{"Set": {"ready": {"isReady": false}}, "List": null}`, func(t *testing.T, m *ClientMessage) {
			if m.Set == nil || m.Set.Ready == nil || m.Set.Ready.IsReady || !m.List {
				t.Fatalf("%+v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeClient([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}

func TestDecodeClientRefuses(t *testing.T) {
	for _, tt := range []struct{ name, line string }{
		{"empty", ``},
		{"not json", `GET / HTTP/1.1`},
		{"array", `[1,2]`},
		{"null", `null`},
		{"no command", `{}`},
		{"unknown command", `{"Shell": "rm"}`},
		{"hello wrong type", `{"Hello": {"username": 5}}`},
		{"hello long name", `{"Hello": {"username": "` + strings.Repeat("a", MaxNameLen+1) + `"}}`},
		{"hello long password", `{"Hello": {"username": "a", "password": "` + strings.Repeat("a", MaxPasswordLen+1) + `"}}`},
		{"state position string", `{"State": {"playstate": {"position": "1", "paused": true}}}`},
		{"state position huge", `{"State": {"playstate": {"position": 1e300, "paused": true}}}`},
		{"state position overflow", `{"State": {"playstate": {"position": 1e400, "paused": true}}}`},
		{"state ping huge", `{"State": {"ping": {"latencyCalculation": 1e200}}}`},
		{"set unknown", `{"Set": {"shell": {}}}`},
		{"set file size object", `{"Set": {"file": {"name": "a", "size": {}}}}`},
		{"set room without name", `{"Set": {"room": {}}}`},
		{"too many files", `{"Set": {"playlistChange": {"files": [` + strings.Repeat(`"a",`, MaxFiles) + `"a"]}}}`},
		{"chat object", `{"Chat": {"message": "x"}}`},
		{"chat long", `{"Chat": "` + strings.Repeat("x", MaxChatLen+1) + `"}`},
		{"tls without value", `{"TLS": {}}`},
		{"invalid utf8", "{\"Chat\": \"\xff\"}"},
		{"trailing garbage", `{"List": null} x`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeClient([]byte(tt.line))
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("got %+v, %v; want ErrBadMessage", m, err)
			}
		})
	}
}

func TestLineReader(t *testing.T) {
	in := "first\r\n" + "second\n" + "\n" + strings.Repeat("x", 64) + "\n" + strings.Repeat("y", 65) + "\nafter\n"
	// One byte at a time: lines are assembled across reads.
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(in)), 64)
	for _, want := range []string{"first", "second", "", strings.Repeat("x", 64)} {
		got, err := lr.ReadLine()
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("65 bytes: %v, want ErrLineTooLong", err)
	}
}

func TestLineReaderDoesNotBufferAnOversizeLine(t *testing.T) {
	// An endless line is refused after max bytes, not read to the end.
	r := &countingReader{}
	lr := NewLineReader(r, 16<<10)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("got %v", err)
	}
	if r.n > 32<<10 {
		t.Fatalf("read %d bytes of an endless line", r.n)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += len(p)
	return len(p), nil
}

func TestLineReaderEOF(t *testing.T) {
	lr := NewLineReader(strings.NewReader("whole\npart"), 64)
	if l, err := lr.ReadLine(); err != nil || string(l) != "whole" {
		t.Fatal(l, err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut line: %v", err)
	}
	lr = NewLineReader(strings.NewReader(""), 64)
	if _, err := lr.ReadLine(); !errors.Is(err, io.EOF) {
		t.Fatalf("empty: %v", err)
	}
}

func TestEncode(t *testing.T) {
	b := Encode("Chat", ChatOut{Username: "ann", Message: "<b>hi</b>"})
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("%q does not end in CRLF", b)
	}
	var m map[string]map[string]string
	if err := json.Unmarshal(b, &m); err != nil || m["Chat"]["message"] != "<b>hi</b>" || m["Chat"]["username"] != "ann" {
		t.Fatalf("%s: %v", b, err)
	}
}
