package frames

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"watchparty/engine/frames/source"
)

func TestEncodeOncePerFrame(t *testing.T) {
	const viewers, frames = 8, 50
	hub := NewHub(HubOptions{})
	defer hub.Close()
	ctx := context.Background()
	var vs []*Viewer
	for range viewers {
		v, err := hub.Subscribe("ROOM", ViewerOptions{Name: "v"})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	pub, err := hub.Start("ROOM", SourceInfo{Description: "test"})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte{0xff, 0xd8, 0xff, 0xd9}
	for i := range frames {
		if err := pub.Publish(Frame{Width: 2, Height: 2, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			p, err := v.Next(ctx)
			if err != nil || p.Seq != uint64(i+1) {
				t.Fatalf("frame %d: seq %v, %v", i, p, err)
			}
			v.Wrote(p)
		}
	}
	st := hub.Stats()
	if st.FramesPublished != frames || st.FramesEncoded != frames || st.FramesSent != frames*viewers || st.FramesDropped != 0 {
		t.Fatalf("stats %+v: want %d encodes and %d sends", st, frames, frames*viewers)
	}
	if st.Latency.Count != frames*viewers {
		t.Fatalf("latency samples %d", st.Latency.Count)
	}
	pub.Stop()
	for _, v := range vs {
		if _, err := v.Next(ctx); !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("viewer after stop: %v", err)
		}
	}
	if st := hub.Stats(); st.Streams != 0 || st.Viewers != 0 {
		t.Fatalf("hub keeps %d streams and %d viewers after the end", st.Streams, st.Viewers)
	}
}

func TestDropOldest(t *testing.T) {
	for _, qlen := range []int{1, 2} {
		hub := NewHub(HubOptions{QueueLen: qlen})
		v, err := hub.Subscribe("ROOM", ViewerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := hub.Start("ROOM", SourceInfo{})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if err := pub.Publish(Frame{Width: 1, Height: 1, Payload: []byte{1}}); err != nil {
				t.Fatal(err)
			}
		}
		var got []uint64
		for p := v.Pop(); p != nil; p = v.Pop() {
			got = append(got, p.Seq)
			v.Wrote(p)
		}
		want := []uint64{4, 5}[2-qlen:]
		if len(got) != len(want) || got[0] != want[0] {
			t.Fatalf("queue of %d kept %v, want %v", qlen, got, want)
		}
		if vs := v.Stats(); vs.Dropped != uint64(5-qlen) || vs.Sent != uint64(qlen) {
			t.Fatalf("queue of %d: stats %+v", qlen, vs)
		}
		hub.Close()
	}
}

func TestStalledViewerIsKicked(t *testing.T) {
	hub := NewHub(HubOptions{StallTimeout: 20 * time.Millisecond})
	defer hub.Close()
	var kicks int
	var mu sync.Mutex
	v, err := hub.Subscribe("ROOM", ViewerOptions{OnKick: func() { mu.Lock(); kicks++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hub.Start("ROOM", SourceInfo{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Stop()
	frame := Frame{Width: 1, Height: 1, Payload: []byte{1}}
	if err := pub.Publish(frame); err != nil {
		t.Fatal(err)
	}
	if v.Pop() == nil { // the writer takes a frame and never finishes writing it
		t.Fatal("nothing queued")
	}
	for i := 0; v.Err() == nil; i++ {
		if i == 1000 {
			t.Fatal("viewer never kicked")
		}
		time.Sleep(time.Millisecond) // let the stall timeout pass
		if err := pub.Publish(frame); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(v.Err(), ErrStalled) || hub.Stats().ViewersStalled != 1 || hub.State("ROOM").Viewers != 0 {
		t.Fatalf("after the kick: err %v, stats %+v", v.Err(), hub.Stats())
	}
	mu.Lock()
	defer mu.Unlock()
	if kicks != 1 {
		t.Fatalf("OnKick called %d times", kicks)
	}
}

func TestStreamStateAndEvents(t *testing.T) {
	var events []Event
	hub := NewHub(HubOptions{MaxViewers: 2, OnEvent: func(e Event) { events = append(events, e) }})
	if _, err := hub.Start("bad room!", SourceInfo{}); !errors.Is(err, ErrBadRoom) {
		t.Fatalf("bad room: %v", err)
	}
	if st := hub.State("ROOM"); st.Active || st.Viewers != 0 {
		t.Fatalf("state of an unknown room: %+v", st)
	}
	v1, _ := hub.Subscribe("ROOM", ViewerOptions{Name: "a"})
	v2, _ := hub.Subscribe("ROOM", ViewerOptions{Name: "b"})
	if _, err := hub.Subscribe("ROOM", ViewerOptions{Name: "c"}); !errors.Is(err, ErrTooManyViewers) {
		t.Fatalf("third viewer: %v", err)
	}
	pub, err := hub.Start("ROOM", SourceInfo{Description: "file a.mjpeg", Publisher: "alice", FPS: 25, Width: 640, Height: 360})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Start("ROOM", SourceInfo{}); !errors.Is(err, ErrStreamBusy) {
		t.Fatalf("second publisher: %v", err)
	}
	if err := pub.Publish(Frame{Width: 320, Height: 180, Payload: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	st := hub.State("ROOM")
	if !st.Active || st.Source != "file a.mjpeg" || st.Publisher != "alice" || st.DeclaredFPS != 25 ||
		st.Width != 320 || st.Height != 180 || st.Viewers != 2 || st.Frames != 1 {
		t.Fatalf("state %+v", st)
	}
	if states := hub.States(); len(states) != 1 || states[0].Room != "ROOM" {
		t.Fatalf("states %+v", states)
	}
	v1.Close()
	if !hub.Stop("ROOM") || hub.Stop("ROOM") {
		t.Fatal("Stop should report the publisher once")
	}
	if err := pub.Publish(Frame{Width: 1, Height: 1}); !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("publish after stop: %v", err)
	}
	if !errors.Is(v2.Err(), ErrStreamEnded) {
		t.Fatalf("viewer after stop: %v", v2.Err())
	}
	if len(events) != 2 || events[0].Kind != EventStarted || events[1].Kind != EventStopped ||
		events[1].State.Active || !errors.Is(events[1].Err, ErrStreamEnded) {
		t.Fatalf("events %+v", events)
	}
	hub.Close()
	if _, err := hub.Subscribe("ROOM", ViewerOptions{}); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("subscribe to a closed hub: %v", err)
	}
}

// TestFeedEncodesOnce runs a source that JPEG-encodes every frame into a hub
// with several viewers: one JPEG encode and one wire encode per frame.
func TestFeedEncodesOnce(t *testing.T) {
	const frames, viewers = 10, 5
	hub := NewHub(HubOptions{})
	defer hub.Close()
	var vs []*Viewer
	for range viewers {
		v, err := hub.Subscribe("ROOM", ViewerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	src, err := source.NewPattern(640, 360, frames, source.Options{FPS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pub, err := hub.Start("ROOM", SourceInfo{Description: src.Info().Description})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	counts := make([]int, viewers)
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, err := v.Next(context.Background())
				if err != nil {
					return
				}
				v.Wrote(p)
				counts[i]++
			}
		}()
	}
	if err := Feed(context.Background(), src, pub); err != nil {
		t.Fatal(err)
	}
	pub.Stop()
	wg.Wait()
	st := hub.Stats()
	if src.Stats().Encodes != frames || st.FramesEncoded != frames {
		t.Fatalf("JPEG encodes %d, wire encodes %d, want %d each", src.Stats().Encodes, st.FramesEncoded, frames)
	}
	var sent int
	for _, c := range counts {
		sent += c
	}
	if uint64(sent) != st.FramesSent || st.FramesSent+st.FramesDropped != frames*viewers {
		t.Fatalf("sent %d (counted %d) + dropped %d != %d", st.FramesSent, sent, st.FramesDropped, frames*viewers)
	}
}

func TestLatencyHistogram(t *testing.T) {
	var h latencyHist
	for i := range 1000 {
		h.observe(time.Duration(i+1) * time.Microsecond)
	}
	s := h.summary()
	if s.Count != 1000 || s.Max != 1000*time.Microsecond {
		t.Fatalf("summary %+v", s)
	}
	// buckets are about 6% wide
	if s.P50 < 500*time.Microsecond || s.P50 > 535*time.Microsecond || s.P99 < 990*time.Microsecond || s.P99 > 1060*time.Microsecond {
		t.Fatalf("quantiles %+v", s)
	}
	for _, us := range []uint64{0, 15, 16, 17, 31, 32, 1000, 123456789} {
		if i := histIndex(us); histUpper(i) < us || (i > 0 && histUpper(i-1) >= us) {
			t.Fatalf("%d µs in bucket %d [.., %d]", us, i, histUpper(i))
		}
	}
}
