// Package roomtest holds what the tests of the room and of its transports
// share: reading a member's messages the way a page does.
package roomtest

import (
	"encoding/json"
	"strings"
	"testing"
)

// Inbox hands out, one at a time, the room messages a member receives. A
// frame may carry several messages, a line each (engine/room/ws joins
// queued messages so); Frame returns the next frame.
type Inbox struct {
	Frame func() ([]byte, error)
	buf   []map[string]any
	// Seen holds every message handed out so far.
	Seen []map[string]any
}

// Queued is the number of messages read from frames and not handed out yet.
func (in *Inbox) Queued() int { return len(in.buf) }

// Next returns the next message.
func (in *Inbox) Next() (map[string]any, error) {
	for len(in.buf) == 0 {
		data, err := in.Frame()
		if err != nil {
			return nil, err
		}
		for _, part := range strings.Split(string(data), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(part), &m); err != nil {
				return nil, err
			}
			in.buf = append(in.buf, m)
		}
	}
	m := in.buf[0]
	in.buf = in.buf[1:]
	in.Seen = append(in.Seen, m)
	return m, nil
}

// Expect returns the next message of type typ, skipping others.
func (in *Inbox) Expect(t testing.TB, typ string) map[string]any {
	t.Helper()
	for range 10000 {
		m, err := in.Next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m["type"] == typ {
			return m
		}
	}
	t.Fatalf("no %s message", typ)
	return nil
}

// ExpectChat returns the next member chat line (system lines skipped).
func (in *Inbox) ExpectChat(t testing.TB) map[string]any {
	t.Helper()
	for range 10000 {
		m := in.Expect(t, "chat")
		if m["system"] != true {
			return m
		}
	}
	t.Fatal("no chat line")
	return nil
}
