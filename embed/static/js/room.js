// room.js runs the room page: the websocket (see docs/protocol.md), chat,
// members, typing, reactions and the "Watch this" box. User text is always
// put in the page with textContent, never as HTML.
import { Player } from './player.js';
import { installSync } from './watch.js';
import { installStream } from './stream.js';
import { installShare } from './share.js';

const root = document.getElementById('room');
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf"]').content;
const base = root.dataset.base;
const code = root.dataset.code;

const state = {
  ws: null,
  me: null,
  room: null,
  members: new Map(), // id -> member
  lines: new Map(), // seq -> {line, el}
  lastSeq: 0,
  reactions: [],
  attempt: 0,
  ended: false, // kicked, deleted: no reconnect
  typingTimers: new Map(), // user id -> timeout
  pings: new Map(),
};

const player = new Player($('player'), { youtubeAPI: root.dataset.yt });
player.addEventListener('failed', (e) => { $('link-error').textContent = e.detail; });

// ---- connection ----

function setConn(s, text) {
  const el = $('conn-state');
  el.dataset.state = s;
  el.textContent = text;
}

function connect() {
  if (state.ended) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}${root.dataset.ws}`);
  state.ws = ws;
  setConn('connecting', state.attempt ? 'Reconnecting…' : 'Connecting…');
  ws.onmessage = (ev) => {
    // A frame carries one or more messages separated by newlines.
    for (const part of String(ev.data).split('\n')) {
      if (!part) continue;
      let m;
      try { m = JSON.parse(part); } catch { continue; }
      handle(m);
    }
  };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (state.ended || ev.code === 4001 || ev.code === 4004) {
      state.ended = true;
      setConn('ended', 'Disconnected');
      return;
    }
    // Exponential back-off with full jitter, 0.5 s to 30 s.
    const cap = Math.min(30000, 500 * 2 ** state.attempt);
    const delay = 250 + Math.random() * cap;
    state.attempt++;
    setConn('closed', `Disconnected — retrying in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  };
}

function send(m) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(m));
    return true;
  }
  return false;
}

let refSeq = 0;
const nextRef = (kind) => `${kind}${++refSeq}`;

// ---- messages ----

const handlers = {
  hello(m) {
    state.attempt = 0;
    state.me = m.you;
    state.reactions = m.reactions || [];
    setConn('open', 'Connected');
    setRoom(m.room);
    state.members.clear();
    for (const mem of m.members) state.members.set(mem.id, mem);
    renderMembers();
    for (const line of m.chat) addLine(line);
    player.load(m.video || null);
    sendPresence();
    if (m.ping_ms) state.pingMS = m.ping_ms;
    document.dispatchEvent(new CustomEvent('room:hello', { detail: m }));
  },
  chat(m) {
    addLine(m);
    if (m.ref && m.user === state.me?.id) $('chat-error').textContent = '';
  },
  member(m) {
    state.members.set(m.member.id, m.member);
    renderMembers();
  },
  member_removed(m) {
    state.members.delete(m.id);
    renderMembers();
  },
  typing(m) { showTyping(m.user, m.on); },
  react(m) {
    const entry = state.lines.get(m.seq);
    if (!entry) return;
    const r = { ...(entry.line.reactions || {}) };
    const users = (r[m.emoji] || []).filter((u) => u !== m.user);
    if (m.on) users.push(m.user);
    if (users.length) r[m.emoji] = users; else delete r[m.emoji];
    entry.line.reactions = r;
    renderReactions(entry);
  },
  video(m) {
    player.load(m.video);
    $('link-error').textContent = '';
  },
  room(m) { setRoom(m.room); },
  pong(m) { document.dispatchEvent(new CustomEvent('room:pong', { detail: m })); },
  error(m) {
    document.dispatchEvent(new CustomEvent('room:error', { detail: m }));
    if (m.ref && m.ref.startsWith('rtc')) return; // share.js shows these
    const text = m.text || 'Something went wrong.';
    if (m.ref && m.ref.startsWith('v')) $('link-error').textContent = text;
    else $('chat-error').textContent = text;
  },
  closed(m) {
    if (m.code === 'kicked' || m.code === 'deleted' || m.code === 'removed') state.ended = true;
    setConn('ended', m.text || 'Disconnected');
    const p = document.createElement('li');
    p.className = 'system';
    p.textContent = m.text || 'The connection was closed.';
    $('chat-log').append(p);
  },
};

