// net.js: the room websocket (docs/protocol.md). It reconnects with
// exponential back-off and jitter, splits the server's batched frames into
// messages and hands each to onMessage. It stops for good when the server
// says the member was removed or the room deleted.
//
// The page's entry (room.js) opens the socket before the rest of the room's
// scripts have loaded, so that the connection and the server's hello are
// under way while they load; what arrives before the room attaches its
// handlers waits, in order.

import { localNow } from "../clock.js";
import { CLOSE } from "../protocol.js";

let early = null;

/**
 * Opens the room's connection as soon as the page's entry runs (room.js),
 * or takes over the one the page's head opened: { ws, frames, closed }.
 */
export function openEarly(path, opened) {
  early = connectRoom(path, opened);
}

/** Takes the connection openEarly opened (null if none): the room's own. */
export function takeEarly() {
  const c = early;
  early = null;
  return c;
}

/**
 * Connects to the room's websocket at path; opened, when given, is a socket
 * already open (or opening) with the frames it received and how it closed.
 */
export function connectRoom(path, opened) {
  let ws = null;
  let attempt = 0;
  let ended = false;
  let timer = 0;
  let handlers = null;
  const early = []; // [kind, a, b] before attach

  const message = (m, at) => (handlers ? handlers.onMessage(m, at) : early.push(["m", m, at]));
  const state = (s, arg) => (handlers ? handlers.onState(s, arg) : early.push(["s", s, arg]));

  // at: when the frame arrived (localNow()),
  // which may be well before it is handled: what arrives before the room
  // attaches waits, and the hello's server time is read against it.
  function frame(data, at) {
    for (const part of String(data).split("\n")) {
      if (!part) continue;
      let m;
      try {
        m = JSON.parse(part);
      } catch {
        continue;
      }
      if (m && typeof m.type === "string") message(m, at);
    }
  }

  function open() {
    if (ended) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = opened ? opened.ws : new WebSocket(`${proto}//${location.host}${path}`);
    const before = opened;
    opened = null;
    ws = sock;
    state(attempt ? "reconnecting" : "connecting");
    sock.onmessage = (ev) => frame(ev.data, localNow());
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (ended || ev.code === CLOSE.REMOVED || ev.code === CLOSE.KICKED || ev.code === CLOSE.DELETED) {
        ended = true;
        state("ended", ev.code);
        return;
      }
      const cap = Math.min(30000, 500 * 2 ** attempt);
      const delay = 250 + Math.random() * cap;
      attempt++;
      state("closed", delay);
      timer = setTimeout(open, delay);
    };
    if (before) {
      const times = Array.isArray(before.times) ? before.times : [];
      before.frames.forEach((data, i) => frame(data, Number.isFinite(times[i]) ? times[i] : undefined));
      if (before.closed) sock.onclose(before.closed);
    }
  }
  open();

  return {
    /** Hands what arrived so far, and from now on everything, to onMessage and onState. */
    attach(h) {
      handlers = h;
      for (const [kind, a, b] of early.splice(0)) {
        if (kind === "m") h.onMessage(a, b);
        else h.onState(a, b);
      }
    },
    /** Sends a message; false when not connected. */
    send(m) {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify(m));
        return true;
      }
      return false;
    },
    /** The server said hello: the connection is good, reset the back-off. */
    opened() {
      attempt = 0;
    },
    /** Stops for good (kicked, room deleted). */
    end() {
      ended = true;
      clearTimeout(timer);
      if (ws) ws.close(1000);
      ws = null;
    },
    connected: () => !!ws && ws.readyState === WebSocket.OPEN,
  };
}
