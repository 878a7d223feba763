// Synchronized playback: keeps this browser's player on the room's shared
// position. See docs/sync.md for the algorithm and the messages.
//
// The room (server) owns one playback state:
//   {source, kind, playing, position, rate, updatedAt, duration, version}
// meaning "the media is at `position` seconds at server instant `updatedAt`
// (Unix ms) and, when playing, advances at `rate` from then on". updatedAt may
// lie in the future: a scheduled start everyone begins together.
//
// This module
//   - keeps a clock offset to the server (clock.js),
//   - applies each new state at once (pause, scheduled start, seek),
//   - runs a correction loop that compares the player with the expected
//     position and steers it: nothing inside the dead zone, a playbackRate
//     nudge for small drift, a seek for large drift,
//   - learns how long this player takes to start moving after play() or a
//     seek, and aims ahead by that much,
//   - turns the user's own play/pause/seek into commands for the room, and
//     reports buffering, readiness, duration, the end of the media and its
//     measured drift.

import { Clock, localNow } from "./clock.js";
import { MAX_LOADED_RANGES, T } from "./protocol.js";

export { Clock, localNow };

/** Position of state s at server instant serverMs (engine/playback.PositionAt). */
export function positionAt(s, serverMs) {
  let p = s.position;
  if (s.playing && serverMs > s.updatedAt) p += ((serverMs - s.updatedAt) / 1000) * rateOf(s);
  if (!(p >= 0)) return 0;
  if (s.duration > 0 && p > s.duration) return s.duration;
  return p;
}

/** The rate the state advances at (0 means 1). */
export function rateOf(s) {
  return s && s.rate > 0 ? s.rate : 1;
}

const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

// When the page last came into view (or out of a freeze).
let shownAt = -Infinity;
if (typeof document !== "undefined") {
  const shown = () => {
    if (document.visibilityState === "visible") shownAt = localNow();
  };
  document.addEventListener("visibilitychange", shown);
  document.addEventListener("resume", shown);
}

/**
 * Whether a play or pause the engine did not ask for was the browser's own:
 * Chromium pauses muted and video-only media in a hidden page and plays it
 * again when the page shows; a phone pauses it when it locks. Those are never
 * a member's command. A member's own play or pause comes with a user gesture
 * in the page (the control bar goes through the engine anyway; what is left
 * is the player's context menu, or a click inside a YouTube frame, which
 * activates this page too) or through the media session (media keys, the
 * lock screen), which the engine handles itself.
 */
export function browserMade() {
  if (typeof document === "undefined") return false;
  if (document.visibilityState !== "visible" || localNow() - shownAt < 2000) return true;
  const ua = typeof navigator !== "undefined" ? navigator.userActivation : null;
  return !!ua && !ua.isActive;
}

/** Player adapter for an HTML5 <video> element. */
export class HTML5Adapter {
  constructor(el) {
    this.el = el;
    this.kind = "html5";
    this.fineRate = true; // playbackRate takes any value
    this.handlers = {};
    this.ourSeeks = []; // {to, at}: seeks this module started
    this.primed = false; // it played, and has not seeked since (see warm)
    this.expectPlay = 0;
    this.expectPause = 0;
    this.off = [];
    // A seek under way when the adapter is attached is not the member's: the
    // page's own <video> seeking to the room's position (a media fragment),
    // or the link's start.
    if (el.seeking) this.ourSeeks.push({ to: el.currentTime, at: localNow() });
    const on = (name, fn) => {
      el.addEventListener(name, fn);
      this.off.push(() => el.removeEventListener(name, fn));
    };
    on("seeking", () => {
      this.primed = false;
      const now = localNow();
      this.ourSeeks = this.ourSeeks.filter((x) => now - x.at < 3000);
      // Each seek fires its seeking event later, when currentTime already
      // shows the last seek made: two seeks of ours in a row fire two events
      // that both show the second's target. An event showing any of ours
      // takes the oldest.
      if (this.ourSeeks.some((x) => Math.abs(x.to - el.currentTime) < 0.01)) this.ourSeeks.shift();
      else this.emit("userseek", el.currentTime);
    });
    on("play", () => {
      if (this.expectPlay > 0) this.expectPlay--;
      else this.emit(browserMade() ? "browserplay" : "userplay");
    });
    on("pause", () => {
      if (this.expectPause > 0) this.expectPause--;
      else if (!el.ended) this.emit(browserMade() ? "browserpause" : "userpause");
    });
    on("waiting", () => this.emit("buffering", true));
    on("stalled", () => {
      if (el.readyState < 3) this.emit("buffering", true);
    });
    for (const name of ["playing", "canplay", "canplaythrough", "seeked"]) {
      on(name, () => {
        if (el.readyState >= 3) this.emit("buffering", false);
      });
    }
    on("playing", () => {
      if (!el.seeking) this.primed = true;
    });
    on("emptied", () => {
      this.primed = false;
    });
    on("ended", () => this.emit("ended"));
    on("loadedmetadata", () => this.emit("duration", el.duration));
    on("durationchange", () => this.emit("duration", el.duration));
  }
  on(name, fn) {
    (this.handlers[name] ||= []).push(fn);
  }
  emit(name, arg) {
    for (const fn of this.handlers[name] || []) fn(arg);
  }
  position() {
    return this.el.currentTime;
  }
  seek(t) {
    if (Number.isFinite(this.el.duration) && this.el.duration > 0) t = Math.min(t, this.el.duration);
    t = Math.max(0, t);
    this.ourSeeks.push({ to: t, at: localNow() });
    this.primed = false;
    this.el.currentTime = t;
  }
  /**
   * Whether play() resumes where the player played last: no seek since, so
   * its audio renderer still holds the data there and starts at once
   * (mechanics.resumeLatencyMs).
   */
  warm() {
    return this.primed && !this.el.seeking;
  }
  play() {
    if (!this.el.paused) return Promise.resolve();
    this.expectPlay++;
    const p = this.el.play();
    return Promise.resolve(p).catch((err) => {
      this.expectPlay = 0;
      throw err;
    });
  }
  pause() {
    if (this.el.paused) return;
    this.expectPause++;
    this.el.pause();
  }
  paused() {
    return this.el.paused;
  }
  ended() {
    return this.el.ended;
  }
  seeking() {
    return this.el.seeking;
  }
  buffering() {
    return this.el.seeking || this.el.readyState < 3;
  }
  /** Seconds of media loaded from t on (0 when t is not loaded). */
  bufferedAhead(t) {
    const b = this.el.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t + 0.05 && t < b.end(i)) return b.end(i) - t;
    }
    return 0;
  }
  /** The media loaded, as [start, end] pairs of seconds, in order. */
  loadedRanges() {
    const b = this.el.buffered;
    const out = [];
    for (let i = 0; i < b.length; i++) out.push([b.start(i), b.end(i)]);
    return out;
  }
  rate() {
    return this.el.playbackRate;
  }
  /**
   * Sets the rate; keepPitch false plays it resampled (a trim). Chromium
   * plays a rate other than 1 with the pitch kept through a time stretcher
   * whose start holds the media back ~20 ms at once, whatever the rate, and
   * whose readings then swing by ±5 ms; resampled, the position moves by
   * the rate alone. At rate 1 the media plays straight either way, so the
   * flag is dropped before a trim's rate is set and restored after rate 1.
   */
  setRate(r, keepPitch = true) {
    const el = this.el;
    if (!keepPitch && el.preservesPitch !== false) el.preservesPitch = false;
    if (Math.abs(el.playbackRate - r) > 0.0005) el.playbackRate = r;
    if (keepPitch && el.preservesPitch === false) el.preservesPitch = true;
  }
  duration() {
    const d = this.el.duration;
    return Number.isFinite(d) ? d : 0;
  }
  destroy() {
    for (const f of this.off) f();
    this.off = [];
    this.handlers = {};
  }
}

