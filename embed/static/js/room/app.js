// app.js runs the room page. It owns the room's one state store (store.js):
// messages from the websocket (net.js) change the state, and the views render
// from it (one render path). Playback goes through the sync engine (sync.js),
// which steers the player (player.js) onto the room's shared position.
//
// Views: layout.js (tabs, drawer, theatre, fullscreen, phone layouts),
// controls.js (the control bar and keyboard shortcuts), chat.js, people.js,
// queue.js, library.js, invite.js, settings.js; stream.js and share.js show
// frame streams and WebRTC shares, and load after the room's first render.

import { t } from "../i18n.js";
import { Player } from "../player.js";
import { SyncEngine, HTML5Adapter, YouTubeAdapter, positionAt } from "../sync.js";
import { createStore } from "./store.js";
import { connectRoom, takeEarly } from "./net.js";
import { clock } from "./dom.js";
import { installLayout } from "./layout.js";
import { installControls } from "./controls.js";
import { installChat } from "./chat.js";
import { installPeople } from "./people.js";
import { installNative } from "./native.js";
import { installQueue } from "./queue.js";
import { installTracks } from "./tracks.js";
import { installOverlays } from "./overlays.js";
import { T, REASON, CLOSE, PRESENCE } from "../protocol.js";

// Messages that stream.js and share.js take, kept for them until they load.
const LATER = new Set([T.HELLO, T.STREAM, T.RTC, T.SHARE]);
const whenIdle = (fn) =>
  window.requestIdleCallback ? requestIdleCallback(fn, { timeout: 1000 }) : setTimeout(fn, 200);

const levels = { everyone: ["owner", "moderator", "member"], moderators: ["owner", "moderator"], owner: ["owner"] };

/**
 * The room's parts, for people debugging in the console and for the browser
 * tests, which import this module: { store, sync, player, stream, share }.
 */
export const room = {};