function handle(m) {
  const h = handlers[m.type];
  if (h) h(m);
  else document.dispatchEvent(new CustomEvent('room:' + m.type, { detail: m }));
}

// room.js can be extended (playback sync) through these events and this
// function.
export { send, state, player };

// ---- room ----

function setRoom(r) {
  state.room = r;
  const name = r.name || r.display;
  $('room-name').textContent = name;
  document.title = `${name} · watchparty`;
  renderMembers();
}

// ---- members ----

function renderMembers() {
  const ul = $('members');
  const list = [...state.members.values()].sort((a, b) => {
    const rank = (m) => (m.presence === 'offline' ? 1 : 0);
    return rank(a) - rank(b) || (a.role === 'owner' ? -1 : b.role === 'owner' ? 1 : 0) || a.name.localeCompare(b.name);
  });
  const items = list.map((m) => {
    const li = document.createElement('li');
    li.dataset.id = m.id;
    li.dataset.presence = m.presence;
    li.className = m.presence;
    const dot = document.createElement('span');
    dot.className = `dot ${m.presence}`;
    dot.setAttribute('aria-hidden', 'true');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = m.name + (state.me && m.id === state.me.id ? ' (you)' : '');
    const status = document.createElement('span');
    status.className = 'visually-hidden';
    status.textContent = `, ${m.presence}`;
    li.append(dot, name, status);
    if (m.role !== 'member') li.append(badge(m.role));
    if (m.guest) li.append(badge('guest'));
    if (state.me && state.me.role === 'owner' && m.id !== state.me.id) {
      const kick = document.createElement('button');
      kick.type = 'button';
      kick.className = 'link';
      kick.textContent = 'Remove';
      kick.setAttribute('aria-label', `Remove ${m.name} from the room`);
      kick.onclick = () => {
        if (confirm(`Remove ${m.name}? They cannot come back until you let them in again.`)) post('kick', { user: m.id });
      };
      li.append(kick);
    }
    return li;
  });
  ul.replaceChildren(...items);
}

function badge(text) {
  const b = document.createElement('span');
  b.className = 'badge';
  b.textContent = text;
  return b;
}

async function post(action, fields) {
  const body = new URLSearchParams(fields);
  const res = await fetch(`${base}/r/${code}/${action}`, {
    method: 'POST',
    headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
    body,
  });
  if (!res.ok) {
    let text = 'That did not work.';
    try { text = (await res.json()).error || text; } catch { /* keep the default */ }
    $('chat-error').textContent = text;
  }
}