// YouTube IFrame player states.
const YT_ENDED = 0;
const YT_PLAYING = 1;
const YT_PAUSED = 2;
const YT_BUFFERING = 3;

/**
 * Player adapter for a YouTube IFrame API player (YT.Player). YouTube rounds
 * playbackRate to a few steps, so this adapter is corrected by seeks only.
 */
export class YouTubeAdapter {
  constructor(player) {
    this.p = player;
    this.kind = "youtube";
    this.fineRate = false;
    this.handlers = {};
    this.expectPlay = 0;
    this.expectPause = 0;
    this.lastSeekAt = -Infinity;
    this.playGen = 0; // counts play() and pause() calls, to tell a refusal from a pause
    this.last = null; // {pos, at} of the previous position read
    this.onState = (e) => {
      const st = e && typeof e.data === "number" ? e.data : this.state();
      if (st === YT_PLAYING) {
        this.emit("buffering", false);
        if (this.expectPlay > 0) this.expectPlay--;
        else if (this.wasPaused) this.emit(browserMade() ? "browserplay" : "userplay");
        this.wasPaused = false;
      } else if (st === YT_PAUSED) {
        this.emit("buffering", false);
        if (this.expectPause > 0) this.expectPause--;
        else if (!this.wasPaused) this.emit(browserMade() ? "browserpause" : "userpause");
        this.wasPaused = true;
      } else if (st === YT_BUFFERING) {
        this.emit("buffering", true);
      } else if (st === YT_ENDED) {
        this.wasPaused = true;
        this.emit("ended");
      }
      const d = this.duration();
      if (d > 0) this.emit("duration", d);
    };
    this.wasPaused = true;
    if (typeof player.addEventListener === "function") player.addEventListener("onStateChange", this.onState);
  }
  on(name, fn) {
    (this.handlers[name] ||= []).push(fn);
  }
  emit(name, arg) {
    for (const fn of this.handlers[name] || []) fn(arg);
  }
  state() {
    return typeof this.p.getPlayerState === "function" ? this.p.getPlayerState() : -1;
  }
  position() {
    const t = Number(this.p.getCurrentTime());
    // The IFrame player has no seeking event: a jump the correction loop did
    // not make is the user's own seek.
    const now = localNow();
    if (this.last && !this.paused() && now - this.lastSeekAt > 2000) {
      const want = this.last.pos + ((now - this.last.at) / 1000) * this.rate();
      if (Math.abs(t - want) > 2) this.emit("userseek", t);
    }
    this.last = { pos: t, at: now };
    return t;
  }
  seek(t) {
    this.lastSeekAt = localNow();
    this.last = null;
    const st = this.state();
    this.p.seekTo(Math.max(0, t), true);
    // seekTo starts an unstarted, cued or ended player; the engine seeks
    // only a player it wants paused, so it stays paused.
    if (st !== YT_PLAYING && st !== YT_BUFFERING && st !== YT_PAUSED) {
      this.expectPause++;
      this.p.pauseVideo();
    }
  }
  play() {
    if (this.state() === YT_PLAYING) return Promise.resolve();
    this.expectPlay++;
    const gen = ++this.playGen;
    this.p.playVideo();
    // The IFrame API has no play() promise: autoplay refusal shows as a
    // player that stays unstarted or paused. A player paused since (the
    // room paused) was not refused.
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        const st = this.state();
        if (gen !== this.playGen || st === YT_PLAYING || st === YT_BUFFERING) resolve();
        else {
          this.expectPlay = 0;
          const err = new Error("playback was not allowed to start");
          err.name = "NotAllowedError";
          reject(err);
        }
      }, 1500);
    });
  }
  pause() {
    this.playGen++;
    if (this.paused()) return;
    this.expectPause++;
    this.p.pauseVideo();
  }
  paused() {
    const st = this.state();
    return st !== YT_PLAYING && st !== YT_BUFFERING;
  }
  ended() {
    return this.state() === YT_ENDED;
  }
  seeking() {
    return false;
  }
  buffering() {
    return this.state() === YT_BUFFERING;
  }
  /** The IFrame API does not say what is loaded where. */
  loadedRanges() {
    return null;
  }
  bufferedAhead() {
    return null;
  }
  rate() {
    return Number(this.p.getPlaybackRate ? this.p.getPlaybackRate() : 1) || 1;
  }
  setRate(r) {
    if (typeof this.p.setPlaybackRate !== "function") return;
    const rates = typeof this.p.getAvailablePlaybackRates === "function" ? this.p.getAvailablePlaybackRates() : [r];
    let best = rates[0] ?? r;
    for (const x of rates) if (Math.abs(x - r) < Math.abs(best - r)) best = x;
    if (best !== this.rate()) this.p.setPlaybackRate(best);
  }
  duration() {
    const d = Number(this.p.getDuration ? this.p.getDuration() : 0);
    return Number.isFinite(d) && d > 0 ? d : 0;
  }
  destroy() {
    if (typeof this.p.removeEventListener === "function") this.p.removeEventListener("onStateChange", this.onState);
    this.handlers = {};
  }
}

// How the engine works, not how it is tuned (the tuning is the room's, from
// the sync.* options in hello.sync; see configFromServer).
const mechanics = {
  tickMs: 100, // correction loop period
  settleMs: 300, // after play() or a seek, the media clock is left alone this long
  reportMs: 4000, // drift report period
  trimAfterMs: 2000, // a drift above trimMs for this long is trimmed
  // A trim (a drift inside twice the dead zone) changes the rate by at most
  // this, in percent, and at the room's rate 1 without keeping the pitch
  // (at most about half a semitone, for a second or two): kept, Chromium's
  // stretcher would move the position by ~20 ms as it starts, more than
  // most trims remove. Larger nudges keep the pitch.
  trimPct: 3,
  bufferingAfterMs: 200, // a player that cannot play for this long reports buffering
  // First guesses of how long each way of starting takes until the media
  // clock moves; each is then learned from this player's own starts.
  startLatencyMs: 80, // play() on a paused, ready player (with audio) after a seek
  // play() on a player paused where it played, no seek since: Chromium's
  // audio renderer still holds the data there, and the media clock moved
  // 0-10 ms after play() after pauses of 0.5-12 s, where it moved 60-70 ms
  // after it once the player had seeked (its renderer flushed).
  resumeLatencyMs: 10,
  jumpLatencyMs: 250, // a seek into media not loaded yet until the player can play
  // A seek into loaded media until the player can play: 20-60 ms on an idle
  // machine, 150-550 on a busy one (keyframes 2 s apart); 60-170 ms on the
  // mixed scenario's paths once the file's index is in the cache (player.js
  // fetchTail; 300-700 ms on the 200 ms path when the first seek had to
  // fetch it). It is what each member reports for the room's seek lead
  // until it has measured its own: aimed too short, the start comes late
  // and is caught up by rate (up to sync.join_catch_up_ms), too long, the
  // whole room waits.
  seekInLatencyMs: 250,
  catchUpTryMs: 3000, // a player behind on a slow link tries to jump at most this often (doubling)
  // Before the first jump is learned, it is guessed to take this many round
  // trips longer: the file's index and the data at the target, each a
  // request, over a path whose losses stall it (a late joiner on a 160-190 ms
  // path was ready after 1.2 s: six and a half round trips besides the guess).
  jumpRoundTrips: 6,
  // A seek to media not loaded while the player has loaded other media (its
  // connection to the server is open), before the player has measured one:
  // farLatencyMs and farRoundTrips round trips, and never less than a seek
  // into loaded media. The round trips are the request for the data at the
  // target and half of a loss on the way (a retransmission holds the data
  // at least 200 ms, about a round trip on a slow path); the milliseconds,
  // the media stack sending the request and decoding from the keyframe
  // before the target. On the 200 ms path with 1% loss (docs/sync.md) such
  // a seek took 310-460 ms without a loss and 550-670 with one; a start
  // made late by the rest of a loss is caught up by rate, where aiming for
  // the whole of it would hold every seek of the room back that much.
  farLatencyMs: 250,
  farRoundTrips: 1.5,
  maxMarginMs: 4000, // longest margin of a re-aim after missed starts
  // A late joiner's first start missed by a little (sync.join_catch_up_ms),
  // and the other starts made late that may be caught up (correction,
  // joining), run at up to this multiple of the room's rate (Chromium keeps
  // the pitch; never above 4, where it mutes), the excess proportional to
  // the drift with this time constant, so that it lands without
  // overshooting.
  joinCatchUpRate: 2,
  joinCatchUpTauMs: 200,
};

