package roomtest

import (
	"errors"
	"testing"
)

// A frame that carries two messages is handed out as two, in order; the
// next frame is read only when those are gone, and its error comes back.
func TestInboxSplitsFrames(t *testing.T) {
	frames := [][]byte{[]byte(`{"type":"hello"}` + "\n" + `{"type":"chat","text":"hi","system":true}`), []byte(`{"type":"chat","text":"yo"}`)}
	end := errors.New("closed")
	in := Inbox{Frame: func() ([]byte, error) {
		if len(frames) == 0 {
			return nil, end
		}
		f := frames[0]
		frames = frames[1:]
		return f, nil
	}}
	if m := in.Expect(t, "hello"); m["type"] != "hello" || in.Queued() != 1 {
		t.Fatalf("first: %v, %d queued", m, in.Queued())
	}
	if m := in.ExpectChat(t); m["text"] != "yo" {
		t.Fatalf("member chat line: %v (the system line is skipped)", m)
	}
	if len(in.Seen) != 3 {
		t.Fatalf("seen %d messages, want 3", len(in.Seen))
	}
	if _, err := in.Next(); !errors.Is(err, end) {
		t.Fatalf("after the last frame: %v", err)
	}
}