// ---- chat ----

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function addLine(line) {
  if (state.lines.has(line.seq)) return; // already shown (a reconnect's hello)
  const log = $('chat-log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const li = document.createElement('li');
  li.dataset.seq = line.seq;
  const when = new Date(line.time);
  const t = document.createElement('time');
  t.dateTime = when.toISOString();
  t.textContent = timeFmt.format(when);
  if (line.system) {
    li.className = 'system';
    li.textContent = line.text;
    li.append(t);
  } else {
    li.className = 'line';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = line.name;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = line.text;
    li.append(who);
    if (line.guest) li.append(badge('guest'), ' ');
    li.append(text, t);
  }
  const entry = { line, el: li };
  state.lines.set(line.seq, entry);
  if (!line.system) renderReactions(entry);
  // Keep lines in sequence order even if an older one arrives late.
  if (line.seq > state.lastSeq) {
    log.append(li);
    state.lastSeq = line.seq;
  } else {
    const after = [...log.children].find((el) => Number(el.dataset.seq) > line.seq);
    log.insertBefore(li, after || null);
  }
  while (state.lines.size > 500) {
    const oldest = Math.min(...state.lines.keys());
    state.lines.get(oldest).el.remove();
    state.lines.delete(oldest);
  }
  if (line.user) showTyping(line.user, false);
  if (atBottom || line.user === state.me?.id) log.scrollTop = log.scrollHeight;
}

function renderReactions(entry) {
  let bar = entry.el.querySelector('.reacts');
  if (!bar) {
    bar = document.createElement('div');
    bar.className = 'reacts';
    entry.el.append(bar);
  }
  const r = entry.line.reactions || {};
  const buttons = [];
  for (const emoji of state.reactions) {
    const users = r[emoji] || [];
    if (!users.length) continue;
    const mine = users.includes(state.me?.id);
    buttons.push(reactButton(entry.line.seq, emoji, `${emoji} ${users.length}`, mine));
  }
  const more = document.createElement('button');
  more.type = 'button';
  more.textContent = '☺+';
  more.setAttribute('aria-label', 'Add a reaction');
  more.setAttribute('aria-expanded', 'false');
  const picker = document.createElement('span');
  picker.className = 'picker';
  for (const emoji of state.reactions) picker.append(reactButton(entry.line.seq, emoji, emoji, (r[emoji] || []).includes(state.me?.id)));
  more.onclick = () => {
    const open = picker.classList.toggle('open');
    more.setAttribute('aria-expanded', String(open));
    if (open) picker.querySelector('button')?.focus();
  };
  bar.replaceChildren(...buttons, more, picker);
}

function reactButton(seq, emoji, label, pressed) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.emoji = emoji;
  b.setAttribute('aria-pressed', String(pressed));
  b.setAttribute('aria-label', `React with ${emoji}`);
  b.onclick = () => send({ type: 'react', seq, emoji });
  return b;
}

function showTyping(user, on) {
  const old = state.typingTimers.get(user);
  if (old) clearTimeout(old);
  state.typingTimers.delete(user);
  if (on) state.typingTimers.set(user, setTimeout(() => showTyping(user, false), 5000));
  const names = [...state.typingTimers.keys()].map((id) => state.members.get(id)?.name).filter(Boolean);
  $('typing').textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

// ---- forms ----

let typingSent = 0;
let typingStop = null;

$('chat-input').addEventListener('input', () => {
  const now = Date.now();
  if (now - typingSent > 2500) {
    if (send({ type: 'typing', on: true })) typingSent = now;
  }
  clearTimeout(typingStop);
  typingStop = setTimeout(stopTyping, 3000);
});

function stopTyping() {
  clearTimeout(typingStop);
  if (typingSent) send({ type: 'typing', on: false });
  typingSent = 0;
}

$('chat-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('chat-form').requestSubmit();
  }
});

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('chat-input');
  const text = input.value;
  if (!text.trim()) return;
  if (!send({ type: 'chat', text, ref: nextRef('c') })) {
    $('chat-error').textContent = 'Not connected; your message was not sent.';
    return;
  }
  stopTyping();
  input.value = '';
  $('chat-error').textContent = '';
});

$('link-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const url = $('link').value.trim();
  if (!url) return;
  if (!send({ type: 'video', url, ref: nextRef('v') })) {
    $('link-error').textContent = 'Not connected; try again in a moment.';
    return;
  }
  $('link').value = '';
});

async function copy(text, what) {
  const status = $('copy-status');
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = `${what} copied.`;
  } catch {
    status.textContent = `${what}: ${text}`;
  }
  setTimeout(() => { status.textContent = ''; }, 4000);
}

$('copy-code').addEventListener('click', () => copy(root.dataset.display, 'Code'));
$('copy-invite').addEventListener('click', (e) => copy(e.currentTarget.dataset.url, 'Invite link'));

for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => {
    if (!confirm(form.dataset.confirm)) e.preventDefault();
  });
}

// ---- presence ----

function sendPresence() {
  send({ type: 'presence', state: document.visibilityState === 'hidden' ? 'away' : 'online' });
}
document.addEventListener('visibilitychange', sendPresence);

installSync({ send, state, player, root });
installStream({ send, state, root });
installShare({ send, state, player, root });
connect();