/**
 * Converts the room's sync settings (hello.sync, from the sync.* options in
 * config/options.go: the only place their defaults live) into the engine's
 * tuning.
 */
export function configFromServer(x) {
  if (!x) return {};
  const keys = {
    dead_zone_ms: "deadZoneMs", // drift left alone
    seek_threshold_ms: "seekThresholdMs", // drift fixed by a seek (fine-rate players)
    youtube_seek_threshold_ms: "youtubeSeekThresholdMs", // drift fixed by a seek (YouTube)
    trim_ms: "trimMs", // a nudge runs until the drift is this small
    catch_up_ms: "catchUpMs", // a nudge removes the drift in about this much time
    max_nudge_pct: "maxNudgePct", // largest rate change, in percent of the rate
    reaim_ms: "reaimMs", // after a start, a drift this large is re-aimed by a seek
    join_catch_up_ms: "joinCatchUpMs", // a late joiner's first start missed by this much is caught up by rate
  };
  const out = {};
  for (const [k, v] of Object.entries(keys)) if (x[k] > 0) out[v] = x[k];
  return out;
}

/**
 * The correction rule (docs/sync.md, "Correction loop"): what to do about a
 * player that is p.drift ms away from the room's position (positive: ahead).
 * It depends only on its arguments:
 *
 *   tune  the room's tuning (configFromServer) and trimAfterMs
 *   p     {drift, rate: the room's rate, fine: the player takes any
 *         playbackRate (false for YouTube), nudging: a nudge is running,
 *         afterStart: the first settled reading after a start,
 *         starting: a start about to be made late (drift: how late, in
 *         media ms, negative), the player paused and ready,
 *         joining: that start is a late joiner's first, follows a
 *         seek whose data came late, or was ready and ran late (a late
 *         timer, a clock that moved): any may be caught up by rate,
 *         catching: a late joiner's first start, made late, is being
 *         caught up by rate,
 *         afterNudge: the first settled reading after a nudge ended,
 *         trimming: the running nudge is a trim,
 *         sustainedMs: how long the drift has stayed above trimMs,
 *         dtMs: time since the previous reading}
 *
 * It returns {action: "none" | "nudge" | "seek", rate, nudging, trimming,
 * pitch: whether the rate keeps the pitch}. The
 * browser tests run it over the cases in tools/synctest/testdata/correction.json.
 */
export function correction(tune, p) {
  const base = p.rate > 0 ? p.rate : 1;
  const none = { action: "none", rate: base, nudging: false, trimming: false, pitch: true };
  const seek = { ...none, action: "seek" };
  if (!Number.isFinite(p.drift)) return none;
  const mag = Math.abs(p.drift);
  const seekAt = p.fine ? tune.seekThresholdMs : tune.youtubeSeekThresholdMs;
  // Right after a start an error above reaimMs is re-aimed: a fine-rate
  // player would take seconds to nudge it away, and a YouTube player, which
  // cannot nudge, would keep it up to its seek threshold.
  if (mag >= seekAt || (p.afterStart && mag > tune.reaimMs)) return seek;
  // A late joiner's first start made late is run fast until it is within
  // trimMs (or ahead): the excess rate is proportional to the drift (time
  // constant joinCatchUpTauMs, never shorter than twice the time between
  // readings), so it slows down as it lands.
  if (p.catching) {
    if (p.drift >= -tune.trimMs) return none;
    const top = Math.min(tune.joinCatchUpRate, 4 / base) - 1;
    const delta = clamp(-p.drift / Math.max(tune.joinCatchUpTauMs, 2 * (p.dtMs || 0)), 0, top);
    return { ...none, action: "nudge", rate: Math.round(base * (1 + delta) * 1000) / 1000, nudging: true };
  }
  // A start the player was not ready for in time: at most the dead zone
  // late it is made now and trimmed right after; later, it is aimed again
  // (a short seek into what is loaded), since the nudge would take seconds
  // to remove the error and the player would sit that far off meanwhile.
  // A late joiner's first start missed by at most joinCatchUpMs is made
  // now and caught up by rate (catching, above): aimed again it would wait
  // for another seek and start, half a second and more, and the aim of a
  // join has to guess a whole chain of requests. So is any start the
  // player was ready for that ran late (joining: a late timer).
  if (p.starting && mag > tune.deadZoneMs && p.joining && p.fine && mag <= tune.joinCatchUpMs) {
    return correction(tune, { ...p, starting: false, joining: false, catching: true });
  }
  if (p.starting) return mag > tune.deadZoneMs ? seek : none;
  if (!p.fine) return none;
  // A nudge starts outside the dead zone, or for a smaller drift that stays
  // above trimMs, or that is above half of it right after a start or a
  // nudge (the player is being aligned anyway), and runs until the drift is
  // under a quarter of trimMs.
  const starts =
    mag > tune.deadZoneMs ||
    ((p.afterStart || p.afterNudge) && mag > tune.trimMs / 2) ||
    (mag > tune.trimMs && p.sustainedMs >= tune.trimAfterMs);
  if (p.nudging ? mag <= tune.trimMs / 4 : !starts) return none;
  // Proportional: the drift decays with a time constant of catchUpMs, and
  // never faster than the readings come (a background tab reads once a
  // second), so the nudge does not overshoot. A drift inside twice the dead
  // zone is trimmed: at most trimPct, without the pitch kept at rate 1. A
  // larger one is nudged up to maxNudgePct with the pitch kept, and becomes
  // a trim once its rate is a trim's; a trim becomes a nudge again only
  // past twice the dead zone.
  const raw = -p.drift / Math.max(tune.catchUpMs, 2 * (p.dtMs || 0));
  const trimCap = tune.trimPct / 100;
  const near = mag <= 2 * tune.deadZoneMs;
  const trimming = !p.nudging || p.trimming ? near : Math.abs(raw) <= trimCap;
  const cap = trimming ? trimCap : tune.maxNudgePct / 100;
  const delta = clamp(raw, -cap, cap);
  const rate = Math.round(base * (1 + delta) * 1000) / 1000;
  return { action: "nudge", rate, nudging: true, trimming, pitch: !(trimming && base === 1) };
}

/**
 * The loaded ranges a drift report carries: at most MAX_LOADED_RANGES (the
 * room keeps no more), those nearest the position when there are more, in
 * order, in ms-rounded seconds (the room counts a range's start 50 ms early
 * and wants half a second from the target on, as bufferedAhead does).
 */
export function reportRanges(ranges, position) {
  const dist = ([a, b]) => (position < a ? a - position : position > b ? position - b : 0);
  const keep = ranges.length <= MAX_LOADED_RANGES ? ranges : [...ranges].sort((x, y) => dist(x) - dist(y)).slice(0, MAX_LOADED_RANGES);
  return keep
    .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && b > a)
    .sort((x, y) => x[0] - y[0])
    .map(([a, b]) => [Math.round(a * 1000) / 1000, Math.round(b * 1000) / 1000]);
}

