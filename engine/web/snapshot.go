package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"watchparty/engine/media"
	"watchparty/engine/playback"
	"watchparty/engine/room"
)

// The room page carries a snapshot of what the room plays (JSON in a
// <script type="application/json">), so that a member who joins a playing
// room starts loading the video while the page parses, not after the
// room's hello and a /media/play round trip: on a 200 ms path those are
// most of a second. earlyPlayer, an inline script right after the player's
// box, reads it and starts a <video> loading from where the room will be
// when its data has come; player.js takes that element over when the hello
// names the same video (sync.js then starts it at the instant the room
// reaches its position). The hello rules: a snapshot that no longer holds
// is dropped with its element. Only a library file that plays as it is, and
// whose probe is stored, starts early (a converted one needs hls.js, which
// the page loads later); for anything else the snapshot is left out.

// pageSnapshot is the snapshot as the page reads it.
type pageSnapshot struct {
	Video *room.Video     `json:"video"`
	State *playback.State `json:"state"`
	Now   int64           `json:"now"`  // the server's clock when the page was made, Unix ms
	Play  *playInfo       `json:"play"` // the /media/play answer
	Aim   earlyAim        `json:"aim"`
	// Scripts are the page's start-up scripts, its entry and its room
	// module, which earlyFetch adds once it has asked for the file.
	Scripts [2]string `json:"scripts"`
}

// earlyAim is how far ahead of the room's position earlyPlayer starts the
// video: ms plus trips round trips, and at least min ms (see earlyPlayer).
type earlyAim struct {
	Ms    int `json:"ms"`
	Trips int `json:"trips"`
	Min   int `json:"min"`
	Slack int `json:"slack"` // added to what this device's joins cost, once it has learned that
}

// The first guesses of sync.js's mechanics that the early load's aim is
// made of; TestEarlyAimFollowsSyncJS keeps them equal to sync.js's.
const (
	syncJumpLatencyMs  = 250 // mechanics.jumpLatencyMs
	syncStartLatencyMs = 80  // mechanics.startLatencyMs
)

// earlyRoundTrips are the round trips of the early load's chain, fewer than
// sync.js's first guess of a jump after the hello (mechanics.jumpRoundTrips,
// 6: connections of its own): the file's tail on a connection the page has
// open, its head after it, the data at the room's position, and room for
// a loss (it holds a piece about a round trip of a 200 ms path). On that
// path the early script's run until the video was ready there took 0.8-1.2
// s in ten runs (docs/sync.md), where the guess of 6 round trips aimed
// 1.5-1.7 s ahead. 4 was short in four of those ten, by 120-240 ms
// (losses); a late joiner's first start missed by up to
// sync.join_catch_up_ms (500) is made at once and caught up by rate
// (sync.js), so the aim is the chain's usual cost, not its slowest.
const earlyRoundTrips = 4

// theEarlyAim is sync.js's first guess for a seek into media not loaded
// yet (its ms, earlyRoundTrips round trips) and the start latency, at least
// 0.8 s; and the slack over what a device has learned its joins cost (see
// earlyPlayer).
var theEarlyAim = earlyAim{Ms: syncJumpLatencyMs + syncStartLatencyMs, Trips: earlyRoundTrips, Min: 800, Slack: syncStartLatencyMs + 120} //nolint:gochecknoglobals // a constant value of a struct type

// roomSnapshot is the snapshot of room code for its page, nil when there is
// nothing to start early.
func (s *Server) roomSnapshot(c *fiber.Ctx, code string) *pageSnapshot {
	if s.mediaPlay == nil {
		return nil
	}
	snap, err := s.rooms.svc.Snapshot(c.UserContext(), code)
	if err != nil || snap.Video == nil || snap.State == nil || snap.State.Source != snap.Video.URL {
		return nil
	}
	rel, ok := strings.CutPrefix(snap.Video.URL, media.LibraryPrefix)
	if !ok || strings.Contains(rel, "#") {
		return nil // not a library file, or one with subtitles burnt in (converted)
	}
	play, _, err := s.mediaPlay.playAnswer(c.UserContext(), code, rel, -1, false)
	if err != nil || play.HLS || play.Mode != string(media.Direct) {
		return nil
	}
	return &pageSnapshot{Video: snap.Video, State: snap.State, Now: snap.Now, Play: &play, Aim: theEarlyAim, Scripts: s.roomScripts}
}

