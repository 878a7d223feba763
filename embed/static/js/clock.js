// Clock keeps this browser's estimate of the server's clock.
//
// It works like NTP: the client sends a ping carrying its own send instant t0;
// the server answers with t0 and its own time s; the client notes the arrival
// instant t1. Assuming the two legs take equally long, the server's clock was
// at s when ours was at (t0 + t1) / 2, so
//
//   offset = s - (t0 + t1) / 2      delay = t1 - t0
//
// Whatever the two legs take, the true offset lies within delay / 2 of that
// estimate: each sample is an interval. Round trips cannot tell how a path
// splits between the two directions, so on an asymmetric path (upload
// slower than download) the midpoint is off by half the difference. Devices
// are usually synchronised by NTP, though: when the device's own clock
// (Date.now) lies inside every recent sample's interval, it is the better
// estimate and the clock follows it ("device"); when it does not, the device
// clock is wrong and the round-trip estimate stands ("rtt"): the sample
// whose interval is narrowest now.
//
// An interval widens with the sample's age, by the rate at which two clocks
// may drift apart. (The drift is not estimated: a path that changes its
// asymmetry moves the round trips' offsets just as drift would.) A sample that
// contradicts the others (the local clock stepped: a device that slept) makes
// the clock forget the older ones. A network change, the page coming back
// into view or out of a freeze sends a burst of pings; so does a round trip
// out of line with the recent ones, as when a path changes with no event to
// say so (a link freed or congested, a roam).
//
// The estimate moves toward its target smoothly (a jump of a few ms every
// few seconds would show up as drift and cause needless corrections) unless
// it is far off.
//
// Instants come from performance.timeOrigin + performance.now(): monotonic,
// sub-millisecond, and unaffected by the user changing the wall clock.

import { T } from "./protocol.js";

/** Local wall-clock instant in milliseconds, with sub-millisecond precision. */
export function localNow() {
  return performance.timeOrigin + performance.now();
}

const defaults = {
  burst: 8, // pings sent when (re)connecting or when the network changes
  burstGapMs: 40, // between the burst's pings
  intervalMs: 3000, // between later pings
  windowMs: 120000, // samples kept this long
  maxSamples: 64,
  smoothing: 0.3, // weight of a new target
  jumpMs: 25, // a target this far from the estimate replaces it at once
  timeoutMs: 5000, // a ping unanswered this long is forgotten
  marginMs: 1, // slack of an interval: timer resolution, the server's own work
  maxDriftPpm: 50, // how fast two clocks may drift apart
  recheckMs: 30, // a round trip this far (and half the recent median) from the recent ones sends a burst
};

export class Clock {
  /**
   * @param {(msg: object) => void} send sends one message on the room socket
   * @param {object} [opts] overrides of the defaults above, and for tests
   *   now() (the local clock, localNow) and wall() (the device clock, Date.now)
   */
  constructor(send, opts = {}) {
    this.send = send;
    this.opts = { ...defaults, ...opts };
    this.now = this.opts.now || localNow;
    this.wall = this.opts.wall || (() => Date.now());
    this.samples = []; // {offset, delay, at, dev}
    this.pending = new Map(); // t0 -> whether the ping was one of a burst
    this.offset = 0;
    this.delay = NaN; // of the sample the round-trip estimate follows
    this.source = ""; // "device" or "rtt" once synced
    this.synced = false;
    this.timer = 0;
    this.listeners = [];
    this.watching = false;
  }

  /**
   * Starts (or restarts, after a reconnect) the ping schedule. hintServerMs
   * is the hello's server time, hintAt when the hello arrived (local ms; a
   * page keeps what arrives until its room has loaded, and reading the
   * hint then would put the server's clock behind by that wait).
   */
  start(hintServerMs, hintAt) {
    this.stop();
    if (!this.synced && Number.isFinite(hintServerMs)) {
      // hello carries the server time: good to a one-way delay until the
      // first pong arrives.
      const now = this.now();
      const at = Number.isFinite(hintAt) && hintAt <= now && hintAt > now - this.opts.timeoutMs ? hintAt : now;
      this.offset = hintServerMs - at;
    }
    this.running = true;
    this.watch();
    this.burst();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.running = false;
    this.pending.clear();
  }

  /** Sends a burst of pings, then one every intervalMs. */
  burst() {
    if (!this.running) return;
    clearTimeout(this.timer);
    let left = this.opts.burst;
    const next = () => {
      this.ping(left > 0);
      left--;
      this.timer = setTimeout(next, left > 0 ? this.opts.burstGapMs : this.opts.intervalMs);
    };
    next();
  }