/** The median of xs (not empty). */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Learned is a latency learned from this player's own measurements: the
 * first guess until the first measurement, then the median of the last few
 * (value), so that one stalled sample does not throw it off, or a high one
 * (high: the second highest of four or more), for a margin that must be
 * long enough.
 */
class Learned {
  constructor(guess, lo, hi) {
    this.guess = guess;
    this.lo = lo;
    this.hi = hi;
    this.xs = [];
  }
  add(x) {
    if (!Number.isFinite(x)) return;
    this.xs.push(clamp(x, this.lo, this.hi));
    if (this.xs.length > 7) this.xs.shift();
  }
  get value() {
    return this.xs.length ? median(this.xs) : this.guess;
  }
  forget() {
    this.xs = [];
  }
  get high() {
    if (!this.xs.length) return this.guess;
    const s = [...this.xs].sort((a, b) => b - a);
    return s.length >= 4 ? s[1] : s[0];
  }
}

/**
 * SyncEngine steers one player (through an adapter) onto the room's state.
 *
 * options:
 *   send(msg)       sends a message on the room socket
 *   canControl()    whether this member may play, pause and seek
 *   config          overrides of the mechanics and the tuning (hello.sync
 *                   brings the room's tuning)
 *   container       element the "click to join playback" prompt goes in
 *   onStatus(st)    called when the status shown to the user changes
 *   onNotice(text)  a one-line message for the user
 */
export class SyncEngine {
  constructor(options) {
    this.o = options;
    this.cfg = { ...mechanics, ...(options.config || {}) };
    this.clock = options.clock || new Clock(options.send);
    if (typeof this.clock.onChange === "function") this.clock.onChange(() => this.clockMoved());
    this.state = null;
    this.adapter = null;
    this.source = "";
    this.startTimer = 0;
    this.startAt = 0; // the server instant the scheduled start is for
    this.loopTimer = 0;
    this.learned = {
      start: new Learned(this.cfg.startLatencyMs, 0, 500),
      resume: new Learned(this.cfg.resumeLatencyMs, 0, 500),
      jump: new Learned(this.cfg.jumpLatencyMs, 40, 4000),
      far: new Learned(this.cfg.farLatencyMs, 40, 4000),
      in: new Learned(this.cfg.seekInLatencyMs, 10, 1000),
    };
    this.pending = null; // {at, since, kind, seeked}: a start waiting for the player to be ready
    this.seekProbe = null; // {since, kind}: a paused seek being timed
    this.misses = 0;
    this.learn = null; // {used, aimed, late, warm}: the first settled sample after a start (an aimed one calibrates the start latency)
    this.spoiled = false; // the player stalled or the browser played it since the start
    this.settleUntil = 0;
    this.reaims = 0;
    this.aboveTrimSince = 0; // local instant the drift went above trimMs
    this.lastTick = 0;
    this.nudging = false;
    this.trimming = false; // the running nudge is a trim
    this.checkAt = 0; // local instant of the first settled reading after a nudge
    this.behind = null; // {tryAt, backoff}: the link is too slow for the room's position
    this.joining = false; // the pending start is a late joiner's first
    this.catching = false; // a late joiner's first start, made late, runs fast until it has caught up
    this.catchFrom = 0; // the position that start was made from
    this.lastStall = -Infinity;
    this.browserPaused = false;
    this.fresh = false; // a player attached and no state applied to it yet
    this.drift = NaN;
    this.bufferingSent = null;
    this.bufSince = 0;
    this.bufTimer = 0;
    this.blocked = false;
    this.prompt = null;
    this.userHoldUntil = 0;
    this.userHoldVersion = 0;
    this.endedSent = 0;
    this.durationSent = "";
    this.lastReport = 0;
    this.simBuffering = false;
    this.log = []; // recent {what, at (server ms), ...} for tests and figures
    this.running = false;
  }

  /**
   * What this player has learned about starting, in ms: start (play() until
   * the media clock moves, a median: aimed both ways) and the margins of a
   * seek to media not loaded with nothing loaded yet (jump: a late
   * joiner's first), to media not loaded with other media loaded (far) and
   * into loaded media (in), high values: a margin too short costs another
   * try, one too long only a little waiting.
   */
  get latency() {
    let jump = this.learned.jump.high;
    const inMs = this.learned.in.high;
    const rtt = this.clock.rtt();
    let far = this.learned.far.high;
    if (!this.learned.jump.xs.length && Number.isFinite(rtt)) {
      // Nothing learned yet (a late joiner's first jump): a seek to media
      // not loaded waits for a request and its data, a few round trips.
      jump = Math.max(jump, this.cfg.jumpLatencyMs + this.cfg.jumpRoundTrips * rtt);
    }
    if (!this.learned.far.xs.length && Number.isFinite(rtt)) {
      far = Math.max(far, this.cfg.farLatencyMs + this.cfg.farRoundTrips * rtt);
    }
    // Data to fetch first never makes a seek quicker than one into loaded media.
    return { start: this.learned.start.value, jump, far: Math.max(far, inMs), in: inMs };
  }

  /** Whether a start made now resumes where the player played (see HTML5Adapter.warm). */
  warmStart() {
    const a = this.adapter;
    return !!a && typeof a.warm === "function" && a.warm();
  }

  /**
   * The start latency of a start made now: learned apart for a player
   * paused where it played, no seek since, which resumes at once, and for
   * one that seeked (mechanics.startLatencyMs, resumeLatencyMs). A start
   * made 60 ms early after a plain pause was trimmed for seconds.
   */
  startLatency() {
    return this.warmStart() ? this.learned.resume.value : this.learned.start.value;
  }

  /**
   * Starts the clock and the correction loop; h is the room's hello, at
   * when it arrived (local ms), if known.
   */
  hello(h, at) {
    this.note("hello");
    this.clock.start(h && h.time, at);
    if (h && h.sync) Object.assign(this.cfg, configFromServer(h.sync));
    if (h && h.playback) this.setState(h.playback, true);
    if (!this.running) {
      this.running = true;
      this.watchPage();
      this.loop();
    }
  }

  /** Handles a server message; returns true when it was a sync message. */
  handle(msg) {
    switch (msg.type) {
      case T.PONG:
        this.clock.onPong(msg);
        return true;
      case T.PLAYBACK:
        this.setState(msg.state, false, msg);
        return true;
    }
    return false;
  }

  /** Stops the clock (connection lost); the player keeps its state. */
  disconnected() {
    this.clock.stop();
  }

  /** Attaches a player for source (the room video's URL). */
  attach(adapter, source) {
    this.detach();
    this.adapter = adapter;
    this.source = source || "";
    this.bufferingSent = null;
    this.bufSince = 0;
    this.nudging = false;
    this.behind = null;
    this.browserPaused = false;
    this.fresh = true;
    adapter.on("userplay", () => this.userCommand(T.PLAY));
    adapter.on("userpause", () => this.userCommand(T.PAUSE));
    adapter.on("userseek", (t) => this.userCommand(T.SEEK, t));
    adapter.on("browserpause", () => this.browserPause());
    adapter.on("browserplay", () => this.browserPlay());
    adapter.on("buffering", (on) => this.playerBuffering(on));
    adapter.on("ended", () => this.reportEnded());
    adapter.on("duration", (d) => this.reportDuration(d));
    // A player is attached once its metadata is loaded: the duration it
    // knows already came before, so it is reported here.
    this.reportDuration(adapter.duration());
    this.note("attach", { position: adapter.position() });
    this.mediaSession(true);
    this.apply();
  }

