// stream.js shows a room's frame stream (docs/frames.md): while the room
// streams, the player gives way to a canvas fed by the relay websocket
// /r/CODE/frames, and members who may change the video get a Stream panel to
// start or stop a stream and to publish from their own computer.
//
// Each relay message is one frame protocol frame message (docs/protocol.md,
// "Frames in the browser"); a frame that arrives while the previous one is
// still being decoded is dropped, so the picture stays current.
// User text goes into the page with textContent only.

const levels = { everyone: ['owner', 'moderator', 'member'], moderators: ['owner', 'moderator'], owner: ['owner'] };
const HEADER = 26; // length(4) type(1) seq(8) captured(8) width(2) height(2) codec(1)

export function installStream({ send, state, root }) {
  const $ = (id) => document.getElementById(id);
  const base = root.dataset.base || '';
  const code = root.dataset.code;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const view = $('stream-view');
  const canvas = $('stream-canvas');
  const statsLine = $('stream-stats');
  const panel = $('stream-panel');
  const player = $('player');
  if (!view || !canvas || !panel) return;
  const ctx2d = canvas.getContext('2d');

  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${base}/static/css/stream.css`;
  document.head.append(css);

  // Counters, exposed for people debugging a stream and for the browser tests.
  const stats = { frames: 0, dropped: 0, fps: 0, width: 0, height: 0, latencyMs: NaN, lastSeq: 0, active: false };
  window.watchpartyStream = stats;

  let current = { active: false };
  let ws = null;
  let attempt = 0;
  let retry = 0;
  let decoding = false;
  let windowFrames = 0;
  let windowStart = performance.now();

  const can = () => {
    const lvl = state.room?.settings?.change_video;
    return !!(state.me && (levels[lvl] || levels.everyone).includes(state.me.role));
  };
  const mayStop = () => !!(state.me && current.active &&
    (current.by === state.me.id || state.me.role === 'owner' || state.me.role === 'moderator'));

  function serverNow() {
    const clock = window.watchpartySync?.clock;
    return clock && clock.synced ? clock.serverNow() : Date.now();
  }

  // ---- the relay ----

  function connect() {
    clearTimeout(retry);
    if (!current.active || ws) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(`${proto}//${location.host}${base}/r/${encodeURIComponent(code)}/frames`);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    sock.onopen = () => { attempt = 0; };
    sock.onmessage = (ev) => onFrame(ev.data);
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (!current.active) return;
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
    if (decoding) {
      stats.dropped++;
      return;
    }
    const seq = Number(dv.getBigUint64(5));
    const capturedMs = Number(dv.getBigInt64(13)) / 1000;
    const width = dv.getUint16(21);
    const height = dv.getUint16(23);
    decoding = true;
    createImageBitmap(new Blob([new Uint8Array(buf, HEADER)], { type: 'image/jpeg' })).then((bmp) => {
      if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
        canvas.width = bmp.width;
        canvas.height = bmp.height;
      }
      ctx2d.drawImage(bmp, 0, 0);
      bmp.close();
      stats.frames++;
      stats.lastSeq = seq;
      stats.width = width;
      stats.height = height;
      if (capturedMs > 0) stats.latencyMs = serverNow() - capturedMs;
      windowFrames++;
    }).catch(() => {
      stats.dropped++;
    }).finally(() => {
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
    statsLine.textContent = parts.join(' · ');
  }, 1000);

  // ---- room state ----

  function apply(st) {
    const was = current.active;
    current = st || { active: false };
    stats.active = !!current.active;
    view.hidden = !current.active;
    player.hidden = !!current.active;
    const about = $('stream-about');
    if (current.active) {
      about.textContent = `${current.publisher || 'Someone'} is streaming ${current.source || ''}`;
      if (!was) {
        stats.frames = 0;
        stats.dropped = 0;
        stats.lastSeq = 0;
        statsLine.textContent = 'Waiting for the first frame…';
      }
      connect();
    } else {
      about.textContent = '';
      disconnect();
    }
    controls();
  }

  function controls() {
    panel.hidden = !can() && !mayStop();
    $('stream-form').hidden = !can() || current.active;
    $('stream-publish').hidden = !can();
    $('stream-stop').hidden = !mayStop();
  }

  document.addEventListener('room:hello', (e) => apply(e.detail.stream));
  document.addEventListener('room:stream', (e) => {
    $('stream-error').textContent = '';
    apply(e.detail.stream);
  });
  document.addEventListener('room:error', (e) => {
    const m = e.detail;
    if (m.ref && m.ref.startsWith('stream')) $('stream-error').textContent = m.text || 'That did not work.';
  });
  // Settings and roles arrive through room.js, which then renders the
  // member list: check again what this member may do.
  new MutationObserver(controls).observe($('members'), { childList: true });

  // ---- the panel ----

  let refSeq = 0;
  $('stream-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const source = $('stream-source').value.trim();
    if (!source) return;
    if (!send({ type: 'stream_start', source, ref: `stream${++refSeq}` })) {
      $('stream-error').textContent = 'Not connected; try again in a moment.';
      return;
    }
    $('stream-error').textContent = '';
  });
  $('stream-stop').addEventListener('click', () => {
    send({ type: 'stream_stop', ref: `stream${++refSeq}` });
  });
  $('stream-token').addEventListener('click', async () => {
    const out = $('stream-token-out');
    try {
      const res = await fetch(`${base}/r/${encodeURIComponent(code)}/stream/token`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
        body: new URLSearchParams({ role: 'publisher' }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || 'The server refused.');
      if (!body.addr) {
        out.textContent = 'This server does not accept publishers: its stream.listen option is off.';
        return;
      }
      const expires = new Date(body.expires).toLocaleTimeString();
      const cmd = document.createElement('code');
      cmd.className = 'break';
      cmd.id = 'stream-command';
      cmd.textContent = body.command;
      const copy = document.createElement('button');
      copy.type = 'button';
      copy.textContent = 'Copy command';
      copy.onclick = () => navigator.clipboard?.writeText(body.command);
      const p1 = document.createElement('p');
      p1.textContent = `Frame server ${body.addr}, token valid until ${expires}. Run this on your computer (replace camera:0 with a file or a URL if you like):`;
      out.replaceChildren(p1, cmd, copy);
    } catch (err) {
      out.textContent = String(err.message || err);
    }
  });
}
