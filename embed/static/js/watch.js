// watch.js connects the room page to synchronized playback: it gives the
// sync engine (sync.js) the room's socket and player, shows the members'
// sync status, the up-next queue and the server's media library. room.js
// calls installSync once; everything else arrives as room:* events.
// User text goes into the page with textContent only.

import { SyncEngine, HTML5Adapter, YouTubeAdapter } from './sync.js';

const levels = { everyone: ['owner', 'moderator', 'member'], moderators: ['owner', 'moderator'], owner: ['owner'] };

function allows(level, role) {
  return (levels[level] || levels.everyone).includes(role);
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

export function installSync({ send, state, player, root }) {
  const base = root.dataset.base || '';
  const code = root.dataset.code;
  const box = document.getElementById('player');
  const can = (what) => !!(state.me && state.room && allows(state.room.settings?.[what], state.me.role));

  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${base}/static/css/sync.css`;
  document.head.append(css);

  const status = el('p', { class: 'sync-status muted', role: 'status', 'aria-live': 'polite' });
  box.after(status);

  const engine = new SyncEngine({
    send,
    canControl: () => can('control'),
    container: box,
    onNotice: (text) => { status.textContent = text; },
    onStatus: (st) => {
      if (st.blocked) status.textContent = 'Your browser blocked playback: click the button on the player to join.';
      else if (st.held) status.textContent = `Waiting for ${names(engine.waiting)} to catch up…`;
      else if (st.buffering) status.textContent = 'Loading…';
      else status.textContent = '';
    },
  });
  window.watchpartySync = engine; // for the browser tests and the figures command

  const names = (ids) => (ids || []).map((id) => state.members.get(id)?.name || 'someone').join(', ') || 'everyone';

  // Library files play from this room's media endpoint.
  player.fileURL = (v) => {
    if (v.kind !== 'library') return v.url;
    const rel = v.path || v.url.replace(/^media:/i, '');
    return `${base}/r/${encodeURIComponent(code)}/media/file/${rel.split('/').map(encodeURIComponent).join('/')}`;
  };

  player.addEventListener('load', () => engine.detach());
  player.addEventListener('ready', () => {
    const v = player.video;
    if (!v) return;
    if (player.html) {
      applyControls();
      engine.attach(new HTML5Adapter(player.html), v.url);
      if (v.kind === 'library') addSubtitles(v);
    } else if (player.yt) {
      engine.attach(new YouTubeAdapter(player.yt), v.url);
    }
  });

  document.addEventListener('room:hello', (e) => {
    const h = e.detail;
    engine.waiting = h.sync?.waiting || [];
    memberSync = h.sync?.members || {};
    engine.hello(h);
    renderQueue(h.queue || []);
    applyControls();
    annotateMembers();
  });
  document.addEventListener('room:pong', (e) => engine.handle(e.detail));
  document.addEventListener('room:playback', (e) => {
    engine.waiting = e.detail.waiting || [];
    engine.handle(e.detail);
  });
  document.addEventListener('room:queue', (e) => renderQueue(e.detail.items || []));
  document.addEventListener('room:sync_members', (e) => {
    memberSync = e.detail.members || {};
    annotateMembers();
  });
  // Settings and role changes are handled by room.js, which then renders
  // the room name and the member list: re-check what this member may use.
  new MutationObserver(() => applyControls()).observe(document.getElementById('room-name'), { childList: true, characterData: true, subtree: true });

  // ---- controls a member may not use are hidden ----

  function applyControls() {
    const control = can('control');
    if (player.html) player.html.controls = control;
    muteButton.hidden = control || !player.html;
    rateBox.hidden = !control || !player.video;
    document.getElementById('link-form')?.toggleAttribute('hidden', !!state.me && !can('change_video') && !can('manage_queue'));
    document.getElementById('watch')?.toggleAttribute('hidden', !!state.me && !can('change_video'));
    queueAdd.hidden = !!state.me && !can('manage_queue');
    renderQueue(queueItems);
  }

  const muteButton = el('button', {
    type: 'button', class: 'sync-mute', hidden: '', onclick: () => {
      if (!player.html) return;
      player.html.muted = !player.html.muted;
      muteButton.textContent = player.html.muted ? 'Unmute' : 'Mute';
    },
  });
  muteButton.textContent = 'Mute';
  status.after(muteButton);

  // ---- playback speed (members who may control playback) ----

  const rates = [0.5, 0.75, 1, 1.25, 1.5, 2];
  const rateSelect = el('select', {
    id: 'playback-rate', onchange: () => {
      const r = Number(rateSelect.value);
      if (rates.includes(r) && !send({ type: 'rate', t: r })) showRate();
    },
  }, ...rates.map((r) => el('option', { value: String(r), text: `${r}×` })));
  const rateBox = el('p', { class: 'sync-rate', hidden: '' },
    el('label', { for: 'playback-rate', text: 'Speed ' }), rateSelect);
  muteButton.after(rateBox);
  // showRate puts the room's rate in the select (a rate the list lacks, set
  // by another client, is added as an option).
  function showRate() {
    const r = engine.state && engine.state.rate > 0 ? engine.state.rate : 1;
    if (!rates.includes(r) && ![...rateSelect.options].some((o) => Number(o.value) === r)) {
      rateSelect.append(el('option', { value: String(r), text: `${r}×` }));
    }
    rateSelect.value = String(r);
  }
  document.addEventListener('room:hello', showRate);
  document.addEventListener('room:playback', showRate);
  player.addEventListener('load', applyControls);

  // ---- members: buffering and offset ----

  let memberSync = {};
  const membersList = document.getElementById('members');
  let annotating = false;
  function annotateMembers() {
    if (annotating) return;
    annotating = true;
    for (const li of membersList.querySelectorAll('li[data-id]')) {
      const s = memberSync[li.dataset.id];
      let tag = li.querySelector('.sync-tag');
      if (!s || li.dataset.presence === 'offline') {
        tag?.remove();
        continue;
      }
      if (!tag) {
        tag = el('span', { class: 'sync-tag muted' });
        li.append(tag);
      }
      if (s.buffering) {
        tag.textContent = 'buffering';
        tag.dataset.state = 'buffering';
      } else if (s.reported) {
        tag.textContent = `${s.drift >= 0 ? '+' : '−'}${Math.abs(s.drift)} ms`;
        tag.dataset.state = Math.abs(s.drift) > 100 ? 'off' : 'ok';
        tag.title = 'How far this member’s player is from the room’s position';
      } else {
        tag.textContent = '';
      }
    }
    annotating = false;
  }
  new MutationObserver(() => {
    annotateMembers();
    applyControls();
  }).observe(membersList, { childList: true });

  // ---- queue ----

  const linkForm = document.getElementById('link-form');
  const queueAdd = el('button', {
    type: 'button', id: 'queue-add', onclick: () => {
      const input = document.getElementById('link');
      const url = input.value.trim();
      if (!url) return;
      if (send({ type: 'queue_add', url, ref: 'vq' + Date.now() })) input.value = '';
    },
  });
  queueAdd.textContent = 'Add to queue';
  document.getElementById('watch')?.after(queueAdd);

  const queueList = el('ol', { id: 'queue', class: 'queue plain' });
  const queueBox = el('section', { class: 'queue-box', 'aria-labelledby': 'queue-h' },
    el('h2', { id: 'queue-h', text: 'Up next' }), queueList);
  linkForm?.after(queueBox);
  let queueItems = [];

  function renderQueue(items) {
    queueItems = items;
    const manage = can('manage_queue');
    const change = can('change_video');
    const rows = items.map((it, i) => {
      const title = it.video.title || it.video.url;
      const li = el('li', { 'data-id': String(it.id) }, el('span', { class: 'title', text: title }));
      if (change && i === 0) li.append(button('Play now', `Play ${title} now`, () => send({ type: 'queue_next' })));
      if (manage) {
        if (i > 0) li.append(button('↑', `Move ${title} up`, () => send({ type: 'queue_move', seq: it.id, t: i - 1 })));
        if (i < items.length - 1) li.append(button('↓', `Move ${title} down`, () => send({ type: 'queue_move', seq: it.id, t: i + 1 })));
        li.append(button('Remove', `Remove ${title} from the queue`, () => send({ type: 'queue_remove', seq: it.id })));
      }
      return li;
    });
    if (!rows.length) rows.push(el('li', { class: 'muted', text: 'Nothing queued. Paste a link and press “Add to queue”.' }));
    queueList.replaceChildren(...rows);
  }

  function button(text, label, onclick) {
    return el('button', { type: 'button', class: 'link', 'aria-label': label, onclick, text });
  }

  // ---- media library ----

  const libResults = el('ul', { class: 'library-results plain' });
  const libInput = el('input', { type: 'search', id: 'library-q', placeholder: 'Search the server’s videos', 'aria-label': 'Search the media library' });
  const libBox = el('details', { class: 'library', id: 'library' },
    el('summary', { text: 'Media library' }),
    el('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); searchLibrary(); } }, libInput, el('button', { type: 'submit', text: 'Search' })),
    libResults);
  libBox.addEventListener('toggle', () => { if (libBox.open && !libResults.children.length) searchLibrary(); });
  queueBox.after(libBox);

  async function libraryList(q) {
    const res = await fetch(`${base}/r/${encodeURIComponent(code)}/media?q=${encodeURIComponent(q)}`, { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error('The media library could not be listed.');
    return res.json();
  }

  async function searchLibrary() {
    let data;
    try {
      data = await libraryList(libInput.value);
    } catch (e) {
      libResults.replaceChildren(el('li', { class: 'field-error', text: e.message }));
      return;
    }
    if (!data.enabled) {
      libResults.replaceChildren(el('li', { class: 'muted', text: 'This server has no media library.' }));
      return;
    }
    const rows = data.entries.map((e) => {
      const li = el('li', {}, el('span', { class: 'title', text: e.path }));
      if (can('change_video')) li.append(button('Watch', `Watch ${e.name}`, () => send({ type: 'video', url: e.link, ref: 'vl' + Date.now() })));
      if (can('manage_queue')) li.append(button('Queue', `Add ${e.name} to the queue`, () => send({ type: 'queue_add', url: e.link, ref: 'vq' + Date.now() })));
      return li;
    });
    if (!rows.length) rows.push(el('li', { class: 'muted', text: 'No video matches.' }));
    libResults.replaceChildren(...rows);
  }

  async function addSubtitles(v) {
    const video = player.html;
    const rel = v.path || v.url.replace(/^media:/i, '');
    let data;
    try {
      data = await libraryList(rel.split('/').pop().replace(/\.[^.]+$/, ''));
    } catch {
      return;
    }
    const entry = (data.entries || []).find((e) => e.path === rel);
    if (!entry || player.html !== video) return;
    entry.subtitles.forEach((s, i) => {
      const track = document.createElement('track');
      track.kind = 'subtitles';
      track.src = s.url;
      track.label = s.label;
      if (s.lang) track.srclang = s.lang;
      if (i === 0) track.default = false;
      video.append(track);
    });
  }

  return engine;
}