  detach() {
    this.cancelStart();
    if (this.adapter) this.adapter.destroy();
    this.adapter = null;
    this.mediaSession(false);
    this.hidePrompt();
  }

  /**
   * Media keys, a headset's button and the lock screen's controls are the
   * member's own commands: they go to the room like the control bar's.
   */
  mediaSession(on) {
    const ms = typeof navigator !== "undefined" ? navigator.mediaSession : null;
    if (!ms || typeof ms.setActionHandler !== "function") return;
    const h = {
      play: () => this.userCommand(T.PLAY),
      pause: () => this.userCommand(T.PAUSE),
      seekto: (d) => d && Number.isFinite(d.seekTime) && this.userCommand(T.SEEK, d.seekTime),
      seekbackward: (d) => this.userCommand(T.SEEK, Math.max(0, this.expected() - ((d && d.seekOffset) || 10))),
      seekforward: (d) => this.userCommand(T.SEEK, this.expected() + ((d && d.seekOffset) || 10)),
    };
    for (const [action, fn] of Object.entries(h)) {
      try {
        ms.setActionHandler(action, on ? fn : null);
      } catch {
        /* an action this browser does not know */
      }
    }
  }

  /** Re-synchronises at once when the page comes back into view. */
  watchPage() {
    if (typeof document === "undefined") return;
    const back = () => {
      if (document.visibilityState !== "visible") return;
      setTimeout(() => this.resync(), 0); // a task of its own: currentTime is fresh
    };
    document.addEventListener("visibilitychange", back);
    document.addEventListener("resume", back);
    window.addEventListener("pageshow", back);
  }

  resync() {
    const a = this.adapter;
    const s = this.state;
    if (!this.matches() || this.blocked) return;
    this.note("visible", { paused: a.paused(), browserPaused: this.browserPaused });
    const stopped = this.browserPaused || (s.playing && a.paused() && !this.pending && !this.startTimer);
    this.browserPaused = false;
    this.lastTick = 0;
    if (stopped) this.apply();
    else this.tick();
  }

  /** The browser paused the player (a hidden page, a locked phone): not a command. */
  browserPause() {
    this.browserPaused = true;
    this.cancelStart();
    this.note("browser-pause");
    this.syncBuffering();
  }

  /** The browser played the player on its own (a page shown again). */
  browserPlay() {
    this.note("browser-play");
    this.spoiled = true;
    const s = this.state;
    // A start of our own is being prepared, or the room is paused: not now.
    if (this.pending || this.startTimer || !s || !s.playing) this.adapter.pause();
  }

  serverNow() {
    return this.clock.serverNow();
  }

  expected(serverMs = this.serverNow()) {
    return this.state ? positionAt(this.state, serverMs) : 0;
  }

  note(what, extra) {
    this.log.push({ what, at: this.serverNow(), lt: localNow(), ...extra });
    if (this.log.length > 500) this.log.splice(0, this.log.length - 500);
  }

  matches() {
    return this.state && this.adapter && (!this.source || !this.state.source || this.source === this.state.source);
  }

  setState(s, fromHello, msg) {
    if (!s || typeof s !== "object") return;
    if (this.state && s.version < this.state.version) return;
    if (this.state && s.version === this.state.version && fromHello) return;
    const prev = this.state;
    this.state = s;
    this.held = !!(msg && msg.held);
    if (s.version !== this.userHoldVersion) this.userHoldUntil = 0;
    this.note("state", {
      version: s.version,
      playing: s.playing,
      position: s.position,
      updatedAt: s.updatedAt,
      time: msg && msg.time,
    });
    this.status();
    if (
      prev &&
      prev.source === s.source &&
      prev.playing === s.playing &&
      prev.position === s.position &&
      prev.updatedAt === s.updatedAt &&
      rateOf(prev) === rateOf(s)
    ) {
      return; // only the duration changed
    }
    if (this.rateOnly(prev, s)) return;
    this.apply();
  }

  /**
   * A running player whose state changed only in rate (the room rebased the
   * position at the change) takes the new rate as it plays; the correction
   * loop removes the little drift the message's travel time made. Anything
   * else is applied afresh.
   */
  rateOnly(prev, s) {
    const a = this.adapter;
    if (!prev || !prev.playing || !s.playing || prev.source !== s.source || !this.matches()) return false;
    if (this.pending || this.startTimer || a.paused() || rateOf(prev) === rateOf(s)) return false;
    if (Math.abs(positionAt(prev, s.updatedAt) - s.position) > 0.01) return false;
    this.nudging = false;
    a.setRate(rateOf(s));
    this.note("rate", { rate: rateOf(s) });
    return true;
  }

  /** Applies the current state to the player at once. */
  apply() {
    this.cancelStart();
    const a = this.adapter;
    const s = this.state;
    if (!this.matches()) return;
    const fresh = this.fresh; // the first state applied to this player
    this.fresh = false;
    this.nudging = false;
    this.checkAt = 0;
    this.behind = null;
    this.joining = false;
    this.catching = false;
    this.reaims = 2; // re-aims allowed before the correction loop takes over
    this.misses = 0; // starts missed since (each re-aim then aims twice as far ahead)
    this.learn = null;
    const rate = rateOf(s);
    if (!s.playing) {
      a.pause();
      a.setRate(rate);
      if (Math.abs(a.position() - s.position) > 0.001) this.seekPaused(s.position);
      this.note("paused", { position: s.position });
      this.syncBuffering();
      return;
    }
    if (this.browserPaused && document.visibilityState !== "visible") return; // until the page shows again
    const now = this.serverNow();
    if (s.updatedAt - now > this.startLatency() + 5) {
      // A scheduled start: wait at the start position, then call play()
      // early by the learned start latency so that the media clock starts
      // moving at updatedAt.
      this.prepare(s.position, s.updatedAt, "seek");
      return;
    }
    // Already running (a late joiner, a reconnect, a start we cannot make).
    this.jump(fresh);
  }

  /**
   * Puts the paused player at position, then starts it so that it is there
   * at server instant at. kind says what the seek is, for learning how long
   * it takes: "seek" (anywhere), "jump" (to a position not loaded yet) or
   * "in" (into loaded media).
   */
  prepare(position, at, kind) {
    const a = this.adapter;
    a.pause();
    a.setRate(rateOf(this.state));
    const seeked = Math.abs(a.position() - position) > 0.001;
    // A room's seek goes into loaded media or not; a jump knows already.
    if (kind === "seek") kind = this.seekKind(position);
    if (seeked) a.seek(position);
    this.seekProbe = null;
    this.pending = { at, since: localNow(), kind, seeked };
    this.continueStart();
    this.syncBuffering();
  }

  /**
   * What a seek to position is for this player, for the latency it takes:
   * "in" (into loaded media), "far" (to media not loaded while other media
   * is: the player's connection is warm) or "jump" (nothing loaded yet, or
   * the player does not say).
   */
  seekKind(position) {
    const a = this.adapter;
    if (a.bufferedAhead(position) > 0.5) return "in";
    const r = a.loadedRanges();
    return r && r.length ? "far" : "jump";
  }

  /**
   * Learns how long a seek of a kind (seekKind) took until the player could
   * play. A player behind (its link slower than the media) learns nothing:
   * its seeks wait for a starved link, not for what a seek costs. Nor does
   * a seek whose link brought less than twice its own time of media past
   * the position by the time the player could play: its data came at about
   * the media's rate, so the link, not the path, set how long it took.
   * When the room waits for everyone a starved member is not behind (the
   * room holds for it), and such seeks taught a capped member 1-3 s; its
   * reports then held the room's next seeks to the 1 s lead cap after its
   * link recovered. A seek on a slow path that is not starved gets its data
   * in a burst once it comes (5-100 s of media past the position in the
   * mixed scenario's runs, against 1.0-1.7 s on a link capped below the
   * media's rate).
   */
  learnSeek(kind, ms) {
    if (this.behind) return;
    const ahead = this.adapter ? this.adapter.bufferedAhead(this.adapter.position()) : null;
    if (ahead !== null && ms > 500 * ahead) {
      this.note("seek-starved", { kind, ms, ahead });
      return;
    }
    this.learned[kind].add(ms + (kind === "in" ? 20 : 40));
  }

