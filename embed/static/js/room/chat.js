// chat.js: the chat pane. Lines from one member in a row are grouped under
// one avatar and name (initials in a colour that stays the same for a
// member); @mentions of you are highlighted; links are links (no previews:
// fetching them would tell third parties who is in the room); playback
// activity ("Bob paused at 12:04") can be hidden; an optional sound plays for
// lines that arrive while you are not looking. The composer has an emoji
// picker and @mention completion; your own line shows at once and is
// confirmed when the server echoes it.

import { t, has, timeOfDay } from "../i18n.js";
import { el, icon, avatar, colourOf, typingInto, setText } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

const EMOJI =
  "😀 😂 🤣 😊 😍 😘 😎 🤔 😮 😱 😢 😭 😡 🥳 😴 🙄 👍 👎 👏 🙌 🙏 💪 👀 🤝 ❤️ 💔 🔥 ✨ 🎉 🍿 🎬 📺 🎵 ☕ 🍕 🍺 ✅ ❌ ⏸️ ▶️ ⏩ 💯".split(
    " ",
  );
const GROUP_MS = 5 * 60 * 1000;
const URL_RE = /https?:\/\/[^\s<>"']+/giu;
const $ = (id) => document.getElementById(id);
const whenIdle = (fn) =>
  window.requestIdleCallback ? requestIdleCallback(fn, { timeout: 1000 }) : setTimeout(fn, 200);

export function installChat(ctx) {
  const { root, store, state, send } = ctx;
  const log = $("chat-log");
  const scroller = $("chat-scroll");
  const input = $("chat-input");
  const form = $("chat-form");
  const errorLine = $("chat-error");
  const typingLine = $("typing");
  const emptyLine = $("chat-empty");
  const picker = $("emoji-picker");
  const emojiOpen = $("emoji-open");
  const mentionList = $("mentions");
  const earlier = $("chat-more");
  earlier.addEventListener("click", () => {
    const first = state.feed.find((x) => x.seq);
    if (first) send({ type: T.HISTORY, seq: first.seq });
  });
  let refSeq = 0;

  // ---- settings kept in this browser ----

  const pref = (k, d) => {
    try {
      const v = localStorage.getItem(`wp.${k}`);
      return v === null ? d : v === "1";
    } catch {
      return d;
    }
  };
  const keep = (k, v) => {
    try {
      localStorage.setItem(`wp.${k}`, v ? "1" : "0");
    } catch {
      /* not kept */
    }
  };
  const activityBox = $("show-activity");
  const soundBox = $("chat-sound");
  activityBox.checked = pref("activity", true);
  soundBox.checked = pref("sound", false);
  const applyActivity = () => {
    root.dataset.activity = activityBox.checked ? "on" : "off";
    keep("activity", activityBox.checked);
  };
  activityBox.addEventListener("change", applyActivity);
  soundBox.addEventListener("change", () => keep("sound", soundBox.checked));
  applyActivity();

  let audio = null;
  function ping() {
    try {
      audio = audio || new AudioContext();
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.08, audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      o.connect(g).connect(audio.destination);
      o.start();
      o.stop(audio.currentTime + 0.25);
    } catch {
      /* no audio */
    }
  }

  // ---- rendering lines ----

  const shown = new Map(); // entry key -> {el, rev}
  const keyOf = (x) => (x.seq ? `s${x.seq}` : x.id);

  function mentionsMe(text) {
    const me = state.me?.name;
    return !!me && text.toLowerCase().includes(`@${me.toLowerCase()}`);
  }

  // richText splits a line into text, links and @mentions of members.
  function richText(text) {
    const names = [...state.members.values()].map((m) => m.name).sort((a, b) => b.length - a.length);
    const out = [];
    const parts = [];
    let last = 0;
    for (const m of text.matchAll(URL_RE)) {
      parts.push({ text: text.slice(last, m.index) }, { url: m[0] });
      last = m.index + m[0].length;
    }
    parts.push({ text: text.slice(last) });
    for (const p of parts) {
      if (p.url) {
        out.push(el("a", { href: p.url, rel: "noopener noreferrer nofollow ugc", target: "_blank", text: p.url }));
        continue;
      }
      let rest = p.text;
      while (rest) {
        const at = rest.indexOf("@");
        if (at < 0) {
          out.push(rest);
          break;
        }
        const lower = rest.slice(at + 1).toLowerCase();
        const name = names.find((n) => lower.startsWith(n.toLowerCase()));
        if (!name) {
          out.push(rest.slice(0, at + 1));
          rest = rest.slice(at + 1);
          continue;
        }
        out.push(rest.slice(0, at), el("span", { class: "mention-tag", text: rest.slice(at, at + 1 + name.length) }));
        rest = rest.slice(at + 1 + name.length);
      }
    }
    return out;
  }

  function lineEl(x, prev) {
    if (x.kind === "activity") {
      return el(
        "li",
        { class: "activity", "data-what": x.what },
        icon(x.what === "seek" ? "fwd" : x.what === "pause" ? "pause" : "play"),
        el("span", { text: x.text }),
      );
    }
    const when = new Date(x.time || Date.now());
    const time = el("time", { datetime: when.toISOString(), text: timeOfDay(when) });
    if (x.kind === "system") {
      // The server names the line's kind (key) so that it reads in the page's language.
      const text = x.key && has(`sys_${x.key}`) ? t(`sys_${x.key}`, x.args || {}) : x.text;
      return el("li", { class: "system", "data-seq": x.seq, text }, " ", time);
    }
    const cont = prev && prev.kind === "chat" && prev.user === x.user && x.time - prev.time < GROUP_MS;
    const colour = colourOf(x.user || x.name);
    const li = el(
      "li",
      {
        class: `line msg${cont ? " cont" : ""}${mentionsMe(x.text) && x.user !== state.me?.id ? " mention" : ""}${x.pending ? " pending" : ""}`,
        "data-seq": x.seq,
        "data-user": x.user,
      },
      avatar(x.user, x.name),
      el(
        "div",
        { class: "msg-head" },
        el("span", { class: `who ${colour}`, text: x.name }),
        x.guest ? el("span", { class: "badge", text: t("guest") }) : null,
        time,
      ),
      el("div", { class: "text" }, ...richText(x.text)),
    );
    if (!x.pending) li.append(reactions(x));
    return li;
  }

  // A line's reaction bar: the buttons of its reactions and "add a
  // reaction", a copy of one made once (a long log renders faster without
  // an icon built per line). Clicks are handled once, for the whole log.
  let moreProto = null;
  function reactions(x) {
    const r = x.reactions || {};
    const bar = el("div", { class: "reacts" });
    for (const emoji of state.reactions) {
      const users = r[emoji] || [];
      if (users.length) bar.append(reactButton(emoji, `${emoji} ${users.length}`, users.includes(state.me?.id)));
    }
    moreProto =
      moreProto ||
      el(
        "button",
        {
          type: "button",
          class: "react-more ghost",
          "aria-label": t("react_add"),
          "aria-expanded": "false",
          title: t("react_add"),
        },
        icon("emoji"),
      );
    // The picker's buttons are made when it first opens: most lines never
    // get a reaction.
    bar.append(moreProto.cloneNode(true), el("span", { class: "picker" }));
    return bar;
  }

  function reactButton(emoji, label, pressed) {
    return el("button", {
      type: "button",
      text: label,
      "data-emoji": emoji,
      "aria-pressed": String(pressed),
      "aria-label": t("react_with", { emoji }),
    });
  }

  log.addEventListener("click", (e) => {
    const b = e.target instanceof Element && e.target.closest(".reacts button");
    const seq = b && Number(b.closest("li")?.dataset.seq);
    if (!seq) return;
    if (b.dataset.emoji) {
      send({ type: T.REACT, seq, emoji: b.dataset.emoji });
      return;
    }
    const pick = b.nextElementSibling;
    if (!pick.firstChild) {
      const r = state.feed.find((x) => x.seq === seq)?.reactions || {};
      for (const emoji of state.reactions)
        pick.append(reactButton(emoji, emoji, (r[emoji] || []).includes(state.me?.id)));
    }
    const open = pick.classList.toggle("open");
    b.setAttribute("aria-expanded", String(open));
    if (open) pick.querySelector("button")?.focus();
  });

  // Whether the log is scrolled to its end is kept from its scroll events, so
  // that rendering a line never has to read the layout; the scroll to the end
  // waits for the next frame, whose layout the browser does anyway.
  let stuck = true;
  scroller.addEventListener(
    "scroll",
    () => (stuck = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48),
    { passive: true },
  );
  let scrolling = false;
  const toBottom = () => {
    stuck = true;
    if (scrolling) return;
    scrolling = true;
    requestAnimationFrame(() => {
      scrolling = false;
      scroller.scrollTop = scroller.scrollHeight;
    });
  };

  // confirm turns the element of your pending line into the confirmed
  // line's: only what differs changes, so the log is not laid out anew.
  function confirm(li, x) {
    li.classList.remove("pending");
    li.dataset.seq = x.seq;
    const when = new Date(x.time || Date.now());
    const time = li.querySelector("time");
    if (time) {
      time.dateTime = when.toISOString();
      time.textContent = timeOfDay(when);
    }
    li.append(reactions(x));
  }

  // The first render shows the newest FIRST_LINES lines (more than the log
  // shows); the older ones of the hello wait until the page is idle, so
  // that the room is up sooner.
  const FIRST_LINES = 20;
  let deferred = -1; // lines at the start of the feed not yet shown; -1: before the first render
  function deferOlder(s) {
    if (deferred >= 0 || !s.feed.length) return;
    deferred = Math.max(0, s.feed.length - FIRST_LINES);
    if (deferred)
      whenIdle(() => {
        deferred = 0;
        store.update("chat");
      });
  }

  function renderFeed(s) {
    deferOlder(s);
    const stick = stuck;
    for (const x of s.feed) {
      const got = x.replaces && !shown.has(keyOf(x)) && shown.get(x.replaces);
      if (got) {
        shown.delete(x.replaces);
        confirm(got.el, x);
        shown.set(keyOf(x), { el: got.el, rev: x.rev || 0 });
      }
    }
    const keys = new Set(s.feed.map(keyOf));
    for (const [k, v] of shown) {
      if (!keys.has(k)) {
        v.el.remove();
        shown.delete(k);
      }
    }
    let prevEntry = null;
    let prevEl = null;
    let mine = false;
    let fresh = 0;
    let mention = false;
    for (const [i, x] of s.feed.entries()) {
      const k = keyOf(x);
      let got = shown.get(k);
      if (!got && i < deferred) {
        prevEntry = x;
        continue;
      }
      if (got && got.rev !== (x.rev || 0)) {
        const bar = got.el.querySelector(".reacts");
        if (bar) bar.replaceWith(reactions(x));
        got.rev = x.rev || 0;
      }
      if (!got) {
        const e = lineEl(x, prevEntry);
        got = { el: e, rev: x.rev || 0 };
        shown.set(k, got);
        if (prevEl) prevEl.after(e);
        else log.prepend(e);
        if (x.user === s.me?.id) mine = true;
        else if (x.kind === "chat" && !x.fromHello) {
          fresh++;
          if (mentionsMe(x.text)) mention = true;
        }
      }
      prevEntry = x;
      prevEl = got.el;
    }
    emptyLine.hidden = s.feed.some((x) => x.kind === "chat");
    if (stick || mine) toBottom();
    const looking = document.visibilityState === "visible" && s.ui.tab === "chat";
    if (soundBox.checked && s.conn === "open" && fresh && (!looking || mention)) ping();
  }

  // ---- typing ----

  let typingSent = 0;
  let typingStop = 0;
  function stopTyping() {
    clearTimeout(typingStop);
    if (typingSent) send({ type: T.TYPING, on: false });
    typingSent = 0;
  }

  // ---- composer ----

  function grow() {
    input.style.height = "";
    if (input.value && input.scrollHeight > input.clientHeight)
      input.style.height = `${Math.min(input.scrollHeight + 2, 128)}px`;
  }

  input.addEventListener("input", () => {
    grow();
    const now = Date.now();
    if (now - typingSent > 2500 && input.value) {
      if (send({ type: T.TYPING, on: true })) typingSent = now;
    }
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 3000);
    suggest();
  });

  input.addEventListener("keydown", (e) => {
    if (!mentionList.hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        moveMention(e.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pickMention();
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        closeMentions();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      swallow("\n");
      form.requestSubmit();
    }
  });
  // A key that did its job in keydown (Enter sends, "/" focuses the
  // composer) must not also type its character: some input paths (remote
  // desktops, automation) deliver the character as an event of its own.
  let swallowed = null;
  function swallow(ch) {
    swallowed = { ch, until: performance.now() + 150 };
  }
  input.addEventListener("beforeinput", (e) => {
    if (!swallowed || performance.now() > swallowed.until) return;
    const ch = e.inputType === "insertLineBreak" || e.inputType === "insertParagraph" ? "\n" : e.data;
    if (ch === swallowed.ch) {
      e.preventDefault();
      swallowed = null;
    }
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    const ref = `c${++refSeq}`;
    if (!send({ type: T.CHAT, text, ref })) {
      store.update("chat", () => (state.chatError = t("chat_not_connected")));
      return;
    }
    stopTyping();
    input.value = "";
    grow();
    closeMentions();
    closePicker();
    store.update("chat", () => {
      state.chatError = "";
      const me = state.me || {};
      state.feed.push({
        kind: "chat",
        pending: true,
        id: `p${ref}`,
        ref,
        user: me.id,
        name: me.name,
        guest: me.guest,
        text,
        time: Date.now(),
      });
    });
  });

  // ---- emoji picker ----

  // The emoji buttons are made when the picker first opens.
  function fillPicker() {
    if (picker.firstChild) return;
    for (const e of EMOJI) {
      picker.append(el("button", { type: "button", text: e, "aria-label": e, onclick: () => insert(e) }));
    }
  }
  function insert(text) {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? start;
    input.setRangeText(text, start, end, "end");
    input.dispatchEvent(new Event("input"));
    input.focus();
  }
  function closePicker() {
    if (picker.hidden) return;
    picker.hidden = true;
    emojiOpen.setAttribute("aria-expanded", "false");
  }
  emojiOpen.addEventListener("click", () => {
    fillPicker();
    const open = picker.hidden;
    picker.hidden = !open;
    emojiOpen.setAttribute("aria-expanded", String(open));
    if (open) picker.querySelector("button").focus();
  });
  picker.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closePicker();
      emojiOpen.focus();
    }
  });
  document.addEventListener("pointerdown", (e) => {
    if (!picker.hidden && !picker.contains(e.target) && e.target !== emojiOpen && !emojiOpen.contains(e.target))
      closePicker();
  });

  // ---- @mentions ----

  let matches = [];
  let active = 0;
  function mentionQuery() {
    const upto = input.value.slice(0, input.selectionStart ?? input.value.length);
    const m = /(?:^|\s)@([^\s@]{0,30})$/u.exec(upto);
    return m ? m[1] : null;
  }
  function suggest() {
    const q = mentionQuery();
    if (q === null) return closeMentions();
    const ql = q.toLowerCase();
    matches = [...state.members.values()]
      .filter((m) => m.id !== state.me?.id && m.name.toLowerCase().startsWith(ql))
      .slice(0, 6);
    if (!matches.length) return closeMentions();
    active = 0;
    renderMentions();
  }
  function renderMentions() {
    mentionList.replaceChildren(
      ...matches.map((m, i) =>
        el(
          "li",
          {
            role: "option",
            id: `mention-${i}`,
            "aria-selected": String(i === active),
            onpointerdown: (e) => {
              e.preventDefault();
              active = i;
              pickMention();
            },
          },
          avatar(m.id, m.name, true),
          el("span", { text: m.name }),
        ),
      ),
    );
    mentionList.hidden = false;
    input.setAttribute("aria-activedescendant", `mention-${active}`);
  }
  function moveMention(d) {
    active = (active + d + matches.length) % matches.length;
    renderMentions();
  }
  function pickMention() {
    const m = matches[active];
    if (!m) return closeMentions();
    const pos = input.selectionStart ?? input.value.length;
    const upto = input.value.slice(0, pos);
    const at = upto.lastIndexOf("@");
    input.setRangeText(`@${m.name} `, at, pos, "end");
    closeMentions();
    input.focus();
  }
  function closeMentions() {
    mentionList.hidden = true;
    matches = [];
    input.removeAttribute("aria-activedescendant");
  }

  // ---- render ----

  const changed = watcher();
  let tab = "";
  store.view((s) => {
    // Back on the chat: show the newest line.
    if (s.ui.tab !== tab) {
      tab = s.ui.tab;
      if (tab === "chat") toBottom();
    }
    if (!changed(s, "chat", "members", "conn")) return;
    renderFeed(s);
    earlier.hidden = !s.historyMore;
    setText(errorLine, s.chatError || "");
    if (s.restoreText) {
      if (!input.value) input.value = s.restoreText;
      s.restoreText = "";
    }
    const names = [...s.typing.keys()].map((id) => s.members.get(id)?.name).filter(Boolean);
    setText(
      typingLine,
      names.length === 0
        ? ""
        : names.length === 1
          ? t("typing_one", { name: names[0] })
          : t("typing_many", { names: names.join(", ") }),
    );
    const off = s.conn === "ended";
    input.disabled = off;
    $("chat-send").disabled = off;
  });

  // "/" focuses the composer, as in most chat apps.
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !typingInto(e.target) && !document.querySelector("dialog[open]") && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      store.update("ui", () => {
        state.ui.tab = "chat";
        state.ui.drawer = true;
      });
      swallow("/");
      queueMicrotask(() => input.focus());
    }
  });
}
