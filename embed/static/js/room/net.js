// net.js: the room websocket (docs/protocol.md). It reconnects with
// exponential back-off and jitter, splits the server's batched frames into
// messages and hands each to onMessage. It stops for good when the server
// says the member was removed or the room deleted.
//
// The page's entry (room.js) opens the socket before the rest of the room's
// scripts have loaded, so that the connection and the server's hello are
// under way while they load; what arrives before the room attaches its
// handlers waits, in order.

import { CLOSE } from "../protocol.js";

let early = null;

/** Opens the room's connection as soon as the page's entry runs (room.js). */
export function openEarly(path) {
  early = connectRoom(path);
}

/** Takes the connection openEarly opened (null if none): the room's own. */
export function takeEarly() {
  const c = early;
  early = null;
  return c;
}

export function connectRoom(path) {
  let ws = null;
  let attempt = 0;
  let ended = false;
  let timer = 0;
  let handlers = null;
  const early = []; // [kind, a, b] before attach

  const message = (m) => (handlers ? handlers.onMessage(m) : early.push(["m", m]));
  const state = (s, arg) => (handlers ? handlers.onState(s, arg) : early.push(["s", s, arg]));

  function open() {
    if (ended) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(`${proto}//${location.host}${path}`);
    ws = sock;
    state(attempt ? "reconnecting" : "connecting");
    sock.onmessage = (ev) => {
      for (const part of String(ev.data).split("\n")) {
        if (!part) continue;
        let m;
        try {
          m = JSON.parse(part);
        } catch {
          continue;
        }
        if (m && typeof m.type === "string") message(m);
      }
    };
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
  }
  open();

  return {
    /** Hands what arrived so far, and from now on everything, to onMessage and onState. */
    attach(h) {
      handlers = h;
      for (const [kind, a, b] of early.splice(0)) {
        if (kind === "m") h.onMessage(a);
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
