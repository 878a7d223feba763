// player.js shows the room's video: YouTube through the IFrame Player API
// (its script URL comes from the server's configuration), direct files in an
// HTML5 <video>. It knows nothing about the websocket; the room tells it what
// to load, and the sync engine drives it through play/pause/seek/rate. Both
// kinds run without their own controls: the room's control bar
// (room/controls.js) is the same for every source, and the local settings a
// member keeps (volume, mute, captions, audio track, quality) are applied
// here. A library video the server converts plays as HLS in the same
// <video> through hls.js (loaded when first needed), or through the
// browser's own HLS where Media Source Extensions are missing.

import { t } from "./i18n.js";

let ytLoading = null;

// loadYouTubeAPI loads the IFrame Player API script once.
export function loadYouTubeAPI(src) {
  if (window.YT && window.YT.Player) return Promise.resolve(window.YT);
  if (!ytLoading) {
    ytLoading = new Promise((resolve, reject) => {
      const prev = window.onYouTubeIframeAPIReady;
      window.onYouTubeIframeAPIReady = () => {
        if (typeof prev === "function") prev();
        resolve(window.YT);
      };
      const s = document.createElement("script");
      s.src = src;
      s.async = true;
      s.onerror = () => {
        ytLoading = null;
        reject(new Error(t("player_yt_load_failed")));
      };
      document.head.appendChild(s);
    });
  }
  return ytLoading;
}

// What this device's joins cost: the ms from the page's early script
// (engine/web/snapshot.go earlyPlayer) until a late joiner could start at
// its position, the room's hello in and the video ready there; the last
// joinSamples of them, which the next join's early script aims by. A value
// out of bounds, or anything but such a list, is dropped.
const joinKey = "wp.join";
const joinSamples = 5;
const joinMinMs = 100;
const joinMaxMs = 3500;

function joinCosts() {
  try {
    const j = JSON.parse(localStorage.getItem(joinKey));
    if (
      Array.isArray(j) &&
      j.length <= joinSamples &&
      j.every((x) => Number.isInteger(x) && x >= joinMinMs && x <= joinMaxMs)
    )
      return j;
  } catch {
    // no storage, or not JSON: nothing learned
  }
  return [];
}

// fetchTail asks for the tail of a file whose index follows its media
// data (a WebM's or Matroska file's cues, an MP4's moov) before its player
// asks for anything: the play answer's tail, the start of the 32 KB block
// holding the index (engine/media EarlyTail). Chromium's player reads a
// WebM's cues only at its first seek, a round trip more on a slow path (and
// a new connection when its own is busy loading) just when the room waits
// for it, and an MP4's moov before its metadata. Read first, the player's
// read is answered by the browser's cache (the URL names the file's
// version). The player is given its source once the whole tail is in (or
// after 4 s), as the early script does (engine/web/snapshot.go
// earlyFetch): its request for the head would wait for the tail's response
// anyway, and then find the tail's connection still busy and open one
// more.
function fetchTail(info) {
  if (!Number.isSafeInteger(info.tail) || !(info.tail > 0) || !info.url) return null;
  return fetch(info.url, { headers: { Range: "bytes=" + info.tail + "-" } })
    .then((r) => r.arrayBuffer())
    .catch(() => {});
}

// learnJoin records what the early video's join cost once it can start at
// its position (now, when it already can). Only a join to a playing room
// counts (one that was aimed: lead > 0). A hidden page's loads and events
// run late: its join says nothing, and neither does a failed load.
function learnJoin(e) {
  const v = e.video;
  if (!(e.lead > 0)) return;
  const done = () => {
    if (v.seeking || v.readyState < 3) return;
    v.removeEventListener("canplay", done);
    v.removeEventListener("seeked", done);
    if (v.error || document.visibilityState !== "visible" || !(e.at >= 0)) return;
    const ms = Math.round(Math.min(joinMaxMs, Math.max(joinMinMs, performance.now() - e.at)));
    try {
      localStorage.setItem(joinKey, JSON.stringify([...joinCosts(), ms].slice(-joinSamples)));
    } catch {
      // no storage: nothing to keep
    }
  };
  if (document.visibilityState !== "visible") return;
  v.addEventListener("canplay", done);
  v.addEventListener("seeked", done);
  done();
}

