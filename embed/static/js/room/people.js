// people.js: the People pane. Who is here, their role, whether they are
// online, and how their playback is doing in words ("in sync", "catching
// up", "buffering") with the measured offset as a detail. The owner can make
// a member a moderator (and back) and remove a member.

import { t } from "../i18n.js";
import { el, avatar } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

const IN_SYNC_MS = 150;
const CATCHING_MS = 2000;

/** Classifies a member's sync report: "ok", "catching", "off", "buffering" or "" (nothing known). */
export function syncState(s) {
  if (!s) return "";
  if (s.buffering) return "buffering";
  if (!s.reported) return "";
  const d = Math.abs(s.drift);
  return d <= IN_SYNC_MS ? "ok" : d <= CATCHING_MS ? "catching" : "off";
}

export function installPeople(ctx) {
  const { store, post, send, toast, confirmAction } = ctx;
  const list = document.getElementById("members");
  const more = document.getElementById("members-more");
  more.addEventListener("click", () => send({ type: T.MEMBERS, seq: store.state.members.size }));
  const count = document.getElementById("people-count");

  async function act(action, fields, done) {
    try {
      await post(action, fields);
      if (done) toast(done);
    } catch (e) {
      toast(e.message);
    }
  }

  function row(s, m) {
    const me = s.me && m.id === s.me.id;
    const owner = s.me && s.me.role === "owner";
    const sub = el(
      "span",
      { class: "member-sub" },
      el("span", { class: "presence", "data-p": m.presence, text: t(`presence_${m.presence}`) }),
    );
    // A member watching in a native player (engine/syncplay).
    if (m.native) sub.append(el("span", { class: "badge native", title: t("native_title"), text: t("native_badge") }));
    const st = m.presence === "offline" ? "" : syncState(s.syncMembers[m.id]);
    if (st) {
      const drift = s.syncMembers[m.id].drift;
      sub.append(
        el("span", {
          class: "sync-pill sync-tag",
          "data-sync": st,
          "data-state": st,
          title: t("sync_detail", { ms: `${drift >= 0 ? "+" : "−"}${Math.abs(drift)}` }),
          text: t(`sync_${st}`),
        }),
      );
      if (st !== "buffering")
        sub.append(el("span", { class: "drift", text: `${drift >= 0 ? "+" : "−"}${Math.abs(drift)} ms` }));
    }
    const name = el("span", { class: "member-name" }, el("span", { text: m.name }));
    if (me) name.append(el("span", { class: "muted", text: t("you_paren") }));
    if (m.role !== "member") name.append(el("span", { class: "badge", text: t(`role_${m.role}`) }));
    if (m.guest) name.append(el("span", { class: "badge", text: t("guest") }));
    const li = el(
      "li",
      { "data-id": m.id, "data-presence": m.presence, class: m.presence },
      avatar(m.id, m.name),
      el("div", { class: "member-main" }, name, sub),
    );
    if (owner && !me) {
      const promote = m.role === "moderator" ? "member" : "moderator";
      li.append(
        el(
          "div",
          { class: "member-menu" },
          m.guest
            ? null
            : el("button", {
                type: "button",
                class: "ghost",
                text: promote === "moderator" ? t("make_moderator") : t("make_member"),
                "aria-label": t(promote === "moderator" ? "make_moderator_of" : "make_member_of", { name: m.name }),
                onclick: () => act("role", { user: m.id, role: promote }),
              }),
          el("button", {
            type: "button",
            class: "ghost",
            text: t("remove"),
            "aria-label": t("remove_of", { name: m.name }),
            onclick: async () => {
              if (await confirmAction(t("remove_title", { name: m.name }), t("remove_text"), t("remove")))
                act("kick", { user: m.id }, t("removed_done", { name: m.name }));
            },
          }),
        ),
      );
    }
    return li;
  }

  const rank = (s, m) =>
    (m.presence === "offline" ? 10 : 0) +
    (m.role === "owner" ? 0 : m.role === "moderator" ? 1 : 2) +
    (s.me && m.id === s.me.id ? -0.5 : 0);
  // The list is sorted by name with localeCompare, whose first use loads
  // the locale's collation data (tens of ms): while the pane is not shown,
  // it is made when the page is idle rather than in the room's first frame.
  let stale = false;
  let idle = 0;
  const whenIdle = window.requestIdleCallback || ((fn) => setTimeout(fn, 100));
  function renderList(s) {
    stale = false;
    const members = [...s.members.values()].sort((a, b) => rank(s, a) - rank(s, b) || a.name.localeCompare(b.name));
    list.replaceChildren(...members.map((m) => row(s, m)));
  }
  const changed = watcher();
  store.view((s) => {
    if (changed(s, "members", "room")) {
      stale = true;
      const online = [...s.members.values()].filter((m) => m.presence !== "offline").length;
      count.textContent = online ? String(online) : "";
      // A large room's hello lists the first members; the rest on request.
      more.hidden = !(s.membersTotal > s.members.size);
      more.textContent = t("show_all_members", { n: s.membersTotal });
    }
    if (!stale) return;
    if (s.ui.tab === "people") renderList(s);
    else if (!idle)
      idle = whenIdle(
        () => {
          idle = 0;
          if (stale) renderList(store.state);
        },
        { timeout: 1000 },
      );
  });
}
