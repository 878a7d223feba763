// Clock keeps this browser's estimate of the server's clock.
//
// It works like NTP: the client sends a ping carrying its own send instant t0;
// the server answers with t0 and its own time s; the client notes the arrival
// instant t1. Assuming the two legs take equally long, the server's clock was
// at s when ours was at (t0 + t1) / 2, so
//
//   offset = s - (t0 + t1) / 2      delay = t1 - t0
//
// A sample's error is at most delay / 2, so the clock keeps a window of recent
// samples and trusts the one with the lowest delay. The estimate moves toward
// that sample smoothly (a jump of a few ms every few seconds would show up as
// drift and cause needless corrections) unless it is far off.
//
// Instants come from performance.timeOrigin + performance.now(): monotonic,
// sub-millisecond, and unaffected by the user changing the wall clock.

import { T } from "./protocol.js";

/** Local wall-clock instant in milliseconds, with sub-millisecond precision. */
export function localNow() {
  return performance.timeOrigin + performance.now();
}

const defaults = {
  burst: 8, // pings sent when (re)connecting
  burstGapMs: 40, // between the burst's pings
  intervalMs: 3000, // between later pings
  window: 16, // samples considered for the best one
  smoothing: 0.3, // weight of a new best sample
  jumpMs: 25, // a best sample this far from the estimate replaces it at once
  timeoutMs: 5000, // a ping unanswered this long is forgotten
};

export class Clock {
  /**
   * @param {(msg: object) => void} send sends one message on the room socket
   * @param {object} [opts] overrides of the defaults above
   */
  constructor(send, opts = {}) {
    this.send = send;
    this.opts = { ...defaults, ...opts };
    this.samples = []; // {offset, delay, at}
    this.pending = new Map(); // t0 -> true
    this.offset = 0;
    this.delay = NaN; // of the sample the offset follows
    this.synced = false;
    this.timer = 0;
    this.listeners = [];
  }

  /** Starts (or restarts, after a reconnect) the ping schedule. */
  start(hintServerMs) {
    this.stop();
    if (!this.synced && Number.isFinite(hintServerMs)) {
      // hello carries the server time: good to a one-way delay until the
      // first pong arrives.
      this.offset = hintServerMs - localNow();
    }
    let sent = 0;
    const burst = () => {
      this.ping();
      sent++;
      this.timer = setTimeout(sent < this.opts.burst ? burst : steady, sent < this.opts.burst ? this.opts.burstGapMs : this.opts.intervalMs);
    };
    const steady = () => {
      this.ping();
      this.timer = setTimeout(steady, this.opts.intervalMs);
    };
    burst();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.pending.clear();
  }

  ping() {
    const t0 = localNow();
    const cutoff = t0 - this.opts.timeoutMs;
    for (const t of this.pending.keys()) if (t < cutoff) this.pending.delete(t);
    this.pending.set(t0, true);
    this.send({ type: T.PING, t: t0 });
  }

  /** Handles a pong {t, s}. Returns true when it answered one of our pings. */
  onPong(msg) {
    const t1 = localNow();
    const t0 = Number(msg.t);
    const s = Number(msg.s);
    if (!this.pending.delete(t0) || !Number.isFinite(s)) return false;
    const delay = t1 - t0;
    if (delay < 0) return true;
    this.samples.push({ offset: s - (t0 + t1) / 2, delay, at: t1 });
    if (this.samples.length > this.opts.window) this.samples.shift();
    let best = this.samples[0];
    for (const x of this.samples) if (x.delay < best.delay) best = x;
    if (!this.synced || Math.abs(best.offset - this.offset) > this.opts.jumpMs) {
      this.offset = best.offset;
    } else {
      this.offset += (best.offset - this.offset) * this.opts.smoothing;
    }
    this.delay = best.delay;
    this.synced = true;
    for (const fn of this.listeners) fn(this);
    return true;
  }

  /** Calls fn after every accepted sample. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  /** The server's clock now, in Unix milliseconds (fractional). */
  serverNow() {
    return localNow() + this.offset;
  }

  /** Converts a server instant to the local clock. */
  toLocal(serverMs) {
    return serverMs - this.offset;
  }

  /** Round-trip time of the best recent sample, in ms (NaN before any). */
  rtt() {
    return this.delay;
  }
}