let hlsLoading = null;

// Containers no browser plays: a library file in one is always converted,
// so its page loads hls.js while the server answers how the file plays.
// Other pages load it only when a video needs it (it is twice the size of
// the rest of the room page).
const convertedContainer = /\.(mkv|avi|wmv|flv|ts|m2ts|mts|mpg|mpeg|vob|3gp|rm|rmvb|asf|divx)$/i;

// loadHLSModule imports hls.js once. Parsing it takes a moment on a slow
// machine, and a converted video cannot start without it.
function loadHLSModule() {
  if (!hlsLoading) {
    hlsLoading = import("./vendor/hls-1.7.4.min.mjs").then(
      (m) => m.default,
      (e) => {
        hlsLoading = null;
        throw e;
      },
    );
  }
  return hlsLoading;
}

export class Player extends EventTarget {
  constructor(el, { youtubeAPI }) {
    super();
    this.el = el;
    this.api = youtubeAPI;
    this.video = null; // what is loaded: {kind, url, id, start, title}
    this.key = "";
    this.html = null; // the <video> element
    this.yt = null; // the YT.Player
    this.gen = 0;
    this.volume = 1;
    this.muted = false;
    this.track = -1; // the chosen subtitle track (-1: off)
    this.info = null; // how a library video plays (the server's /media/play answer)
    this.hls = null; // the hls.js instance of an HLS video
    this.early = null; // the page's early load this player took over (engine/web/snapshot.go)
    // resolve(video) answers how a library video plays; set by the room.
    this.resolve = null;
  }

  // load switches to video (null shows the empty state). Loading what is
  // already loaded does nothing.
  load(video) {
    const key = video ? `${video.kind} ${video.url}` : "";
    if (key === this.key) return;
    this.key = key;
    this.destroy();
    this.video = video;
    this.el.dataset.kind = video ? video.kind : "";
    this.el.dataset.src = video ? video.url : "";
    delete this.el.dataset.ready;
    const early = this.takeEarly(video);
    if (!video) {
      this.el.replaceChildren();
    } else if (video.kind === "youtube") {
      this.loadYouTube(video);
    } else {
      this.loadFile(video, early);
    }
    this.dispatchEvent(new CustomEvent("load", { detail: video }));
  }

  // takeEarly returns the <video> the page started loading from the room's
  // snapshot (engine/web/snapshot.go) when video is what it loads, and
  // stops it otherwise: the room's hello rules.
  takeEarly(video) {
    const e = this.el.early;
    this.el.early = null;
    this.early = null;
    if (!e) return null;
    if (video && video.kind === e.kind && video.url === e.url && !e.video.error) {
      learnJoin(e);
      this.early = e;
      return e;
    }
    e.video.removeAttribute("src");
    e.video.load();
    e.video.remove();
    return null;
  }

  async loadFile(v, early) {
    let info = null;
    if (early) {
      // Started from the snapshot, at the room's position: its start is
      // the sync engine's (it keeps what is loading, sync.js jump).
      info = early.info;
      this.info = info;
    } else if (this.resolve && v.kind === "library") {
      if (convertedContainer.test(v.url || "")) loadHLSModule().catch(() => {}); // loadHLS says when it fails
      const gen = ++this.gen;
      try {
        info = await this.resolve(v);
      } catch (e) {
        if (gen === this.gen) this.failed(e.message || t("player_failed"));
        return;
      }
      if (gen !== this.gen) return;
      this.info = info;
    }
    const el = early ? early.video : document.createElement("video");
    el.controls = false;
    el.playsInline = true;
    el.volume = this.volume;
    el.muted = this.muted;
    el.preload = "auto";
    if (v.title) el.setAttribute("aria-label", v.title);
    const ready = () => {
      if (this.html !== el) return;
      if (v.start && !early) el.currentTime = v.start;
      this.el.dataset.ready = "1";
      if (info && info.subtitles.length) this.addTracks(info.subtitles);
      this.dispatchEvent(new Event("ready"));
    };
    if (early && el.readyState >= 1) queueMicrotask(ready);
    else el.addEventListener("loadedmetadata", ready, { once: true });
    el.addEventListener("error", () => this.failed(t("player_failed")));
    this.html = el;
    if (early) return;
    this.el.replaceChildren(el);
    if (info && info.hls && (window.MediaSource || window.ManagedMediaSource)) this.loadHLS(el, info);
    else {
      const tail = info ? fetchTail(info) : null;
      if (tail) await Promise.race([tail, new Promise((done) => setTimeout(done, 4000))]);
      if (this.html !== el) return;
      el.src = info ? info.url : this.fileURL ? this.fileURL(v) : v.url;
    }
  }

