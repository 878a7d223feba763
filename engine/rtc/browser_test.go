//go:build browser

package rtc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"watchparty/engine/browsertest"
)

// browserPage is a page-free stand-in for the room client: it joins the SFU
// through a tiny HTTP signalling exchange (POST /signal, long-polled
// GET /poll), shares the fake camera when ?share=1 and plays what it
// receives, counting decoded frames.
const browserPage = `<!doctype html>
<meta charset="utf-8"><title>rtc</title>
<video id="v" autoplay playsinline muted></video>
<script type="module">
const q = new URLSearchParams(location.search);
const member = q.get("member");
window.framesSeen = 0;
window.state = "start";
let chain = Promise.resolve();
function post(m) {
  chain = chain.then(() => fetch("/signal?member=" + member, {method: "POST", body: JSON.stringify(m)}))
    .then(async (r) => { if (!r.ok) console.error("signal", m.type, await r.text()); });
  return chain;
}
const pc = new RTCPeerConnection({iceServers: []});
pc.onicecandidate = (e) => { if (e.candidate) post({type: "candidate", candidate: e.candidate.toJSON()}); };
pc.onconnectionstatechange = () => { window.state = pc.connectionState; };
pc.ontrack = (e) => {
  if (e.track.kind !== "video") return;
  const v = document.getElementById("v");
  v.srcObject = new MediaStream([e.track]);
  v.play().catch((err) => console.error("play", err));
  const count = () => { window.framesSeen++; v.requestVideoFrameCallback(count); };
  v.requestVideoFrameCallback(count);
};
async function onMessage(m) {
  if (m.type === "offer") {
    await pc.setRemoteDescription({type: "offer", sdp: m.sdp});
    await pc.setLocalDescription(await pc.createAnswer());
    await post({type: "answer", sdp: pc.localDescription.sdp});
  } else if (m.type === "error" || m.type === "closed") {
    console.error("server", JSON.stringify(m));
  }
}
async function pollLoop() {
  for (;;) {
    const r = await fetch("/poll?member=" + member);
    if (!r.ok) return;
    for (const m of await r.json()) await onMessage(m);
  }
}
if (q.get("share") === "1") {
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}});
  pc.addTrack(s.getVideoTracks()[0], s);
}
pollLoop();
await post({type: "join"});
if (q.get("share") === "1") await post({type: "publish", tracks: [{kind: "video", source: "camera"}]});
</script>`

// httpSignal relays Signals between pages and the SFU.
type httpSignal struct {
	sfu  *SFU
	room string
	mu   sync.Mutex
	out  map[string][]Signal
	wake map[string]chan struct{}
}

func (hs *httpSignal) wakeup(member string) chan struct{} {
	if hs.wake[member] == nil {
		hs.wake[member] = make(chan struct{}, 1)
	}
	return hs.wake[member]
}

func (hs *httpSignal) send(member string, msg Signal) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.out[member]) < 256 {
		hs.out[member] = append(hs.out[member], msg)
	}
	select {
	case hs.wakeup(member) <- struct{}{}:
	default:
	}
}

func (hs *httpSignal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	member := r.URL.Query().Get("member")
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(browserPage))
	case "/signal":
		var msg Signal
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := hs.sfu.Handle(ctx, hs.room, member, msg); err != nil {
			http.Error(w, CodeOf(err)+": "+err.Error(), http.StatusConflict)
		}
	case "/poll":
		hs.mu.Lock()
		wake := hs.wakeup(member)
		hs.mu.Unlock()
		select {
		case <-wake:
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
		hs.mu.Lock()
		msgs := hs.out[member]
		hs.out[member] = nil
		hs.mu.Unlock()
		if msgs == nil {
			msgs = []Signal{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msgs)
	default:
		http.NotFound(w, r)
	}
}

// TestBrowserCameraShare: one Chromium shares its fake camera through the
// SFU, the other's video element plays it.
func TestBrowserCameraShare(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := &httpSignal{sfu: s, room: "room1", out: map[string][]Signal{}, wake: map[string]chan struct{}{}}
	err = s.OpenRoom("room1", RoomHooks{Send: hs.send, CanPublish: func(id string) bool { return id == "ann" }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hs)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = s.Close()
	})

	sharer := browsertest.New(t, browsertest.WithName("ann"))
	viewer := browsertest.New(t, browsertest.WithName("bob"))
	sharer.Navigate(srv.URL + "/?member=ann&share=1")
	viewer.Navigate(srv.URL + "/?member=bob")

	sharer.WaitJS(`window.state === "connected"`)
	viewer.WaitJS(`window.state === "connected"`)
	viewer.WaitJS(`window.framesSeen > 30`)
	t0 := browsertest.Eval[float64](viewer, `document.getElementById("v").currentTime`)
	viewer.WaitJS(`document.getElementById("v").currentTime > ` + jsNumber(t0+0.5))
	w := browsertest.Eval[int](viewer, `document.getElementById("v").videoWidth`)
	if w == 0 {
		t.Errorf("the viewer's video has no width")
	}
	st := s.State("room1")
	if len(st.Tracks) != 1 || st.Tracks[0].Member != "ann" || st.Tracks[0].Source != SourceCamera {
		t.Errorf("state = %+v, want ann's camera", st)
	}
	if errs := append(sharer.Errors(), viewer.Errors()...); len(errs) > 0 {
		t.Errorf("browser errors: %v", errs)
	}
	t.Logf("viewer decoded %d frames, %d px wide; SFU %+v", browsertest.Eval[int](viewer, `window.framesSeen`), w, s.Stats())
}

func jsNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
