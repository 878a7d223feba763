package room

import (
	"sync"
	"testing"
	"time"
)

func TestVideoLeft(t *testing.T) {
	type left struct {
		room, source, kind string
	}
	var mu sync.Mutex
	var got []left
	svc, _ := newService(t, Options{IdleTimeout: 50 * time.Millisecond, VideoLeft: func(room, source, kind string, pos, dur float64) {
		mu.Lock()
		got = append(got, left{room, source, kind})
		mu.Unlock()
	}})
	serveRooms(t, svc)
	in := mustCreate(t, svc, ann, "")
	a := dial(t, svc, in.Code, ann)
	a.expect("hello")
	a.send(map[string]any{"type": "video", "url": "https://example.org/one.webm"})
	a.expect("video")
	a.send(map[string]any{"type": "video", "url": "https://example.org/two.webm"})
	a.expect("video")
	a.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []left{{in.Code, "https://example.org/one.webm", "file"}, {in.Code, "https://example.org/two.webm", "file"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("video left: %+v, want %+v (a change, then the room's stop)", got, want)
	}
}