  // loadHLS plays a converted library video through hls.js, starting on the
  // rendition the server suggests (no automatic switching unless the member
  // asks for it: every switch is another conversion on the server).
  async loadHLS(el, info) {
    const gen = this.gen;
    let Hls;
    try {
      Hls = await loadHLSModule();
    } catch {
      if (gen === this.gen) this.failed(t("player_failed"));
      return;
    }
    if (gen !== this.gen || this.html !== el) return;
    const start = this.video?.start;
    const hls = new Hls({
      autoStartLoad: false,
      // The first segment asked for is the one the video starts at.
      startPosition: start > 0 ? start : -1,
      capLevelToPlayerSize: false,
      maxBufferLength: 30,
      backBufferLength: 30,
    });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      // Loading starts on the suggested rendition, chosen before anything
      // is fetched (a switch later would be a second conversion).
      const level = this.levelIndex(info.default);
      hls.startLevel = level;
      hls.loadLevel = level;
      hls.startLoad(start > 0 ? start : -1);
      this.dispatchEvent(new Event("tracks"));
    });
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, () => this.dispatchEvent(new Event("tracks")));
    hls.on(Hls.Events.LEVEL_SWITCHED, () => this.dispatchEvent(new Event("tracks")));
    hls.on(Hls.Events.ERROR, (_, data) => {
      // The server answers 503 with why a part is not ready (every
      // transcoder busy): shown, while hls.js tries again.
      if (data.response?.code === 503 && data.response.text)
        this.dispatchEvent(new CustomEvent("notice", { detail: data.response.text }));
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else this.failed(data.response?.text || t("player_failed"));
    });
    hls.loadSource(info.url);
    hls.attachMedia(el);
  }

  // Audio tracks and qualities of an HLS video, each member's own choice.
  audioTracks() {
    if (!this.hls || !this.info) return [];
    return this.info.audio.map((a, i) => ({ index: i, label: a.label, lang: a.lang, on: this.hls.audioTrack === i }));
  }

  setAudio(index) {
    if (this.hls) this.hls.audioTrack = index;
  }

  levels() {
    if (!this.hls || !this.info) return [];
    return this.info.renditions.map((name, i) => ({ index: i, label: name }));
  }

  // levelIndex is hls.js's level for rendition i of the server's list
  // (hls.js orders its levels by bitrate); -1 stays -1 (the player chooses).
  levelIndex(i) {
    if (!this.hls || !this.info || i < 0) return -1;
    const h = this.info.heights?.[i];
    const at = (this.hls.levels || []).findIndex((l) => l.height === h);
    return at < 0 ? i : at;
  }

  // level is the chosen quality (the server's rendition index), -1 when the
  // player chooses.
  level() {
    if (!this.hls || this.hls.autoLevelEnabled) return -1;
    const l = this.hls.levels?.[this.hls.currentLevel];
    const i = l ? (this.info?.heights || []).indexOf(l.height) : -1;
    return i < 0 ? this.hls.currentLevel : i;
  }

  setLevel(index) {
    if (this.hls) this.hls.currentLevel = this.levelIndex(index);
  }

  async loadYouTube(v) {
    const gen = ++this.gen;
    let YT;
    try {
      YT = await loadYouTubeAPI(this.api);
    } catch (e) {
      if (gen === this.gen) this.failed(e.message);
      return;
    }
    if (gen !== this.gen) return;
    const holder = document.createElement("div");
    this.el.replaceChildren(holder);
    this.yt = new YT.Player(holder, {
      videoId: v.id,
      width: "100%",
      height: "100%",
      playerVars: {
        start: Math.floor(v.start || 0),
        autoplay: 0,
        playsinline: 1,
        rel: 0,
        controls: 0,
        disablekb: 1,
        fs: 0,
        iv_load_policy: 3,
      },
      events: {
        onReady: () => {
          if (gen !== this.gen) return;
          this.applyVolume();
          this.el.dataset.ready = "1";
          this.dispatchEvent(new Event("ready"));
        },
        onError: () => this.failed(t("player_yt_failed")),
      },
    });
  }

  failed(text) {
    this.dispatchEvent(new CustomEvent("failed", { detail: text }));
  }

  destroy() {
    this.gen++;
    if (this.hls) this.hls.destroy();
    this.hls = null;
    this.info = null;
    if (this.yt && typeof this.yt.destroy === "function") this.yt.destroy();
    if (this.html) {
      this.html.pause();
      this.html.removeAttribute("src");
      this.html.load();
    }
    this.yt = null;
    this.html = null;
  }

  // Controls for the sync loop.
  currentTime() {
    if (this.html) return this.html.currentTime;
    if (this.yt && this.yt.getCurrentTime) return this.yt.getCurrentTime();
    return 0;
  }

  play() {
    if (this.html) return this.html.play();
    if (this.yt && this.yt.playVideo) this.yt.playVideo();
    return Promise.resolve();
  }

  pause() {
    if (this.html) this.html.pause();
    else if (this.yt && this.yt.pauseVideo) this.yt.pauseVideo();
  }

  seek(seconds) {
    if (this.html) this.html.currentTime = seconds;
    else if (this.yt && this.yt.seekTo) this.yt.seekTo(seconds, true);
  }

  setRate(rate) {
    if (this.html) this.html.playbackRate = rate;
    else if (this.yt && this.yt.setPlaybackRate) this.yt.setPlaybackRate(rate);
  }

  // Local settings: every member keeps their own.

  setVolume(v) {
    this.volume = Math.min(1, Math.max(0, v));
    if (this.volume > 0) this.muted = false;
    this.applyVolume();
  }

  setMuted(m) {
    this.muted = !!m;
    this.applyVolume();
  }

  applyVolume() {
    if (this.html) {
      this.html.volume = this.volume;
      this.html.muted = this.muted;
    } else if (this.yt && this.yt.setVolume) {
      this.yt.setVolume(Math.round(this.volume * 100));
      if (this.muted) this.yt.mute?.();
      else this.yt.unMute?.();
    }
  }

  duration() {
    if (this.html) return Number.isFinite(this.html.duration) ? this.html.duration : 0;
    if (this.yt && this.yt.getDuration) return Number(this.yt.getDuration()) || 0;
    return 0;
  }

  // bufferedEnd is how far the media is loaded from the current position.
  bufferedEnd() {
    if (this.html) {
      const b = this.html.buffered;
      const now = this.html.currentTime;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= now + 0.5 && b.end(i) >= now) return b.end(i);
      return 0;
    }
    if (this.yt && this.yt.getVideoLoadedFraction) return this.yt.getVideoLoadedFraction() * this.duration();
    return 0;
  }

  // Subtitles (HTML5 video only): tracks() lists them, addTracks adds
  // sidecar files, showTrack picks one for this member (-1 for none).
  tracks() {
    if (!this.html) return [];
    return [...this.html.textTracks].map((tr, i) => ({
      index: i,
      label: tr.label || tr.language || `#${i + 1}`,
      lang: tr.language,
    }));
  }

  addTracks(list) {
    const video = this.html;
    if (!video) return;
    for (const s of list) {
      const track = document.createElement("track");
      track.kind = "subtitles";
      track.src = s.url;
      track.label = s.label;
      if (s.lang) track.srclang = s.lang;
      video.append(track);
    }
    this.dispatchEvent(new Event("tracks"));
  }

  showTrack(index) {
    this.track = index;
    if (!this.html) return;
    [...this.html.textTracks].forEach((tr, i) => {
      tr.mode = i === index ? "showing" : "disabled";
    });
  }

  pip() {
    if (!this.html || !document.pictureInPictureEnabled) return Promise.resolve();
    if (document.pictureInPictureElement) return document.exitPictureInPicture();
    return this.html.requestPictureInPicture();
  }
}