  /** Re-measures when the network or the page's life changes. */
  watch() {
    if (this.watching || typeof window === "undefined") return;
    this.watching = true;
    const again = () => this.burst();
    window.addEventListener("online", again);
    window.addEventListener("pageshow", again);
    document.addEventListener("resume", again);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") again();
    });
    const c = navigator.connection;
    if (c && typeof c.addEventListener === "function") c.addEventListener("change", again);
  }

  ping(inBurst = false) {
    const t0 = this.now();
    const cutoff = t0 - this.opts.timeoutMs;
    for (const t of this.pending.keys()) if (t < cutoff) this.pending.delete(t);
    this.pending.set(t0, inBurst);
    this.send({ type: T.PING, t: t0 });
  }

  /** Handles a pong {t, s}. Returns true when it answered one of our pings. */
  onPong(msg) {
    const t1 = this.now();
    const t0 = Number(msg.t);
    const s = Number(msg.s);
    const inBurst = this.pending.get(t0);
    if (!this.pending.delete(t0) || !Number.isFinite(s)) return false;
    const delay = t1 - t0;
    if (delay < 0) return true;
    // Date.now() is whole milliseconds: its reading is 0.5 ms low on average.
    const x = { offset: s - (t0 + t1) / 2, delay, at: t1, dev: this.wall() + 0.5 - t1 };
    const recheck = !inBurst && this.outOfLine(delay);
    this.add(x);
    this.update(t1);
    for (const fn of this.listeners) fn(this);
    if (recheck) this.burst();
    return true;
  }

  /**
   * Whether a round trip is out of line with the last eight: further from
   * their median than recheckMs and than half the median. The path may
   * have changed, and a burst re-measures it at once where the next eight
   * pings would take intervalMs each; the way down the room's lead counts
   * on (downDelay) follows within a second, not after four or five more
   * pings (12-15 s). A pong held once (a loss) costs a burst of small
   * pings. Only a ping of the regular schedule can send one: a burst's own
   * pongs, held behind each other or read by a busy page, do not start
   * another.
   */
  outOfLine(delay) {
    const xs = this.samples.slice(-8).map((x) => x.delay);
    if (xs.length < 4) return false;
    xs.sort((a, b) => a - b);
    const med = xs[xs.length >> 1];
    return Math.abs(delay - med) > Math.max(this.opts.recheckMs, med / 2);
  }

  /** Adds sample x, forgetting the samples it shows to be from before a clock step. */
  add(x) {
    const o = this.opts;
    const best = this.best(x.at);
    if (best && Math.abs(x.offset - best.offset) > x.delay / 2 + best.u + 4 * o.marginMs) {
      this.samples = []; // the local clock stepped (sleep, a frozen page): start again
    }
    this.samples.push(x);
    const cutoff = x.at - o.windowMs;
    while (this.samples.length > o.maxSamples || (this.samples.length && this.samples[0].at < cutoff)) this.samples.shift();
  }

  /** Growth of a sample's uncertainty per ms of age. */
  growth() {
    return this.opts.maxDriftPpm * 1e-6;
  }

  /** The sample with the narrowest interval at local instant now. */
  best(now) {
    let best = null;
    const g = this.growth();
    for (const x of this.samples) {
      const age = Math.abs(now - x.at);
      const u = x.delay / 2 + age * g + this.opts.marginMs;
      if (!best || u < best.u) best = { offset: x.offset, u, delay: x.delay };
    }
    return best;
  }

  /** Moves the estimate toward the device clock or the best round trip. */
  update(now) {
    const o = this.opts;
    const best = this.best(now);
    if (!best) return;
    // The device clock, as an offset: the latest few readings' median.
    const devs = this.samples.slice(-5).map((x) => x.dev);
    devs.sort((a, b) => a - b);
    const dev = devs[devs.length >> 1];
    // Hysteresis: the device clock must sit a margin inside every interval
    // to be taken, and a margin outside one to be dropped.
    const slack = this.source === "device" ? o.marginMs : -o.marginMs;
    const g = this.growth();
    let agrees = true;
    for (const x of this.samples) {
      const u = x.delay / 2 + Math.abs(now - x.at) * g + o.marginMs;
      if (Math.abs(dev - x.offset) > u + slack) {
        agrees = false;
        break;
      }
    }
    this.source = agrees ? "device" : "rtt";
    const target = agrees ? dev : best.offset;
    if (!this.synced || Math.abs(target - this.offset) > o.jumpMs) this.offset = target;
    else this.offset += (target - this.offset) * o.smoothing;
    this.delay = best.delay;
    this.synced = true;
  }

  /** Calls fn after every accepted sample. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  /** The server's clock now, in Unix milliseconds (fractional). */
  serverNow() {
    return this.now() + this.offset;
  }

  /** Converts a server instant to the local clock. */
  toLocal(serverMs) {
    return serverMs - this.offset;
  }

  /**
   * How long the server's messages take to reach this page, in ms (NaN
   * before any sample): the pong's way down, by the current estimate of
   * the server's clock, the slowest among the quicker half of the last
   * eight round trips. A pong held on the way (a loss, which on one
   * connection holds the pongs behind it too, as in the burst of pings at
   * the hello) or read late by a busy page has a long round trip: it says
   * how that one message went, not the path, and the room's lead would
   * wait for it at every start. The jitter of the quicker half counts.
   * With the device clock it is the real one-way delay; with the round
   * trips, half of each.
   */
  downDelay() {
    const xs = this.samples.slice(-8);
    if (!xs.length) return NaN;
    const quick = [...xs].sort((a, b) => a.delay - b.delay).slice(0, Math.ceil(xs.length / 2));
    return Math.max(...quick.map((x) => Math.max(0, x.delay / 2 + this.offset - x.offset)));
  }

  /** Round-trip time of the best recent sample, in ms (NaN before any). */
  rtt() {
    return this.delay;
  }
}
