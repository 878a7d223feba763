// overlays.js: what shows on the player. The empty state (paste a link), a
// video that failed to load (for everyone, with "revert to the previous
// video" for those who may change it), the room held for someone, and the
// end of the visit (removed by the owner, room deleted, logged out), which stops the
// player and offers the way back.

import { t } from "../i18n.js";
import { watcher } from "./store.js";
import { T, REASON } from "../protocol.js";

const $ = (id) => document.getElementById(id);

export function installOverlays(ctx) {
  const { store, state, send, can, nameOf } = ctx;
  const notice = $("player-notice");
  const revert = $("revert");
  $("notice-close").addEventListener("click", () => store.update("player", () => (state.notice = null)));
  revert.addEventListener("click", () => {
    const prev = state.notice?.revert;
    if (prev && send({ type: T.VIDEO, url: prev.url, ref: "vrevert" }))
      store.update("player", () => (state.notice = null));
  });

  const changed = watcher();
  store.view((s) => {
    if (!changed(s, "player", "room", "conn", "members")) return;
    const streaming = !$("stream-view").hidden;
    $("player-empty").hidden = !!s.video || streaming || !s.me || !!s.ended;
    notice.hidden = !s.notice;
    if (s.notice) {
      $("player-notice-text").textContent = s.notice.text;
      revert.hidden = !(s.notice.revert && can("change_video"));
    }
    const hold = $("hold");
    hold.hidden = !s.hold;
    if (s.hold)
      hold.textContent = t("hold_waiting", { names: (s.hold.waiting || []).map(nameOf).join(", ") || t("someone") });
    const ended = $("ended");
    if (s.ended && ended.hidden) {
      $("ended-title").textContent = s.ended.title;
      $("ended-text").textContent = s.ended.text;
      const login = $("ended-login");
      login.hidden = s.ended.code !== REASON.LOGGED_OUT;
      ended.hidden = false;
      document.querySelectorAll("dialog[open]").forEach((d) => d.close());
      ended.querySelector("a:not([hidden])").focus();
    }
  });
}
