// stream.js shows a room's frame stream (docs/frames.md): while the room
// streams, the player gives way to a canvas, and members who may change the
// video get a Stream panel to start or stop a stream and to publish from
// their own computer.
//
// With WebRTC on, the canvas is fed by the "frames" data channel that
// share.js opens on the page's RTCPeerConnection (docs/webrtc.md: chunked
// JPEG frames, unordered, no retransmits). Without WebRTC, or when the
// channel is not open within CHANNEL_WAIT_MS, the frames come from the relay
// websocket /r/CODE/frames instead: each relay message is one frame protocol
// frame message (docs/protocol.md, "Frames in the browser"). Either way a
// frame that arrives while the previous one is still being decoded is
// dropped, so the picture stays current.
// User text goes into the page with textContent only.

import { t } from "./i18n.js";
import { T } from "./protocol.js";

const levels = { everyone: ["owner", "moderator", "member"], moderators: ["owner", "moderator"], owner: ["owner"] };
const HEADER = 26; // length(4) type(1) seq(8) captured(8) width(2) height(2) codec(1)
const CHUNK_HEADER = 8; // data channel: seq(4) index(2) count(2)
const CHANNEL_WAIT_MS = 4000;
const transports = { channel: "data channel", relay: "websocket" };

export function installStream({ send, state, root, on, store, sync }, stats = {}) {
  const $ = (id) => document.getElementById(id);
  const base = root.dataset.base || "";
  const code = root.dataset.code;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const view = $("stream-view");
  const canvas = $("stream-canvas");
  const statsLine = $("stream-stats");
  const panel = $("stream-panel");
  const player = $("player");
  if (!view || !canvas || !panel) return;
  const ctx2d = canvas.getContext("2d");

  // Counters, for people debugging a stream and for the browser tests (the
  // room module hands them out as room.stream, the object given here).
  // transport says where the last frame came from; relayOpens counts the
  // relay websockets this page opened.
  Object.assign(stats, {
    frames: 0,
    dropped: 0,
    fps: 0,
    width: 0,
    height: 0,
    latencyMs: NaN,
    lastSeq: 0,
    active: false,
    transport: "",
    relayOpens: 0,
  });

  let current = { active: false };
  let ws = null;
  let attempt = 0;
  let retry = 0;
  let rtcOn = false; // the server runs WebRTC: wait for the data channel first
  let waited = false; // the channel did not open in time: the relay may run
  let fallback = 0;
  let dc = null; // the open frames data channel
  let chunks = null; // the frame being put together from the channel
  let decoding = false;
  let windowFrames = 0;
  let windowStart = performance.now();

  const can = () => {
    const lvl = state.room?.settings?.change_video;
    return !!(state.me && (levels[lvl] || levels.everyone).includes(state.me.role));
  };
  const mayStop = () =>
    !!(
      state.me &&
      current.active &&
      (current.by === state.me.id || state.me.role === "owner" || state.me.role === "moderator")
    );

  function serverNow() {
    const clock = sync && sync.clock;
    return clock && clock.synced ? clock.serverNow() : Date.now();
  }

  // ---- which transport ----

  // route picks the transport for the current state: the data channel when
  // it is open, else the relay (after CHANNEL_WAIT_MS when WebRTC is on).
  function route() {
    if (!current.active || dc) {
      clearTimeout(fallback);
      fallback = 0;
      disconnect();
      return;
    }
    if (ws) return;
    if (rtcOn && !waited) {
      if (!fallback) {
        fallback = setTimeout(() => {
          fallback = 0;
          waited = true;
          route();
        }, CHANNEL_WAIT_MS);
      }
      return;
    }
    connect();
  }

  function onChannel(m) {
    const channel = m && m.channel;
    if (dc === channel) return;
    if (dc) dc.removeEventListener("message", onChunk);
    dc = channel && channel.readyState === "open" ? channel : null;
    chunks = null;
    if (dc) dc.addEventListener("message", onChunk);
    route();
  }

  // onChunk puts frames together from the channel's chunks (docs/webrtc.md):
  // only the newest frame is kept, chunks of older frames are ignored.
  function onChunk(ev) {
    const buf = ev.data;
    if (!(buf instanceof ArrayBuffer) || buf.byteLength <= CHUNK_HEADER || !current.active) return;
    const v = new DataView(buf);
    const seq = v.getUint32(0);
    const idx = v.getUint16(4);
    const count = v.getUint16(6);
    if (count === 0 || idx >= count) return;
    if (chunks && seq !== chunks.seq && ((seq - chunks.seq) | 0) < 0) return;
    if (!chunks || chunks.seq !== seq) {
      if (chunks && !chunks.done) stats.dropped++;
      chunks = { seq, count, got: 0, done: false, parts: new Array(count) };
    }
    if (chunks.done || chunks.count !== count || chunks.parts[idx]) return;
    chunks.parts[idx] = new Uint8Array(buf, CHUNK_HEADER);
    if (++chunks.got < chunks.count) return;
    chunks.done = true;
    const blob = new Blob(chunks.parts, { type: "image/jpeg" });
    chunks.parts = null;
    draw(blob, { seq, capturedMs: 0, width: 0, height: 0 }, transports.channel);
  }

  // ---- the relay ----

  function connect() {
    clearTimeout(retry);
    if (!current.active || ws || dc) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(`${proto}//${location.host}${base}/r/${encodeURIComponent(code)}/frames`);
    sock.binaryType = "arraybuffer";
    ws = sock;
    stats.relayOpens++;
    sock.onopen = () => {
      attempt = 0;
    };
    sock.onmessage = (ev) => onFrame(ev.data);
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (!current.active || dc) return;
      // The stream may still be on (a restart, a stall): try again.
      const delay = Math.min(5000, 250 * 2 ** attempt++);
      retry = setTimeout(connect, delay);
    };
  }

  function disconnect() {
    clearTimeout(retry);
    const sock = ws;
    ws = null;
    if (sock) sock.close(1000);
  }

  function onFrame(buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength <= HEADER) return;
    const dv = new DataView(buf);
    if (dv.getUint8(4) !== 1 || dv.getUint8(25) !== 1) return; // a JPEG frame
    draw(
      new Blob([new Uint8Array(buf, HEADER)], { type: "image/jpeg" }),
      {
        seq: Number(dv.getBigUint64(5)),
        capturedMs: Number(dv.getBigInt64(13)) / 1000,
        width: dv.getUint16(21),
        height: dv.getUint16(23),
      },
      transports.relay,
    );
  }

  // draw decodes one JPEG onto the canvas; meta fields may be 0 (unknown).
  function draw(blob, { seq, capturedMs, width, height }, via) {
    if (decoding) {
      stats.dropped++;
      return;
    }
    decoding = true;
    createImageBitmap(blob)
      .then((bmp) => {
        if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
          canvas.width = bmp.width;
          canvas.height = bmp.height;
        }
        ctx2d.drawImage(bmp, 0, 0);
        stats.width = width || bmp.width;
        stats.height = height || bmp.height;
        bmp.close();
        stats.frames++;
        stats.lastSeq = seq;
        stats.latencyMs = capturedMs > 0 ? serverNow() - capturedMs : NaN;
        stats.transport = via;
        windowFrames++;
      })
      .catch(() => {
        stats.dropped++;
      })
      .finally(() => {
        decoding = false;
      });
  }

  setInterval(() => {
    const now = performance.now();
    stats.fps = (windowFrames * 1000) / Math.max(1, now - windowStart);
    windowFrames = 0;
    windowStart = now;
    if (!current.active) return;
    const parts = [`${stats.fps.toFixed(1)} fps`];
    if (stats.width) parts.push(`${stats.width}×${stats.height}`);
    if (Number.isFinite(stats.latencyMs)) parts.push(`latency ${Math.max(0, Math.round(stats.latencyMs))} ms`);
    if (stats.dropped) parts.push(`${stats.dropped} skipped`);
    if (stats.transport) parts.push(`via ${stats.transport}`);
    statsLine.textContent = parts.join(" · ");
  }, 1000);

  // ---- room state ----

  function apply(st) {
    const was = current.active;
    current = st || { active: false };
    stats.active = !!current.active;
    view.hidden = !current.active;
    player.hidden = !!current.active;
    const about = $("stream-about");
    if (current.active) {
      about.textContent = t("stream_about", { name: current.publisher || t("someone"), source: current.source || "" });
      if (!was) {
        stats.frames = 0;
        stats.dropped = 0;
        stats.lastSeq = 0;
        stats.transport = "";
        chunks = null;
        statsLine.textContent = t("stream_waiting");
      }
    } else {
      about.textContent = "";
    }
    route();
    controls();
  }

  function controls() {
    panel.hidden = !can() && !mayStop();
    $("stream-none").hidden = !panel.hidden || current.active;
    $("stream-form").hidden = !can() || current.active;
    $("stream-publish").hidden = !can();
    $("stream-stop").hidden = !mayStop();
  }

  on(T.HELLO, (m) => {
    rtcOn = !!(m.webrtc && m.webrtc.enabled);
    waited = false;
    apply(m.stream);
  });
  on("rtc:frames", onChannel);
  on(T.STREAM, (m) => {
    $("stream-error").textContent = "";
    apply(m.stream);
    store.update("player");
  });
  on(T.ERROR, (m) => {
    if (m.ref && m.ref.startsWith("stream")) $("stream-error").textContent = m.text || t("error_generic");
  });
  // Settings and roles change what this member may do.
  let seen = -1;
  store.view((s) => {
    const r = (s.rev.room || 0) + (s.rev.members || 0);
    if (r !== seen) {
      seen = r;
      controls();
    }
  });

  // ---- the panel ----

  let refSeq = 0;
  $("stream-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const source = $("stream-source").value.trim();
    if (!source) return;
    if (!send({ type: T.STREAM_START, source, ref: `stream${++refSeq}` })) {
      $("stream-error").textContent = t("not_connected");
      return;
    }
    $("stream-error").textContent = "";
  });
  $("stream-stop").addEventListener("click", () => {
    send({ type: T.STREAM_STOP, ref: `stream${++refSeq}` });
  });
  $("stream-token").addEventListener("click", async () => {
    const out = $("stream-token-out");
    try {
      const res = await fetch(`${base}/r/${encodeURIComponent(code)}/stream/token`, {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
        body: new URLSearchParams({ role: "publisher" }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || t("error_generic"));
      if (!body.addr) {
        out.textContent = t("stream_no_listen");
        return;
      }
      const expires = new Date(body.expires).toLocaleTimeString();
      const cmd = document.createElement("code");
      cmd.className = "break";
      cmd.id = "stream-command";
      cmd.textContent = body.command;
      const copy = document.createElement("button");
      copy.type = "button";
      copy.textContent = t("copy_command");
      copy.addEventListener("click", () => navigator.clipboard?.writeText(body.command));
      const p1 = document.createElement("p");
      p1.textContent = t("stream_command_text", { addr: body.addr, expires });
      out.replaceChildren(p1, cmd, copy);
    } catch (err) {
      out.textContent = String(err.message || err);
    }
  });
  return stats;
}