  /**
   * Forgets the seeks learned so far (the start latency stays: it is the
   * player's, not the link's). A player that falls behind was starved while
   * it learned the last of them: kept, they would stretch its catch-up once
   * the link recovers (a capped player aimed 2 s ahead when its link came
   * back) and, through its reports, the room's seek lead. The first
   * guesses stand until its seeks teach it again.
   */
  forgetSeeks() {
    for (const k of ["jump", "far", "in"]) this.learned[k].forget();
  }

  /**
   * Seeks the paused player (the room is paused). How long that takes
   * until the player could play teaches the seek latency too, so that the
   * room's next seek is scheduled far enough ahead for this player from
   * more than the seeks it made while playing.
   */
  seekPaused(position) {
    const a = this.adapter;
    const ahead = a.bufferedAhead(position);
    const kind = this.seekKind(position);
    a.seek(position);
    this.seekProbe = ahead === null ? null : { since: localNow(), kind };
  }

  /** Learns from a paused seek once the player can play. */
  seekDone() {
    const q = this.seekProbe;
    const a = this.adapter;
    if (!q || !a || a.seeking() || a.buffering()) return;
    this.seekProbe = null;
    // A hidden page's timers and events run late: its figure says nothing.
    if (document.visibilityState !== "visible") return;
    const ms = localNow() - q.since;
    this.learnSeek(q.kind, ms);
    this.note("seek-learned", { ms, kind: q.kind });
  }

  /** Schedules the pending start once the player can play. */
  continueStart() {
    const p = this.pending;
    const a = this.adapter;
    if (!p || !a || this.startTimer) return;
    if (a.seeking() || a.buffering()) return; // the buffering event calls again
    const readyMs = localNow() - p.since;
    if (p.seeked) this.learnSeek(p.kind, readyMs); // how far ahead the next one must aim
    const left = this.clock.toLocal(p.at) - this.startLatency() - localNow();
    this.pending = null;
    if (left < 0) {
      // The data at a seek's target came late (a loss, a slow path): a
      // start only a little late is made now and caught up by rate, as a
      // late joiner's first; aimed again it would wait for another seek.
      this.note("start-late", { readyMs, lateMs: -left, ...this.latency });
      this.startLate(-left, false, p.seeked);
      return;
    }
    this.startAt = p.at;
    this.scheduleStart(this.clock.toLocal(p.at) - this.startLatency());
  }

  /**
   * A start scheduled by the clock's estimate before it moved (a late
   * joiner's is often scheduled on the hello's server time alone, before
   * the first pong: off by the hello's way down and by how long the page
   * took to read it) is scheduled again by the new estimate.
   */
  clockMoved() {
    if (!this.startTimer || !(this.startAt > 0)) return;
    const localAt = this.clock.toLocal(this.startAt) - this.startLatency();
    clearTimeout(this.startTimer);
    this.startTimer = 0;
    if (localAt < localNow()) {
      this.note("start-late", { lateMs: localNow() - localAt, clock: true });
      this.startLate(localNow() - localAt, false, true);
      return;
    }
    this.scheduleStart(localAt);
  }

  /**
   * A start made lateMs late (the player was not ready in time, or the
   * timer fired late on a busy machine): made now when the correction rule
   * lets it (the trim then takes the error away), else aimed again. learn:
   * the start was aimed, late by exactly lateMs, so its error still
   * teaches the start latency. catchable: it may be caught up by rate as a
   * late joiner's first start is (the player was ready late after a seek,
   * or is ready and its start ran late: a late timer, a clock that moved).
   */
  startLate(lateMs, learn, catchable = false) {
    if (!this.adapter) return;
    const rate = rateOf(this.state);
    const joining = this.joining || catchable;
    this.joining = false;
    const c = correction(this.cfg, { drift: -lateMs * rate, rate, fine: this.adapter.fineRate, starting: true, joining });
    if (c.action === "nudge") {
      // Made now and caught up by rate (tick, catchUpRate); it teaches
      // nothing about the start latency.
      this.catchFrom = this.adapter.position();
      this.startNow(false, lateMs);
      this.catching = true;
      this.adapter.setRate(c.rate);
      this.note("catch-up", { lateMs, rate: c.rate });
      return;
    }
    if (c.action !== "seek") {
      this.startNow(learn, lateMs);
      return;
    }
    this.misses++;
    this.retry();
  }

  /**
   * A start the player was not ready for in time. What it loaded while
   * getting ready is not thrown away: when the room's position is loaded
   * now, a short seek into it aims again; when it is not, the link is
   * slower than the media (or very late): the player plays what it has,
   * from where it is, and catches up once the data is there.
   */
  retry() {
    const a = this.adapter;
    const s = this.state;
    // Each further miss in a row doubles the margin: a player still loading takes
    // longer to be ready than its learned seek into loaded media.
    const margin = Math.min(this.latency.in * 2 ** (this.misses - 1), this.cfg.maxMarginMs);
    const at = this.serverNow() + margin + this.latency.start;
    const target = positionAt(s, at);
    const ahead = a.bufferedAhead(target);
    if (ahead === null) {
      this.jump(); // the player does not say what it has loaded
      return;
    }
    if (ahead > 0.5) {
      this.note("reaim-loaded", { to: target });
      this.prepare(target, at, "in");
      return;
    }
    if (!this.behind) {
      this.forgetSeeks();
      this.behind = { tryAt: localNow() + this.cfg.catchUpTryMs, backoff: this.cfg.catchUpTryMs };
    }
    // The row of misses ends here too: the player plays what it has, and a
    // later try to catch up (catchUp) starts a row of its own.
    this.misses = 0;
    this.note("behind", { drift: (a.position() - positionAt(s, this.serverNow())) * 1000 });
    this.startNow(false);
  }

  /**
   * Moves a player that should be playing onto the running position: pause,
   * seek to where the room will be once the seek is done (the learned seek
   * time ahead), and start from there at the right instant. Seeking while
   * playing would be quicker but starts after an unpredictable delay; this
   * way the start is as precise as a scheduled one.
   */
  jump(fresh = false) {
    const s = this.state;
    const a = this.adapter;
    if (!a || !s) return;
    const lat = this.latency;
    const sn = this.serverNow();
    this.joining = fresh;
    const aimed = fresh ? this.aimedAt(a.position(), sn, lat) : 0;
    if (aimed) {
      this.note("aimed", { to: a.position(), margin: aimed - sn });
      this.browserPaused = false;
      this.prepare(a.position(), aimed, "jump");
      return;
    }
    let kind = "jump";
    let at = sn + lat.jump + lat.start;
    const near = positionAt(s, sn + lat.in + lat.start);
    if (a.bufferedAhead(near) > 0.5) {
      kind = "in";
      at = sn + lat.in + lat.start;
    } else if (!fresh && this.seekKind(near) === "far") {
      // Not a first jump: the player has media loaded, its connection is open.
      kind = "far";
      at = sn + lat.far + lat.start;
    }
    const target = positionAt(s, at);
    this.note("jump", { to: target, kind, margin: at - sn });
    this.browserPaused = false;
    this.prepare(target, at, kind);
  }

