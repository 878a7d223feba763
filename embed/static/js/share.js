// share.js shares screens, cameras and voice through the server's SFU
// (docs/webrtc.md). The page has one RTCPeerConnection; the server makes the
// offers and this side answers. Signalling travels on the room websocket as
// {"type":"rtc","signal":{...}} (docs/protocol.md). While someone shares
// video, a video element takes the player's place. room.js calls
// installShare once; everything else arrives as room:* events. User text
// goes into the page with textContent only.

import { t } from "./i18n.js";
import { T, RTC_SIGNAL } from "./protocol.js";

const levels = { everyone: ["owner", "moderator", "member"], moderators: ["owner", "moderator"], owner: ["owner"] };
const allows = (level, role) => (levels[level] || levels.everyone).includes(role);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

export function installShare({ send, state, player, root, on, emit, store, connected }, debug = {}) {
  const box = document.getElementById("player");

  // ---- page ----
  const video = el("video", { id: "share-video", autoplay: "", playsinline: "" });
  video.muted = true; // sound comes through the audio elements
  const label = el("p", { id: "share-label", class: "share-label" });
  const view = el("div", { id: "share-view", class: "share-view", hidden: "" }, video, label);
  const btn = (id, text, onclick) => el("button", { id, type: "button", text, onclick });
  const bScreen = btn("share-screen", t("share_screen"), () => guard(shareScreen));
  const bCamera = btn("share-camera", t("share_camera"), () => guard(shareCamera));
  const bStop = btn("share-stop", t("share_stop"), () => guard(stopShare));
  const bVoice = btn("share-voice", t("voice"), () => guard(toggleVoice));
  const bMute = btn("share-mute", t("mic_mute"), () => toggleMute());
  const status = el("span", { id: "share-status", class: "share-status muted", role: "status", "aria-live": "polite" });
  const bar = el(
    "div",
    { id: "share-bar", class: "share-bar", hidden: "" },
    bScreen,
    bCamera,
    bStop,
    bVoice,
    bMute,
    status,
  );
  const sounds = el("div", { class: "share-sounds", hidden: "" });
  document.getElementById("screen").append(view);
  document.getElementById("share-slot").append(bar, sounds);

  // ---- state ----
  let cfg = { enabled: false };
  let share = []; // the room's publications: {id, member, name, source, kind}
  let pc = null;
  let gen = 0; // bumps with each peer connection; stale work checks it
  let chain = Promise.resolve();
  let tracks = []; // forwarded tracks of the last offer: {id, mid, member, source, kind}
  const bound = new Map(); // mid -> source: my sending slots
  const local = new Map(); // source -> {track, stream}
  let mode = null; // 'screen' or 'camera' while I share video
  let micByShare = false; // the camera share turned the microphone on
  let pendingCands = [];
  let answered = false;
  let rejoins = 0;
  let refSeq = 0;
  const mine = new Set(); // mids the server gave me as sending slots
  const publishes = new Map(); // ref -> sources, until the server accepts
  Object.assign(debug, { frames: 0, firstFrameAt: 0, sharedAt: 0, joins: 0 });

  const rtc = (signal) => {
    const ref = `rtc${++refSeq}`;
    send({ type: T.RTC, ref, signal });
    return ref;
  };
  const setStatus = (text) => {
    status.textContent = text;
  };
  const me = () => (state.me && state.members.get(state.me.id)) || state.me;
  const rights = () => {
    const m = me();
    const set = state.room?.settings || {};
    const video = !!(m && allows(set.change_video, m.role));
    return { video, mic: video || !!set.voice, voice: !!set.voice };
  };

  async function guard(fn) {
    try {
      await fn();
    } catch (err) {
      setStatus(
        err && err.name === "NotAllowedError"
          ? t("share_denied")
          : t("share_failed", { error: err && err.message ? err.message : err }),
      );
    }
    render();
  }

  // ---- the peer connection ----

  // The frames data channel (docs/webrtc.md) rides on this connection;
  // stream.js takes it through the rtc:frames event (channel null when it
  // is gone) and falls back to its websocket relay without it.
  let framesChannel = null;
  const announceFrames = (channel) => emit("rtc:frames", { channel });

  function openFrames(my) {
    if (framesChannel || !pc) return;
    const dc = pc.createDataChannel("frames", { ordered: false, maxRetransmits: 0 });
    dc.binaryType = "arraybuffer";
    framesChannel = dc;
    dc.onopen = () => {
      if (my === gen && framesChannel === dc) announceFrames(dc);
    };
    dc.onclose = () => {
      if (framesChannel !== dc) return;
      framesChannel = null;
      announceFrames(null);
    };
  }

  function closePeer() {
    gen++;
    if (framesChannel) {
      const dc = framesChannel;
      framesChannel = null;
      dc.onopen = null;
      dc.onclose = null;
      announceFrames(null);
    }
    if (pc) {
      pc.onicecandidate = null;
      pc.onconnectionstatechange = null;
      pc.ontrack = null;
      pc.close();
    }
    pc = null;
    tracks = [];
    bound.clear();
    pendingCands = [];
    answered = false;
    publishes.clear();
    mine.clear();
  }

  function startPeer() {
    closePeer();
    const my = gen;
    debug.joins++;
    pc = new RTCPeerConnection({ iceServers: cfg.ice_servers || [] });
    pc.onicecandidate = (e) => {
      if (my !== gen) return;
      const c = e.candidate ? e.candidate.toJSON() : null;
      if (answered) rtc({ type: RTC_SIGNAL.CANDIDATE, candidate: c });
      else pendingCands.push(c);
    };
    pc.onconnectionstatechange = () => {
      if (my !== gen) return;
      root.dataset.rtc = pc.connectionState;
      if (pc.connectionState === "connected") {
        rejoins = 0;
        openFrames(my);
      }
    };
    pc.ontrack = () => {
      if (my === gen) mapTracks();
    };
    rtc({ type: RTC_SIGNAL.JOIN });
    // After a reconnect, share again what was being shared.
    if (local.size) {
      publish([...local.entries()].map(([source, l]) => ({ source, ...l }))).catch((err) => setStatus(String(err)));
    }
  }

  function transceiver(mid) {
    return pc ? pc.getTransceivers().find((t) => t.mid === mid) : undefined;
  }

  function onSignal(sig) {
    const my = gen;
    chain = chain
      .then(() => handleSignal(sig, my))
      .catch((err) => {
        if (my === gen) setStatus(`WebRTC: ${err && err.message ? err.message : err}`);
      });
  }

  async function handleSignal(sig, my) {
    if (my !== gen || !pc) return;
    switch (sig.type) {
      case RTC_SIGNAL.OFFER: {
        tracks = sig.tracks || [];
        await pc.setRemoteDescription({ type: "offer", sdp: sig.sdp });
        if (my !== gen) return;
        // Put each shared track on the slot the server gave its source.
        // Media may start before the server has applied the answer: it
        // keeps it until the answer names the SSRC (docs/webrtc.md).
        for (const slot of sig.publish || []) {
          const tr = transceiver(slot.mid);
          const l = local.get(slot.source);
          if (!tr || !l) continue;
          mine.add(slot.mid);
          bound.set(slot.mid, slot.source);
          if (tr.direction !== "sendonly" && tr.direction !== "sendrecv") tr.direction = "sendonly";
          if (tr.sender.track !== l.track) await tr.sender.replaceTrack(l.track);
        }
        const slots = new Set((sig.publish || []).map((p) => p.source));
        for (const [ref, sources] of [...publishes]) if (sources.every((s) => slots.has(s))) publishes.delete(ref);
        await pc.setLocalDescription(await pc.createAnswer());
        if (my !== gen) return;
        rtc({ type: RTC_SIGNAL.ANSWER, sdp: pc.localDescription.sdp });
        if (!answered) {
          answered = true;
          for (const c of pendingCands) rtc({ type: RTC_SIGNAL.CANDIDATE, candidate: c });
          pendingCands = [];
        }
        mapTracks();
        break;
      }
      case RTC_SIGNAL.ANSWER:
        await pc.setRemoteDescription({ type: "answer", sdp: sig.sdp });
        break;
      case RTC_SIGNAL.ERROR:
        setStatus(sig.message || "WebRTC error");
        break;
      case RTC_SIGNAL.CLOSED:
        closePeer();
        if (sig.code === "replaced") {
          stopAll();
          setStatus(t("share_replaced"));
          render();
          return;
        }
        if (rejoins < 5 && connected()) {
          const delay = 500 * 2 ** rejoins++;
          setStatus(t("share_reconnecting"));
          setTimeout(() => {
            if (!pc && cfg.enabled && connected()) startPeer();
          }, delay);
        } else {
          setStatus(t("share_failed_conn"));
        }
        break;
    }
  }

  // ---- what I send ----

  // A slot I used before and freed: the server reuses it for the next
  // publish of the same kind, so the track goes there at once.
  function freeSlot(kind) {
    return pc
      .getTransceivers()
      .find(
        (t) =>
          t.mid &&
          mine.has(t.mid) &&
          !bound.has(t.mid) &&
          t.receiver.track &&
          t.receiver.track.kind === kind &&
          !t.sender.track,
      );
  }

  async function publish(list) {
    if (!pc) throw new Error("not connected");
    for (const x of list) {
      local.set(x.source, { track: x.track, stream: x.stream });
      const tr = freeSlot(x.track.kind);
      if (tr) {
        bound.set(tr.mid, x.source);
        await tr.sender.replaceTrack(x.track);
        if (tr.direction !== "sendonly" && tr.direction !== "sendrecv") tr.direction = "sendonly";
      } else {
        pc.addTrack(x.track, x.stream);
      }
    }
    const ref = rtc({ type: RTC_SIGNAL.PUBLISH, tracks: list.map((x) => ({ kind: x.track.kind, source: x.source })) });
    publishes.set(
      ref,
      list.map((x) => x.source),
    );
  }

  // drop stops sending these sources; tell says whether the server must hear it.
  async function drop(sources, tell) {
    const gone = sources.filter((s) => local.has(s));
    if (!gone.length) return;
    if (tell && pc) rtc({ type: RTC_SIGNAL.UNPUBLISH, tracks: gone.map((source) => ({ source })) });
    for (const s of gone) {
      const l = local.get(s);
      local.delete(s);
      l.track.onended = null;
      l.track.stop();
      if (pc) {
        for (const [mid, src] of [...bound]) {
          if (src !== s) continue;
          bound.delete(mid);
          const tr = transceiver(mid);
          if (tr) await tr.sender.replaceTrack(null);
        }
        for (const tr of pc.getTransceivers()) {
          if (tr.sender.track === l.track) await tr.sender.replaceTrack(null);
        }
      }
    }
  }

  function stopAll() {
    for (const l of local.values()) l.track.stop();
    local.clear();
    mode = null;
    micByShare = false;
  }

  async function shareScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
    await startShare("screen", stream, { video: "screen", audio: "screen_audio" });
  }

  async function shareCamera() {
    const withMic = !local.has("microphone");
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: withMic });
    await startShare("camera", stream, { video: "camera", audio: "microphone" });
    micByShare = withMic && local.has("microphone");
  }

  async function startShare(kind, stream, sources) {
    if (mode) await stopShare();
    if (!pc) {
      for (const t of stream.getTracks()) t.stop();
      throw new Error("not connected");
    }
    mode = kind;
    debug.sharedAt = Date.now();
    const list = stream.getTracks().map((track) => ({ source: sources[track.kind], track, stream }));
    for (const x of list) {
      // The browser's own "Stop sharing" ends the track.
      x.track.onended = () => guard(() => (x.track.kind === "video" ? stopShare() : drop([x.source], true)));
    }
    await publish(list);
    setStatus("");
  }

  async function stopShare() {
    const sources = mode === "screen" ? ["screen", "screen_audio"] : ["camera"];
    if (mode === "camera" && micByShare) sources.push("microphone");
    mode = null;
    micByShare = false;
    await drop(sources, true);
  }

  async function toggleVoice() {
    if (local.has("microphone")) {
      micByShare = false;
      await drop(["microphone"], true);
      return;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const track = stream.getAudioTracks()[0];
    track.onended = () => guard(() => drop(["microphone"], true));
    await publish([{ source: "microphone", track, stream }]);
  }

  function toggleMute() {
    const l = local.get("microphone");
    if (!l) return;
    l.track.enabled = !l.track.enabled;
    render();
  }

  // ---- what I receive ----

  const remote = new Map(); // publication id -> MediaStreamTrack

  function mapTracks() {
    remote.clear();
    for (const t of tracks) {
      const tr = transceiver(t.mid);
      if (tr && tr.receiver.track) remote.set(t.id, tr.receiver.track);
    }
    render();
  }

  // The video to show: a screen before a camera, another member's before mine.
  function shown() {
    const mine = state.me?.id;
    const videos = share.filter((s) => s.kind === "video");
    const rank = (s) => (s.source === "screen" ? 0 : 2) + (s.member === mine ? 1 : 0);
    videos.sort((a, b) => rank(a) - rank(b));
    return videos[0] || null;
  }

  let shownTrack = null;
  let playerMuted = null;

  function render() {
    const r = rights();
    const on = cfg.enabled;
    bar.hidden = !on || !(r.video || r.voice || local.size);
    bScreen.hidden = !r.video || !!mode || !navigator.mediaDevices?.getDisplayMedia;
    bCamera.hidden = !r.video || !!mode;
    bStop.hidden = !mode;
    bVoice.hidden = !(r.voice && r.mic) && !local.has("microphone");
    bVoice.textContent = local.has("microphone") ? t("voice_off") : t("voice");
    bVoice.setAttribute("aria-pressed", String(local.has("microphone")));
    const mic = local.get("microphone");
    bMute.hidden = !mic;
    bMute.textContent = mic && !mic.track.enabled ? t("mic_unmute") : t("mic_mute");
    bMute.setAttribute("aria-pressed", String(!!mic && !mic.track.enabled));

    const s = on ? shown() : null;
    let track = null;
    if (s && s.member === state.me?.id) track = local.get(s.source)?.track || null;
    else if (s) track = remote.get(s.id) || null;
    if (s) {
      label.textContent =
        s.member === state.me?.id
          ? t(`share_you_${s.source === "camera" ? "camera" : "screen"}`)
          : t(`share_other_${s.source === "camera" ? "camera" : "screen"}`, { name: s.name || t("someone") });
      view.hidden = false;
      view.dataset.source = s.source;
      view.dataset.member = s.member;
      box.style.display = "none";
      if (player.html && playerMuted === null) {
        playerMuted = player.html.muted;
        player.html.muted = true;
      }
    } else {
      view.hidden = true;
      delete view.dataset.source;
      delete view.dataset.member;
      box.style.display = "";
      if (playerMuted !== null && player.html) player.html.muted = playerMuted;
      playerMuted = null;
    }
    if (track !== shownTrack) {
      shownTrack = track;
      video.srcObject = track ? new MediaStream([track]) : null;
      if (track) video.play().catch(() => {});
    }

    // Every other member's audio plays in its own element.
    const want = new Map();
    if (on) {
      for (const p of share) {
        if (p.kind !== "audio" || p.member === state.me?.id) continue;
        const t = remote.get(p.id);
        if (t) want.set(p.id, { t, member: p.member });
      }
    }
    for (const a of [...sounds.children]) {
      if (!want.has(a.dataset.id)) {
        a.srcObject = null;
        a.remove();
        unmeter(a.dataset.id);
      }
    }
    for (const [id, { t, member }] of want) {
      let a = sounds.querySelector(`audio[data-id="${CSS.escape(id)}"]`);
      if (!a) {
        a = el("audio", { autoplay: "", "data-id": id });
        sounds.append(a);
      }
      if (!a.srcObject || a.srcObject.getAudioTracks()[0] !== t) {
        a.srcObject = new MediaStream([t]);
        a.play().catch(() => {});
        meter(id, member, t);
      }
    }
    if (mic) meter("local", state.me?.id, mic.track);
    else unmeter("local");
  }

  // Frames of the shown video, for the status of the page and the tests.
  const countFrame = () => {
    debug.frames++;
    if (!debug.firstFrameAt) debug.firstFrameAt = Date.now();
    video.requestVideoFrameCallback(countFrame);
  };
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) video.requestVideoFrameCallback(countFrame);

  // ---- speaking indicator ----

  let actx = null;
  const meters = new Map(); // id -> {member, track, analyser, source, buf}
  let ticker = 0;

  function meter(id, member, track) {
    const old = meters.get(id);
    if (old && old.track === track) return;
    unmeter(id);
    if (!window.AudioContext || !member) return;
    actx = actx || new AudioContext();
    const source = actx.createMediaStreamSource(new MediaStream([track]));
    const analyser = actx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    meters.set(id, { member, track, analyser, source, buf: new Float32Array(analyser.fftSize) });
    if (!ticker) ticker = setInterval(tickMeters, 150);
  }

  function unmeter(id) {
    const m = meters.get(id);
    if (!m) return;
    m.source.disconnect();
    meters.delete(id);
    if (!meters.size && ticker) {
      clearInterval(ticker);
      ticker = 0;
      tickMeters();
    }
  }

  function tickMeters() {
    if (actx && actx.state === "suspended") actx.resume().catch(() => {});
    const speaking = new Set();
    for (const m of meters.values()) {
      if (!m.track.enabled || m.track.readyState !== "live") continue;
      m.analyser.getFloatTimeDomainData(m.buf);
      let sum = 0;
      for (const v of m.buf) sum += v * v;
      if (Math.sqrt(sum / m.buf.length) > 0.02) speaking.add(m.member);
    }
    for (const li of document.querySelectorAll("#members li[data-id]")) {
      li.classList.toggle("speaking", speaking.has(li.dataset.id));
    }
  }

  // ---- room events ----

  on(T.HELLO, (h) => {
    cfg = h.webrtc || { enabled: false };
    share = h.share || [];
    if (cfg.enabled) startPeer();
    else {
      closePeer();
      stopAll();
    }
    render();
  });
  on(T.RTC, (m) => {
    if (m.signal) onSignal(m.signal);
  });
  on(T.SHARE, (m) => {
    share = m.share || [];
    render();
  });
  on(T.ERROR, (m) => {
    if (!m.ref || !m.ref.startsWith("rtc")) return;
    setStatus(m.text || t("error_generic"));
    const sources = publishes.get(m.ref);
    if (sources) {
      publishes.delete(m.ref);
      if (sources.includes(mode === "screen" ? "screen" : "camera")) {
        mode = null;
        micByShare = false;
      }
      guard(() => drop(sources, false));
    }
  });
  // Roles and settings change what this member may share.
  let seen = -1;
  store.view((st) => {
    const rev = (st.rev.room || 0) + (st.rev.members || 0);
    if (rev === seen) return;
    seen = rev;
    const r = rights();
    if (mode && !r.video) guard(stopShare);
    else if (local.has("microphone") && !r.mic && !micByShare) guard(() => drop(["microphone"], true));
    else render();
  });
  return debug;
}