// earlyFetch is the inline script in the head of a room page with a
// snapshot. A file may keep its index after its media data: a WebM or
// Matroska file its cues as a rule, which the player reads only at its
// first seek (a request more, which left 0.6-1 s after the metadata on a
// busy page), an MP4 written without faststart its moov, which the player
// reads before it has any metadata. The play answer's tail is where the
// player's read of it starts (the server reads the file's headers:
// media.EarlyTail), and the script asks for the file from there first,
// paused room or not (a member's first seek is then as quick as the next;
// player.js fetchTail does the same for a video loaded later): the
// player's read of the index is then answered by the browser's cache (the
// URL names the file's version, media.go fileVersion), and its request for
// the head waits for the tail's. A file whose index comes first gets no
// tail (its head's request carries it). The request's promise is left on
// the snapshot's element (tail) for earlyPlayer, and one of two figures
// (tailTrip), which earlyPlayer aims again by: the ms from the request's
// leaving to its response's first byte (one round trip on a connection the
// page has open, or more when a loss held it), and the ms from the fetch
// to that byte (with the request's wait for a connection, or its
// handshake). Both are the network's (the request's resource timing, read
// once the tail is in), not the instants the page's main thread saw: it is
// busy with the room's scripts then, and on a loaded machine a trip read
// there was 73 ms over the path's, an aim 292 ms long (CI on 487c32b);
// within the browser the request waited 32 ms before it left.
//
// Only then does the script add the page's entry, and the room module once
// the entry is in (on the entry's connection, then idle); such a page has
// no Link header preloading them. The page's own connection is idle once
// the page is in, and Chromium opens one more when the navigation starts;
// a request that finds neither idle opens a connection of its own, a round
// trip more on a new path (its handshake). With both scripts asked for at
// once after the tail, the tail found both connections taken in one run of
// three (the scripts' requests reached them first, 40 ms after the script
// ran); with the room module asked for first and the entry as its import,
// the hello came 200 ms later (the entry was asked for only once the room's
// 46 KB were in and parsed). The tail is on a late joiner's chain (the head
// waits for it, the metadata for the head); the scripts are not, as long as
// the hello is handled before the video is ready at its position. The room
// module added after the page's body began is not render-blocking: the room
// is painted once parsed, before its state is in (a page without a
// snapshot waits for the room module).
//
// The room module is also preloaded (modulepreload) 30 ms after the
// script ran, by when the tail and the entry have taken the two
// connections: it opens a third, and the entry's is idle once the entry is
// in. The player's request for the data at its aim (a 200 ms path's
// round trip after the metadata) then finds an idle connection; when the
// room module followed the entry on its connection, it was often still
// coming, and the request opened a connection of its own (a handshake on
// the chain: 2 runs of 9 in the eleventh round, one of them 2.0 s).
const earlyFetch = `(() => {
  const d = document.getElementById("playback-snapshot");
  let s = null;
  try {
    s = JSON.parse(d.textContent);
    const play = s.play;
    if (Number.isSafeInteger(play.tail) && play.tail > 0 && !play.hls) {
      const sent = performance.now();
      const f = fetch(play.url, { headers: { Range: "bytes=" + play.tail + "-" } });
      d.tail = f.then((r) => r.arrayBuffer()).catch(() => {});
      const url = new URL(play.url, location.href).href;
      d.tailTrip = f.then(() => {
        const seen = performance.now() - sent;
        return d.tail.then(() => {
          const e = performance.getEntriesByName(url).find((x) => x.initiatorType === "fetch");
          if (!e || !(e.requestStart > 0) || !(e.responseStart > e.requestStart)) return [seen, seen];
          return [e.responseStart - e.requestStart, e.responseStart - e.startTime];
        });
      }, () => [0, 0]);
    }
  } catch {
    d.tail = null;
  }
  const [entry, room] = (s && s.scripts) || [];
  const add = (src, then) => {
    const e = document.createElement("script");
    e.type = "module";
    e.src = src;
    if (then) e.onload = e.onerror = then;
    document.head.append(e);
  };
  if (typeof entry === "string" && typeof room === "string") {
    add(entry, () => add(room));
    setTimeout(() => {
      const l = document.createElement("link");
      l.rel = "modulepreload";
      l.href = room;
      document.head.append(l);
    }, 30);
  }
})();`

