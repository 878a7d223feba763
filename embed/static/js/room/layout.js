// layout.js: the room's frame. The side panel's tabs; the immersive modes
// (theatre, fullscreen of the whole room so the chat drawer comes along, and
// a phone held sideways) in which the panel becomes a drawer over the
// player; the visible viewport's height, so that the composer stays above a
// phone's keyboard; the unread count on the Chat tab and in the title; the
// connection pill.

import { t, plural } from "../i18n.js";
import { watcher } from "./store.js";
import { setText } from "./dom.js";

const TABS = ["chat", "people", "queue", "library", "stream"];

export function installLayout({ root, store, state }) {
  const tabs = TABS.map((name) => document.getElementById(`tab-${name}`));
  const panes = TABS.map((name) => document.getElementById(`pane-${name}`));

  // ---- tabs (WAI-ARIA tabs pattern: arrows move, the selected tab is the only tab stop) ----

  function select(name, focus) {
    store.update("ui", () => {
      state.ui.tab = name;
      if (name === "chat") state.ui.unread = 0;
    });
    if (focus) document.getElementById(`tab-${name}`).focus();
  }
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab.dataset.tab));
    tab.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(tab.dataset.tab);
      let j = -1;
      if (e.key === "ArrowRight") j = (i + 1) % TABS.length;
      else if (e.key === "ArrowLeft") j = (i + TABS.length - 1) % TABS.length;
      else if (e.key === "Home") j = 0;
      else if (e.key === "End") j = TABS.length - 1;
      if (j < 0) return;
      e.preventDefault();
      select(TABS[j], true);
    });
  }

  // ---- immersive modes ----

  const landscape = matchMedia("(max-height: 500px) and (orientation: landscape)");
  const setLandscape = () => store.update("ui", () => (state.ui.landscape = landscape.matches));
  landscape.addEventListener("change", setLandscape);
  setLandscape();

  document.addEventListener("fullscreenchange", () => {
    store.update("ui", () => {
      state.ui.fullscreen = document.fullscreenElement === root;
      if (!state.ui.fullscreen) state.ui.drawer = false;
    });
  });

  const drawerToggle = document.getElementById("drawer-toggle");
  drawerToggle.addEventListener("click", () => setDrawer(!state.ui.drawer));
  document.getElementById("drawer-close").addEventListener("click", () => {
    setDrawer(false);
    drawerToggle.focus();
  });
  function setDrawer(open) {
    store.update("ui", () => {
      state.ui.drawer = open;
      if (open && state.ui.tab === "chat") state.ui.unread = 0;
    });
    if (open) queueMicrotask(() => document.getElementById(`tab-${state.ui.tab}`).focus({ preventScroll: true }));
  }
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.ui.drawer && immersive()) {
      setDrawer(false);
      drawerToggle.focus();
    }
  });

  const immersive = () => state.ui.theatre || state.ui.fullscreen || state.ui.landscape;

  // Controls fade out after a while without pointer movement, in immersive modes.
  let idleTimer = 0;
  const wake = () => {
    root.removeAttribute("data-idle");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (immersive() && !state.ui.drawer && state.syncStatus?.playing && !root.querySelector(".controls:focus-within"))
        root.setAttribute("data-idle", "");
    }, 3000);
  };
  for (const ev of ["pointermove", "pointerdown", "keydown", "focusin"])
    root.addEventListener(ev, wake, { passive: true });

  // ---- the visible viewport (keyboards, browser bars) ----

  const vv = window.visualViewport;
  const fit = () => {
    const h = vv ? vv.height : window.innerHeight;
    document.documentElement.style.setProperty("--vvh", `${Math.round(h)}px`);
    if (vv && vv.offsetTop) window.scrollTo(0, 0);
  };
  // Until the first resize the style's own height (100dvh) is the same, so
  // the page's first layout is not forced here.
  if (vv) vv.addEventListener("resize", fit);
  window.addEventListener("resize", fit);

  // ---- render ----

  const changed = watcher();
  const conn = document.getElementById("conn-state");
  const unreadBadges = root.querySelectorAll("[data-unread]");
  const baseTitle = document.title;
  let lastNew = 0;
  let shownUnread = -1;

  store.view((s) => {
    // New lines from others count as unread while the chat is not in view.
    if (changed(s, "chat")) {
      const fresh = (s.newLines || 0) - lastNew;
      lastNew = s.newLines || 0;
      const chatVisible =
        s.ui.tab === "chat" && (!immersive() || s.ui.drawer) && document.visibilityState === "visible";
      if (fresh > 0 && !chatVisible) s.ui.unread += fresh;
    }
    if (s.ui.tab === "chat" && (!immersive() || s.ui.drawer) && document.visibilityState === "visible") s.ui.unread = 0;

    const imm = immersive();
    root.toggleAttribute("data-immersive", imm);
    root.dataset.drawer = imm && s.ui.drawer ? "open" : "closed";
    root.dataset.tab = s.ui.tab;
    drawerToggle.setAttribute("aria-expanded", String(imm && s.ui.drawer));
    // The closed drawer is out of the tab order and the accessibility tree.
    document.getElementById("panel").inert = imm && !s.ui.drawer;
    tabs.forEach((tab, i) => {
      const on = TABS[i] === s.ui.tab;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      panes[i].hidden = !on;
    });
    // What follows runs on every render (a chat line sent, a play or pause):
    // it writes only what changed.
    if (s.ui.unread !== shownUnread) {
      shownUnread = s.ui.unread;
      for (const b of unreadBadges) {
        b.hidden = !s.ui.unread;
        setText(b, s.ui.unread > 99 ? "99+" : String(s.ui.unread));
      }
      if (s.ui.unread) {
        document
          .getElementById("tab-chat")
          .setAttribute("aria-label", `${t("chat")}, ${plural("unread", s.ui.unread)}`);
        drawerToggle.setAttribute("aria-label", `${t("chat")}, ${plural("unread", s.ui.unread)}`);
      } else {
        document.getElementById("tab-chat").removeAttribute("aria-label");
        drawerToggle.setAttribute("aria-label", t("chat"));
      }
    }
    const name = s.room ? s.room.name || s.room.display : "";
    const title = name ? `${name} · watchparty` : baseTitle;
    const want = s.ui.unread ? `(${s.ui.unread}) ${title}` : title;
    if (document.title !== want) document.title = want;

    if (changed(s, "conn")) {
      conn.dataset.state = s.conn === "reconnecting" ? "connecting" : s.conn;
      conn.textContent =
        s.conn === "open"
          ? t("conn_open")
          : s.conn === "closed"
            ? t("conn_retry", { s: Math.ceil(s.connDelay / 1000) })
            : s.conn === "ended"
              ? t("conn_ended")
              : s.conn === "reconnecting"
                ? t("conn_reconnecting")
                : t("conn_connecting");
    }
  });

  return { select, setDrawer, immersive };
}