  /**
   * A player attached already at (or seeking to) position p (the page
   * started loading the video where the room would be, from the room's
   * snapshot; or a link's start) waits there when the room reaches p after
   * the player can start, and within the longest margin of a re-aim: a
   * seek elsewhere would throw away the request under way, and right after
   * the hello the engine's own guess of a seek's cost knows no round trip
   * yet. Returns the server instant the room is at p, 0 when it should
   * seek.
   */
  aimedAt(p, sn, lat) {
    const s = this.state;
    const rate = rateOf(s);
    if (!(p > 0) || !(rate > 0)) return 0;
    const at = s.updatedAt + ((p - s.position) / rate) * 1000;
    const margin = at - sn;
    return margin > lat.start + 20 && margin <= this.cfg.maxMarginMs ? at : 0;
  }

  cancelStart() {
    clearTimeout(this.startTimer);
    this.startTimer = 0;
    this.startAt = 0;
    this.pending = null;
  }

  scheduleStart(localAt) {
    const fire = () => {
      // setTimeout fires a few ms late at best: wake early, then wait out the
      // rest in this task.
      const spinUntil = Math.min(localAt, localNow() + 12);
      while (localNow() < spinUntil) {
        /* wait */
      }
      this.startTimer = 0;
      this.pending = null;
      // A busy machine runs timers late, by 100 ms and more at times. The
      // player is ready where it was aimed: a start only a little late is
      // made now and caught up by rate; aimed again, it would sit paused
      // through another seek and start (250-300 ms on the mixed scenario,
      // for a timer 42 ms late).
      const late = localNow() - localAt;
      if (late > 1) {
        this.note("timer-late", { lateMs: late });
        this.startLate(late, true, true);
        return;
      }
      this.misses = 0;
      this.startNow(true);
    };
    this.startTimer = setTimeout(fire, Math.max(0, localAt - localNow() - 6));
  }

  /**
   * Plays now; learn: the start was aimed (play() called lateMs after the
   * instant it was aimed for), so its error teaches the start latency.
   */
  startNow(learn, lateMs = 0) {
    const a = this.adapter;
    if (!a || this.blocked) return;
    a.setRate(rateOf(this.state));
    const warm = this.warmStart();
    const used = this.startLatency();
    this.settleUntil = localNow() + used + this.cfg.settleMs;
    this.learn = { used, aimed: learn, late: lateMs, warm };
    this.spoiled = false;
    this.note("play");
    a.play().catch((err) => this.playRefused(err));
    this.syncBuffering();
  }

  playRefused(err) {
    if (!err || err.name !== "NotAllowedError") return;
    this.blocked = true;
    this.note("blocked");
    this.showPrompt();
    this.status();
  }

  showPrompt() {
    const box = this.o.container;
    if (!box || this.prompt) return;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "sync-prompt";
    b.textContent = "Click to join playback";
    b.addEventListener("click", () => {
      this.blocked = false;
      this.hidePrompt();
      const a = this.adapter;
      if (!a) return;
      // play() inside the click counts as the user's gesture.
      a.play().then(
        () => this.apply(),
        (e) => this.playRefused(e),
      );
    });
    box.appendChild(b);
    this.prompt = b;
  }

  hidePrompt() {
    if (this.prompt) this.prompt.remove();
    this.prompt = null;
  }

  loop() {
    // Each run is a new task, so currentTime is read fresh.
    this.loopTimer = setTimeout(() => {
      try {
        this.tick();
      } finally {
        this.loop();
      }
    }, this.cfg.tickMs);
  }

  tick() {
    const a = this.adapter;
    const s = this.state;
    if (!this.matches() || this.blocked) return;
    const pos = a.position();
    const sn = this.serverNow();
    if (!Number.isFinite(pos)) return;
    const expected = positionAt(s, sn);
    const drift = (pos - expected) * 1000;
    this.drift = drift;
    this.maybeReport(sn);
    this.syncBuffering();
    const lnow = localNow();
    const dt = this.lastTick ? lnow - this.lastTick : 0;
    this.lastTick = lnow;
    if (lnow < this.userHoldUntil) return; // our own command is on its way
    if (this.simBuffering) return;
    if (!s.playing) {
      if (!a.paused()) a.pause();
      if (Math.abs(drift) > 20 && !a.seeking()) this.seekPaused(s.position);
      else this.seekDone();
      return;
    }
    if (this.pending || this.startTimer) {
      this.continueStart(); // in case no event said the player is ready
      return;
    }
    if (this.browserPaused) {
      if (document.visibilityState !== "visible") return; // the browser wants it paused while hidden
      this.browserPaused = false;
    }
    if (a.ended() && s.duration > 0 && expected >= s.duration - 0.5) return;
    if (a.paused()) {
      // Should be playing: a start we missed, or an ended or refused player.
      if (lnow > this.settleUntil && !a.seeking()) this.jump();
      return;
    }
    if (a.buffering()) {
      this.lastStall = lnow;
      this.spoiled = true;
      return;
    }
    if (this.catching) {
      // A start made late by less than its start latency is made before
      // the room's start instant, and the media clock moves 60-70 ms after
      // play() after a seek: until both have moved, the two positions read
      // the start's, and a drift near 0 says nothing of how late it came.
      if (drift >= -this.cfg.trimMs && (sn < s.updatedAt || pos <= this.catchFrom)) return;
      this.catchUpRate(drift, dt, lnow);
      return;
    }
    if (lnow < this.settleUntil) return;
    let afterStart = false;
    if (this.learn) {
      // The first settled sample after an aimed start says how far off the
      // start latency was: ahead means the media started early. A start
      // that stalled, or was off by more than any start latency, says
      // nothing. After any start (a late one too) the error is trimmed at
      // once rather than left inside the dead zone.
      if (this.learn.aimed) {
        const wallMs = drift / rateOf(s);
        const err = wallMs + this.learn.late; // the start latency's own error
        if (!this.spoiled && Math.abs(err) < 150) this.learned[this.learn.warm ? "resume" : "start"].add(this.learn.used - err);
      }
      // A start that landed ends a row of misses: the next one aims from
      // the learned seek time again, not from a margin doubled while the
      // link was slow.
      if (!this.spoiled && Math.abs(drift) <= this.cfg.deadZoneMs) this.misses = 0;
      this.note(this.learn.aimed ? "learned" : "settled", { drift, spoiled: this.spoiled, misses: this.misses, warm: this.learn.warm, used: this.learn.used, ...this.latency });
      this.learn = null;
      afterStart = this.reaims > 0;
    }
    if (this.behind && this.catchUp(drift, lnow)) return;
    this.correct(drift, afterStart, lnow, dt);
  }

  /**
   * Steers a player that fell behind on a link slower than the media: it
   * plays what it has. One short seek catches up once the room's position
   * is loaded; while the link keeps up again, a jump is tried now and then.
   * Returns true when it did something.
   */
  catchUp(drift, lnow) {
    const a = this.adapter;
    const s = this.state;
    const mag = Math.abs(drift);
    if (mag <= this.cfg.deadZoneMs) {
      this.note("caught-up", { drift });
      this.behind = null;
      this.misses = 0;
      return false;
    }
    const lat = this.latency;
    if (a.bufferedAhead(positionAt(s, this.serverNow() + lat.in + lat.start)) > 0.5) {
      this.behind = null;
      this.jump();
      return true;
    }
    if (mag < this.cfg.seekThresholdMs) return false; // the nudge catches up
    if (lnow >= this.behind.tryAt && lnow - this.lastStall > this.cfg.catchUpTryMs) {
      this.behind.backoff = Math.min(this.behind.backoff * 2, 30000);
      this.behind.tryAt = lnow + this.behind.backoff;
      this.jump();
      return true;
    }
    this.nudging = false;
    a.setRate(rateOf(s));
    return true;
  }