// The room starts as this module is evaluated (or, if that is before the
// page is parsed, once it is), so that importing it (as the tests do) gives a
// started room; its websocket is the one the page's entry (room.js) opened
// early.
function begin() {
  const root = document.getElementById("room");
  if (root) start(root, takeEarly() || connectRoom(root.dataset.ws));
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", begin, { once: true });
else begin();

/** Runs the room page in root (the #room element); net is its websocket (net.js). */
function start(root, net) {
  const base = root.dataset.base || "";
  const code = root.dataset.code;
  const csrf = document.querySelector('meta[name="csrf"]')?.content || "";

  const store = createStore({
    conn: "connecting",
    connDelay: 0,
    me: null,
    room: null,
    members: new Map(),
    reactions: [],
    feed: [], // chat lines and activity lines, in order
    seqs: new Set(), // chat seqs in the feed
    typing: new Map(), // user id -> expiry timer
    video: null,
    prevVideo: null,
    queue: [],
    membersTotal: 0, // every member; state.members may hold only the first pages
    historyMore: false, // older chat lines can be fetched
    syncMembers: {},
    hold: null, // {waiting: [ids]} while the room waits for someone
    syncStatus: {},
    notice: null, // {text, revert}: the player could not load the video
    ended: null, // {title, text}: kicked, room deleted, left elsewhere
    invite: root.dataset.invite || "",
    ui: { tab: "chat", drawer: false, theatre: false, fullscreen: false, landscape: false, unread: 0, activity: true },
    rev: {},
  });
  const state = store.state;
  room.store = store;

  const listeners = new Map();
  let backlog = []; // messages for stream.js and share.js until they load (LATER)
  /** Subscribes to a server message type (stream.js and share.js use it). */
  const on = (type, fn) => {
    if (!listeners.has(type)) listeners.set(type, []);
    listeners.get(type).push(fn);
  };

  const connection = {
    onMessage: handle,
    onState(s, arg) {
      store.update("conn", () => {
        if (s === "ended" && !state.ended)
          state.ended = endedFor(
            arg === CLOSE.DELETED ? REASON.DELETED : arg === CLOSE.REMOVED ? REASON.REMOVED : REASON.KICKED,
          );
        state.conn = s;
        state.connDelay = s === "closed" ? arg : 0;
      });
      if (s === "closed") sync.disconnected();
      if (s === "ended") stopPlayback();
    },
  };
  const send = (m) => net.send(m);

  const can = (what) =>
    !!(state.me && state.room && (levels[state.room.settings?.[what]] || levels.everyone).includes(state.me.role));
  const levelOf = (what) => state.room?.settings?.[what] || "everyone";

  // ---- player and sync ----

  const player = new Player(document.getElementById("player"), { youtubeAPI: root.dataset.yt });
  player.fileURL = (v) => {
    if (v.kind !== "library") return v.url;
    const rel = v.path || v.url.replace(/^media:/i, "").replace(/#.*$/, "");
    return `${base}/r/${encodeURIComponent(code)}/media/file/${rel.split("/").map(encodeURIComponent).join("/")}`;
  };
  // How a library video plays (as it is, or converted to HLS by the server),
  // with its audio, subtitle and quality choices.
  player.resolve = async (v) => {
    const [rel, frag] = v.url.replace(/^media:/i, "").split("#");
    const burn = new URLSearchParams(frag || "").get("burn");
    const q = `f=${encodeURIComponent(rel)}${burn ? `&burn=${encodeURIComponent(burn)}` : ""}`;
    const res = await fetch(`${base}/r/${encodeURIComponent(code)}/media/play?${q}`, {
      headers: { Accept: "application/json" },
    });
    let body = {};
    try {
      body = await res.json();
    } catch {
      body = {};
    }
    if (!res.ok) throw new Error(body.error || t("player_failed"));
    if (body.mode === "unplayable") throw new Error(body.missing || t("player_failed"));
    return body;
  };
  const sync = new SyncEngine({
    send,
    canControl: () => can("control"),
    container: document.getElementById("player"),
    onNotice: (text) => toast(text),
    onStatus: (st) => store.update("player", () => (state.syncStatus = st)),
  });
  room.sync = sync;
  room.player = player;

  player.addEventListener("load", () => {
    sync.detach();
    store.update("player", () => (state.notice = null));
  });
  player.addEventListener("ready", () => {
    const v = player.video;
    if (!v) return;
    if (player.html) sync.attach(new HTML5Adapter(player.html), v.url);
    else if (player.yt) sync.attach(new YouTubeAdapter(player.yt), v.url);
    store.update("player");
  });
  player.addEventListener("failed", (e) => {
    store.update("player", () => {
      state.notice = { text: e.detail || t("player_failed"), revert: state.prevVideo };
    });
  });
  player.addEventListener("tracks", () => store.update("player"));
  player.addEventListener("notice", (e) => toast(e.detail));

  function stopPlayback() {
    sync.detach();
    player.load(null);
  }

  // ---- messages ----

  const handlers = {
    [T.HELLO](m, at) {
      net.opened();
      store.update(["conn", "room", "members", "chat", "queue", "player"], () => {
        state.conn = "open";
        state.me = m.you;
        state.room = m.room;
        state.reactions = m.reactions || [];
        state.members = new Map(m.members.map((x) => [x.id, x]));
        state.membersTotal = m.members_total || m.members.length;
        state.historyMore = !!m.history_more;
        for (const line of m.chat || []) addLine(line, true);
        state.queue = m.queue || [];
        state.syncMembers = m.sync?.members || {};
        state.hold = m.sync?.held ? { waiting: m.sync.waiting || [] } : null;
        state.invite = m.room?.invite ? inviteURL(m.room.invite) : "";
        setVideo(m.video || null);
      });
      sync.waiting = m.sync?.waiting || [];
      sync.hello(m, at);
      send({ type: T.PRESENCE, state: document.visibilityState === "hidden" ? PRESENCE.AWAY : PRESENCE.ONLINE });
    },
    [T.CHAT](m) {
      store.update("chat", () => {
        addLine(m);
        if (m.user) stopTyping(m.user);
      });
      if (m.ref && m.user === state.me?.id) store.update("chat", () => (state.chatError = ""));
    },
    [T.MEMBER](m) {
      store.update("members", () => {
        if (!state.members.has(m.member.id)) state.membersTotal++;
        state.members.set(m.member.id, m.member);
      });
      if (m.member.id === state.me?.id)
        store.update(["room", "members"], () => (state.me = { ...state.me, role: m.member.role }));
    },
    [T.MEMBER_REMOVED](m) {
      store.update("members", () => {
        if (state.members.delete(m.id)) state.membersTotal--;
      });
    },
    [T.MEMBERS](m) {
      // A page of the member list (the People pane asked for it).
      store.update("members", () => {
        for (const x of m.members || []) state.members.set(x.id, x);
        state.membersTotal = m.total;
      });
    },
    [T.HISTORY](m) {
      // Older chat lines (the chat pane asked for them).
      store.update("chat", () => {
        for (const line of m.lines || []) addLine(line, true);
        state.historyMore = !!m.more;
      });
    },
    [T.TYPING](m) {
      store.update("chat", () => (m.on ? startTyping(m.user) : stopTyping(m.user)));
    },
    [T.REACT](m) {
      const line = state.feed.find((x) => x.seq === m.seq);
      if (!line) return;
      store.update("chat", () => {
        const r = { ...(line.reactions || {}) };
        const users = (r[m.emoji] || []).filter((u) => u !== m.user);
        if (m.on) users.push(m.user);
        if (users.length) r[m.emoji] = users;
        else delete r[m.emoji];
        line.reactions = r;
        line.rev = (line.rev || 0) + 1;
      });
    },
    [T.VIDEO](m) {
      store.update(["player", "chat"], () => setVideo(m.video));
    },
    [T.ROOM](m) {
      store.update("room", () => {
        state.room = m.room;
        state.invite = m.room.invite ? inviteURL(m.room.invite) : "";
      });
    },
    [T.PONG](m) {
      sync.handle(m);
    },
    [T.PLAYBACK](m) {
      activityFor(sync.state, m);
      sync.waiting = m.waiting || [];
      store.update("player", () => (state.hold = m.held ? { waiting: m.waiting || [] } : null));
      sync.handle(m);
      store.update("player");
    },
    [T.QUEUE_CHANGE](m) {
      // One change: the added item, if any, and the order of ids after it.
      store.update("queue", () => {
        const known = new Map(state.queue.map((it) => [it.id, it]));
        if (m.item) known.set(m.item.id, m.item);
        state.queue = (m.ids || []).map((id) => known.get(id)).filter(Boolean);
      });
    },
    [T.SYNC_MEMBERS](m) {
      store.update("members", () => (state.syncMembers = m.members || {}));
    },
    [T.ERROR](m) {
      const text = m.text || t("error_generic");
      if (m.ref && (m.ref.startsWith("rtc") || m.ref.startsWith("stream"))) return; // share.js and stream.js show these
      if (m.ref && m.ref.startsWith("v")) store.update("queue", () => (state.linkError = text));
      else if (m.ref && m.ref.startsWith("c")) {
        store.update("chat", () => {
          // The line was refused: take it out of the log and give its text back.
          const i = state.feed.findIndex((x) => x.pending && x.ref === m.ref);
          if (i >= 0) state.restoreText = state.feed.splice(i, 1)[0].text;
          state.chatError = text;
        });
      } else toast(text);
    },
    [T.CLOSED](m) {
      if ([REASON.KICKED, REASON.DELETED, REASON.REMOVED, REASON.LOGGED_OUT].includes(m.code)) {
        net.end();
        store.update("conn", () => {
          state.ended = endedFor(m.code);
          state.conn = "ended";
        });
        stopPlayback();
      }
    },
  };

  // at: when m arrived (room/net.js), before the room could handle it.
  function handle(m, at) {
    const h = handlers[m.type];
    if (h) h(m, at);
    if (backlog && LATER.has(m.type)) {
      // For stream.js and share.js, which have not loaded yet: from the last hello on.
      if (m.type === T.HELLO) backlog = [];
      if (backlog.length < 1000) backlog.push(m);
    }
    for (const fn of listeners.get(m.type) || []) fn(m);
  }

  function endedFor(code) {
    return { code, title: t(`ended_${code}_title`), text: t(`ended_${code}_text`) };
  }

  function inviteURL(token) {
    return `${location.origin}${base}/i/${token}`;
  }

  // addLine puts a chat line in the feed once, in sequence order.
  function addLine(line, fromHello) {
    let replaces = ""; // your own line, shown at once, now confirmed: chat.js keeps its element
    if (line.ref && line.user === state.me?.id) {
      const i = state.feed.findIndex((x) => x.pending && x.ref === line.ref);
      if (i >= 0) replaces = state.feed.splice(i, 1)[0].id;
    }
    if (state.seqs.has(line.seq)) return;
    state.seqs.add(line.seq);
    const entry = { ...line, kind: line.system ? "system" : "chat", fromHello: !!fromHello };
    if (replaces) entry.replaces = replaces;
    delete entry.type;
    delete entry.ref;
    const last = lastSeq();
    if (line.seq > last) state.feed.push(entry);
    else {
      const i = state.feed.findIndex((x) => x.seq > line.seq);
      state.feed.splice(i < 0 ? state.feed.length : i, 0, entry);
    }
    if (!fromHello && !line.system && line.user !== state.me?.id) state.newLines = (state.newLines || 0) + 1;
    while (state.feed.length > 600) {
      const old = state.feed.shift();
      if (old.seq) state.seqs.delete(old.seq);
    }
  }

  function lastSeq() {
    for (let i = state.feed.length - 1; i >= 0; i--) if (state.feed[i].seq) return state.feed[i].seq;
    return 0;
  }

  let activitySeq = 0;
  function activity(text, what) {
    state.feed.push({ kind: "activity", id: `a${++activitySeq}`, text, what, time: Date.now() });
  }

  function nameOf(id) {
    return state.members.get(id)?.name || t("someone");
  }

  // activityFor adds the lines "Bob paused at 12:04", "Ann skipped to 40:10".
  function activityFor(prev, m) {
    const next = m.state;
    if (!prev || !next || !m.by || prev.source !== next.source) return;
    const who = nameOf(m.by);
    const at = positionAt(next, next.updatedAt);
    const before = positionAt(prev, next.updatedAt);
    store.update("chat", () => {
      if (Math.abs(at - before) > 2) activity(t("act_seek", { name: who, time: clock(at) }), "seek");
      else if (prev.playing && !next.playing) activity(t("act_pause", { name: who, time: clock(at) }), "pause");
      else if (!prev.playing && next.playing) activity(t("act_play", { name: who, time: clock(at) }), "play");
      else if ((prev.rate || 1) !== (next.rate || 1))
        activity(t("act_rate", { name: who, rate: `${next.rate || 1}×` }), "rate");
    });
    if (m.held && (m.waiting || []).length) toast(t("hold_toast", { names: (m.waiting || []).map(nameOf).join(", ") }));
  }

  function setVideo(v) {
    const cur = state.video;
    if ((cur?.url || "") !== (v?.url || "")) {
      if (cur) state.prevVideo = cur;
      state.video = v;
      state.notice = null;
      state.linkError = "";
    }
    player.load(v);
  }

  const typingTimers = new Map();
  function startTyping(user) {
    clearTimeout(typingTimers.get(user));
    typingTimers.set(
      user,
      setTimeout(() => store.update("chat", () => stopTyping(user)), 5000),
    );
    state.typing.set(user, true);
  }
  function stopTyping(user) {
    clearTimeout(typingTimers.get(user));
    typingTimers.delete(user);
    state.typing.delete(user);
  }

  // ---- helpers for the views ----

  /** POSTs a room form with the CSRF header; resolves to the JSON answer or throws its error text. */
  async function post(action, fields) {
    const res = await fetch(`${base}/r/${encodeURIComponent(code)}/${action}`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      body: new URLSearchParams(fields || {}),
    });
    let body;
    try {
      body = await res.json();
    } catch {
      body = {};
    }
    if (!res.ok) throw new Error(body.error || t("error_generic"));
    return body;
  }

  const toasts = document.getElementById("toasts");
  /** Shows a short message over the room for a few seconds. */
  function toast(text) {
    if (!text) return;
    const last = toasts.lastElementChild;
    if (last && last.textContent === text) return;
    const d = document.createElement("div");
    d.className = "toast";
    d.textContent = text;
    toasts.append(d);
    while (toasts.children.length > 3) toasts.firstElementChild.remove();
    setTimeout(() => d.remove(), 4000);
  }

  const confirmBox = document.getElementById("confirm-dialog");
  /** Asks a yes/no question in the page's dialog; resolves to true for yes. */
  function confirmAction(title, text, ok) {
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = ok;
    confirmBox.returnValue = "";
    confirmBox.showModal();
    return new Promise((resolve) => {
      confirmBox.addEventListener("close", () => resolve(confirmBox.returnValue === "ok"), { once: true });
    });
  }

  const emit = (type, m) => {
    for (const fn of listeners.get(type) || []) fn(m);
  };
  const connected = () => net.connected();
  const ctx = {
    root,
    store,
    state,
    send,
    on,
    emit,
    connected,
    can,
    levelOf,
    post,
    toast,
    confirmAction,
    player,
    sync,
    base,
    code,
    csrf,
    nameOf,
  };

  installLayout(ctx);
  installControls(ctx);
  installChat(ctx);
  installPeople(ctx);
  installNative(ctx);
  installQueue(ctx);
  installTracks(ctx);
  installOverlays(ctx);

  // Frame streams (stream.js) and WebRTC shares (share.js) are not needed for
  // the room's first render: they load after it (and after a joining
  // player's start, afterStart), when the page is idle (or at once when the
  // Stream tab opens), and get the last hello and what came
  // after it for them. Their counters fill room.stream and room.share.
  room.stream = {};
  room.share = {};
  let later = null;
  const loadLater = () => {
    later =
      later ||
      Promise.all([import("../stream.js"), import("../share.js")]).then(([st, sh]) => {
        installLater(st, sh);
      });
    return later;
  };
  function installLater(st, sh) {
    st.installStream(ctx, room.stream);
    sh.installShare(ctx, room.share);
    const replay = backlog;
    backlog = null;
    for (const m of replay) for (const fn of listeners.get(m.type) || []) fn(m);
  }

  // What is not on the screen at start loads when first wanted: the Invite
  // dialog (with leaving, which asks in a dialog too), Settings, the Library.
  onFirstClick(["invite-open", "leave-open"], () => import("./invite.js").then((m) => m.installInvite(ctx)));
  onFirstClick(["settings-open"], () => import("./settings.js").then((m) => m.installSettings(ctx)));
  let library = false;
  store.view((s) => {
    if (library || s.ui.tab !== "library") return;
    library = true;
    import("./library.js").then((m) => m.installLibrary(ctx));
  });
  // A click on a modal dialog's backdrop closes it.
  for (const d of document.querySelectorAll("dialog")) {
    d.addEventListener("click", (e) => {
      if (e.target === d) d.close();
    });
  }

  // The moment the room first shows its state and takes input, for the
  // figures (docs/room-ui.md): a standard performance mark.
  let interactive = false;
  store.view((s) => {
    if (s.ui.tab === "stream") loadLater();
    if (interactive || s.conn !== "open") return;
    interactive = true;
    performance.mark("room:interactive");
    afterStart(() => whenIdle(loadLater));
  });

  // A player joining a room that plays a file from this server needs the
  // page's connections to the server until it has started: a module fetched
  // then took the idle one, and the player's request for the data where it
  // joins went on a new connection, a round trip more (200 ms on a slow
  // path). So what can wait waits for the video to play, at most 5 s.
  function afterStart(fn) {
    const v = player.html;
    const ours = v && new URL(v.currentSrc || v.src || "/", location.href).origin === location.origin;
    if (!ours || !v.paused || !sync.state?.playing) {
      fn();
      return;
    }
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      v.removeEventListener("playing", go);
      fn();
    };
    v.addEventListener("playing", go);
    setTimeout(go, 5000);
  }

  document.addEventListener("visibilitychange", () => {
    send({ type: T.PRESENCE, state: document.visibilityState === "hidden" ? PRESENCE.AWAY : PRESENCE.ONLINE });
    store.update("ui");
  });

  net.attach(connection);
}

/**
 * Runs load (which installs a part of the page) when one of the buttons is
 * first clicked, then gives that click to the part it installed.
 */
function onFirstClick(ids, load) {
  const buttons = ids.map((id) => document.getElementById(id)).filter(Boolean);
  let loading = null;
  const first = (e) => {
    e.preventDefault();
    e.stopImmediatePropagation();
    for (const b of buttons) b.removeEventListener("click", first, true);
    const button = e.currentTarget;
    loading = loading || load();
    loading.then(() => button.click());
  };
  for (const b of buttons) b.addEventListener("click", first, true);
}