// earlyPlayer is the room page's inline script that starts the snapshot's
// video (see above). The server's instant in the snapshot is about half a
// round trip before the page's first byte (responseStart); the round trip
// is guessed from the navigation's own timing (a new connection: its
// handshake and the request, two round trips), or its TCP handshake's when
// the browser timed one (connectEnd - connectStart, up to TLS) and it is
// shorter, if the rest of the navigation took at most three times as long
// (through a proxy on this machine the connect takes 0-1 ms, the
// handshake being the proxy's). A loss that held the page's
// first piece (250 ms on the mixed scenario's 200 ms path) makes the
// navigation's guess 125 ms long, and the aim (4 round trips) half a second
// long: once the file's tail is in, the script aims again by the tail's
// round trip (tailTrip, above) when it is shorter by more than 50 ms (the
// path's jitter). A tail that took more than 100 ms over the round trip (a
// loss held it, or it went on a new connection) holds up the file's head
// (its request waits for the tail's response), but not the hello and the
// scripts beside it: the aim is then half that excess further (on the mixed
// scenario's path, with a 250 ms hold, the whole of it aimed 250 ms past
// ready in one run, and none 240 ms short of it in another). Either is done
// only while the video has no metadata
// (setting its position before then is only where it will start: its
// requests are not touched).
// The time the navigation took beyond two such round trips was a hold, up
// or down (which is not known): half of it is counted in the server
// instant's age. The video is aimed at where
// the room will be once the data there has come (the snapshot's aim):
// sync.js's first guess for a seek into media not loaded yet
// (mechanics.jumpLatencyMs and earlyRoundTrips round trips: the file's tail
// and head, and the data at the target, with room for losses; the
// browser's audio output starts meanwhile, below) and the start
// latency (mechanics.startLatencyMs); and at least 0.8 s, as the engine
// can start the player only once the page's scripts have run and the
// room's hello is in (on loopback at a load of 3-11, 150-250 ms after this
// script ran, and the video was ready at its position 350 ms after it; a
// joiner whose aim passed before then seeks again: docs/sync.md). That is
// a first guess: a device that has joined before aims by what its joins
// cost, which player.js keeps in the page's storage (the last five, each
// the ms from this script's run until the player could start at its
// position: the hello in and the video ready there): the slowest of them
// and the aim's slack (the start latency and 120 ms). Anything else found
// there (not a list of at most five whole ms from 100 to 3500) is
// ignored. The file's tail was asked for from the page's head (earlyFetch,
// above); the script gives the video its source only once that tail is in
// (or after 4 s): a head's request made earlier waits only for the tail's
// response to begin. For an MP4 whose index (moov) follows its media data
// the player's read of a block of the moov that has not come yet then goes
// out on its own; for a WebM the head's request finds the tail's
// connection still busy with the rest of the tail (its pieces come up to
// 60 ms apart on the mixed scenario's 200 ms path) and opens one (a
// handshake: the head 200 ms later; 3 runs of 9 in the eleventh round, and
// 1 of 2 experiments in the twelfth). Waiting costs the rest of the tail,
// tens of ms, or its hold when a loss holds it, as the cues in it would.
// A browser's first player with sound waits for its audio output to start
// before it can show a frame: Chromium starts its audio service then (0.25-
// 0.7 s in a fresh headless Chromium on a loaded machine, where PulseAudio
// is refused and ALSA finds no card; docs/sync.md). The script loads a
// silent sound 10 ms long (a WAV made here: the CSP allows blob: media),
// never played, which starts the audio output while the page waits for the
// file's tail and head, and drops it once the video can play.
const earlyPlayer = `(() => {
  const at = performance.now();
  const box = document.getElementById("player");
  const d = document.getElementById("playback-snapshot");
  if (!box || !d) return;
  let s;
  try { s = JSON.parse(d.textContent); } catch { return; }
  const st = s && s.state, play = s && s.play;
  if (!st || !play || play.hls || !play.url || !s.video) return;
  const nav = performance.getEntriesByType("navigation")[0];
  const span = nav && nav.responseStart > nav.connectStart ? nav.responseStart - nav.connectStart : 0;
  let tcp = nav && nav.connectEnd > nav.connectStart ? (nav.secureConnectionStart > nav.connectStart ? nav.secureConnectionStart : nav.connectEnd) - nav.connectStart : 0;
  if (span - tcp > 3 * tcp) tcp = 0;
  const since = nav ? at - nav.responseStart : 0;
  const aim = s.aim || { ms: 0, trips: 0, min: 0, slack: 0 };
  let learned = 0;
  try {
    const j = JSON.parse(localStorage.getItem("wp.join"));
    if (Array.isArray(j) && j.length <= 5 && j.every((x) => Number.isInteger(x) && x >= 100 && x <= 3500)) learned = Math.max(0, ...j);
  } catch {
    learned = 0;
  }
  const place = (rtt, late) => {
    const held = Math.max(0, span - 2 * rtt);
    const serverNow = s.now + rtt / 2 + held / 2 + since;
    let lead = (learned > 0 ? learned + (aim.slack || 0) : Math.max(aim.ms + aim.trips * rtt, aim.min)) + late;
    if (!st.playing) lead = 0;
    let pos = st.position;
    if (st.playing) pos += (Math.max(0, serverNow + lead - st.updatedAt) / 1000) * (st.rate || 1);
    if (st.duration > 0) pos = Math.min(pos, st.duration);
    return { rtt, lead, pos };
  };
  let p = place(tcp > 0 && tcp < span / 2 ? tcp : span / 2, 0);
  const v = document.createElement("video");
  v.preload = "auto";
  v.playsInline = true;
  const start = () => {
    if (v.getAttribute("src") || !v.isConnected) return;
    v.src = play.url;
    if (p.pos > 0) v.currentTime = p.pos;
  };
  const wait = d.tail instanceof Promise;
  if (wait) {
    d.tail.then(start);
    setTimeout(start, 4000);
  }
  if (st.playing) {
    const h = "RIFF\x74\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0data\x50\0\0\0";
    const wav = Uint8Array.from(h + "\x80".repeat(80), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([wav], { type: "audio/wav" }));
    const a = new Audio();
    const done = () => {
      clearTimeout(a.timer);
      a.removeAttribute("src");
      a.load();
      URL.revokeObjectURL(url);
    };
    a.timer = setTimeout(done, 15000);
    a.preload = "auto";
    a.src = url;
    v.addEventListener("canplay", done, { once: true });
    v.addEventListener("error", done, { once: true });
  }
  box.replaceChildren(v);
  if (!wait) start();
  const e = { video: v, kind: s.video.kind, url: s.video.url, info: play, position: p.pos, at, lead: p.lead, rtt: p.rtt, first: p.lead };
  box.early = e;
  if (st.playing && d.tailTrip instanceof Promise) {
    d.tailTrip.then(([r, total]) => {
      if (!(r > 0) || v.readyState > 0 || v.error) return;
      const rtt = r < p.rtt - 50 ? r : p.rtt;
      const late = total - rtt > 100 ? (total - rtt) / 2 : 0;
      if (rtt === p.rtt && !late) return;
      p = place(rtt, late);
      if (v.getAttribute("src") && p.pos > 0) v.currentTime = p.pos;
      Object.assign(e, { position: p.pos, lead: p.lead, rtt: p.rtt, reaimed: performance.now() });
    });
  }
})();`