  /**
   * Runs a late joiner's first start, made late, fast until it has caught
   * up (the correction rule's catching case); then the loop takes over as
   * after any start. A drift that grew past the seek threshold instead (a
   * stall) is sought. Caught up within the start's settling time, while
   * the media clock still moves in steps (it may read 10-15 ms ahead just
   * as it starts, then fall 20-50 ms back), it runs at the room's rate and
   * goes on catching up if it falls behind again.
   */
  catchUpRate(drift, dt, lnow) {
    const a = this.adapter;
    const c = correction(this.cfg, { drift, rate: rateOf(this.state), fine: a.fineRate, catching: true, dtMs: dt });
    if (c.action === "nudge") {
      a.setRate(c.rate);
      return;
    }
    if (c.action !== "seek" && lnow < this.settleUntil) {
      a.setRate(rateOf(this.state));
      return;
    }
    this.catching = false;
    this.nudging = false;
    this.checkAt = localNow() + this.cfg.settleMs;
    a.setRate(rateOf(this.state));
    this.note("caught-up-rate", { drift });
    if (c.action === "seek") this.jump();
  }

  /** Steers the playing player by the correction rule. */
  correct(drift, afterStart, lnow, dt) {
    const a = this.adapter;
    if (Math.abs(drift) <= this.cfg.trimMs) this.aboveTrimSince = 0;
    else if (!this.aboveTrimSince) this.aboveTrimSince = lnow;
    // A nudge's end moves the position a little (the stretcher's or the
    // resampler's delay goes): the first settled reading after it is
    // checked as after a start.
    const afterNudge = !this.nudging && this.checkAt > 0 && lnow >= this.checkAt;
    if (afterNudge) this.checkAt = 0;
    const c = correction(this.cfg, {
      drift,
      rate: rateOf(this.state),
      fine: a.fineRate,
      nudging: this.nudging,
      trimming: this.trimming,
      afterStart,
      afterNudge,
      sustainedMs: this.aboveTrimSince ? lnow - this.aboveTrimSince : 0,
      dtMs: dt,
    });
    if (c.action === "seek") {
      if (afterStart) this.reaims--;
      this.jump();
      return;
    }
    if (c.nudging !== this.nudging || (c.nudging && c.trimming !== this.trimming)) {
      this.note(c.nudging ? (c.trimming ? "trim" : "nudge") : "nudge-end", { drift, rate: c.rate });
    }
    if (this.nudging && !c.nudging) this.checkAt = lnow + this.cfg.settleMs;
    this.nudging = c.nudging;
    this.trimming = c.trimming;
    a.setRate(c.rate, c.pitch);
  }

  /**
   * Reports the drift, and what the room needs to know to schedule starts
   * this player can make: how long the server's messages take to reach it
   * (down), its start latency, its seek latencies into loaded media (seek)
   * and to media not loaded (far), and what it has loaded (ranges, when the
   * player says, with the playback version it follows). The room's lead
   * covers the slowest member.
   */
  maybeReport(sn) {
    if (sn - this.lastReport < this.cfg.reportMs || !Number.isFinite(this.drift)) return;
    this.lastReport = sn;
    const msg = { type: T.DRIFT, t: Math.round(this.drift) };
    const down = this.clock.downDelay ? this.clock.downDelay() : NaN;
    if (Number.isFinite(down)) {
      const lat = this.latency;
      Object.assign(msg, {
        down: Math.round(down),
        start: Math.round(lat.start),
        seek: Math.round(lat.in),
        far: Math.round(lat.far),
      });
      const ranges = this.adapter.loadedRanges();
      if (ranges) {
        msg.ranges = reportRanges(ranges, this.adapter.position());
        // The video they are of: a report still on its way when the room
        // changed the video is not taken for the new one's.
        msg.version = this.state.version;
      }
      this.note("report", msg);
    }
    this.o.send(msg);
  }

  userCommand(kind, t) {
    const s = this.state;
    if (!s || !this.adapter) return;
    const allowed = this.o.canControl ? this.o.canControl() : true;
    if (!allowed) {
      this.notice("Only some members may control playback in this room.");
      this.apply();
      return;
    }
    if (kind === T.PLAY && s.playing) return;
    if (kind === T.PAUSE && !s.playing) return;
    if (kind === T.SEEK && Math.abs(t - this.expected()) < 0.25) return;
    const msg = { type: kind };
    if (kind === T.SEEK) msg.t = t;
    // Leave the player alone until the room's answer arrives.
    this.userHoldUntil = localNow() + 2000;
    this.userHoldVersion = s.version;
    this.note("command", { kind, t });
    this.o.send(msg);
  }

  /** Sends a control command as if the user had clicked (play, pause, seek, rate). */
  command(kind, t) {
    const msg = { type: kind };
    if (t !== undefined) msg.t = t;
    // Leave the player alone until the room's answer arrives: paused here
    // at once, it would otherwise be sought back to the playing room's
    // position (a start missed) while the pause is on its way.
    if (this.state) {
      this.userHoldUntil = localNow() + 2000;
      this.userHoldVersion = this.state.version;
    }
    this.note("command", { kind, t });
    this.o.send(msg);
    if (kind === T.PAUSE && this.adapter) this.adapter.pause();
  }

  playerBuffering(on) {
    if (on && this.state && this.state.playing && !this.pending && !this.startTimer) {
      this.lastStall = localNow();
      this.spoiled = true;
    }
    if (!on && this.pending) this.continueStart();
    if (!on) this.seekDone();
    this.syncBuffering();
  }

  /** Whether this member's player cannot play the room's media now. */
  cannotPlay() {
    const a = this.adapter;
    if (this.simBuffering) return true;
    if (!this.matches() || this.blocked || this.browserPaused || a.ended()) return false;
    return a.buffering();
  }

  /**
   * Reports buffering to the room: on once the player has been unable to
   * play for bufferingAfterMs (a quick seek into loaded media does not hold
   * a room that waits for everyone; a jump that waits for data does, also
   * while the player is paused for it), off at once.
   */
  syncBuffering() {
    const on = this.cannotPlay();
    const now = localNow();
    clearTimeout(this.bufTimer);
    if (!on) this.bufSince = 0;
    else if (this.bufferingSent !== true) {
      if (!this.bufSince) this.bufSince = now;
      const wait = this.bufSince + this.cfg.bufferingAfterMs - now;
      if (wait > 0 && !this.simBuffering) {
        this.bufTimer = setTimeout(() => this.syncBuffering(), wait + 1);
        return;
      }
    }
    if (on === this.bufferingSent) return;
    this.bufferingSent = on;
    this.note("buffering", { on });
    this.o.send({ type: T.BUFFERING, on });
    this.status();
  }

  /** Makes this client report buffering (on) or ready, as a stalled network would. */
  simulateBuffering(on) {
    this.simBuffering = !!on;
    if (on && this.adapter) this.adapter.pause();
    this.syncBuffering();
    if (!on) this.apply();
  }

  reportEnded() {
    const s = this.state;
    if (!s || this.endedSent === s.version) return;
    this.endedSent = s.version;
    this.o.send({ type: T.ENDED, seq: s.version });
  }

  reportDuration(d) {
    const s = this.state;
    if (!s || !(d > 0) || !Number.isFinite(d) || s.duration > 0 || !this.matches()) return;
    const key = s.source + "@" + s.version;
    if (this.durationSent === key) return;
    this.durationSent = key;
    this.o.send({ type: T.DURATION, t: d, seq: s.version });
  }

  notice(text) {
    if (this.o.onNotice) this.o.onNotice(text);
  }

  status() {
    if (!this.o.onStatus) return;
    this.o.onStatus({
      playing: !!(this.state && this.state.playing),
      held: !!this.held,
      blocked: this.blocked,
      buffering: !!this.bufferingSent,
      drift: this.drift,
    });
  }
}
