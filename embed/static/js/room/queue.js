// queue.js: what plays. The empty player's link box, the Queue pane's
// "Watch now" / "Add to queue" box and the up-next list with its controls.

import { t } from "../i18n.js";
import { el, icon, setText } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

const $ = (id) => document.getElementById(id);

export function installQueue(ctx) {
  const { store, state, send, can, toast } = ctx;
  let refSeq = 0;

  function watch(url, input) {
    if (!url) return;
    if (!can("change_video")) return toast(t(`reason_video_${ctx.levelOf("change_video")}`));
    if (!send({ type: T.VIDEO, url, ref: `v${++refSeq}` })) {
      store.update("queue", () => (state.linkError = t("not_connected")));
      return;
    }
    store.update("queue", () => (state.linkError = ""));
    if (input) input.value = "";
  }
  function enqueue(url, input) {
    if (!url) return;
    if (!can("manage_queue")) return toast(t(`reason_queue_${ctx.levelOf("manage_queue")}`));
    if (send({ type: T.QUEUE_ADD, url, ref: `vq${++refSeq}` })) {
      if (input) input.value = "";
      toast(t("queued"));
    }
  }

  $("link-form").addEventListener("submit", (e) => {
    e.preventDefault();
    watch($("link").value.trim(), $("link"));
  });
  $("queue-form").addEventListener("submit", (e) => {
    e.preventDefault();
    watch($("queue-link").value.trim(), $("queue-link"));
  });
  $("queue-add").addEventListener("click", () => enqueue($("queue-link").value.trim(), $("queue-link")));

  const list = $("queue");
  const button = (label, aria, onclick, iconName) =>
    el(
      "button",
      { type: "button", class: iconName ? "icon-btn ghost" : "ghost", "aria-label": aria, title: aria, onclick },
      iconName ? icon(iconName) : label,
    );

  const changed = watcher();
  const listChanged = watcher();
  store.view((s) => {
    if (!changed(s, "queue", "room", "player")) return;
    const manage = can("manage_queue");
    const change = can("change_video");
    $("queue-watch").hidden = !change;
    $("queue-add").hidden = !manage;
    $("queue-form").hidden = !change && !manage;
    $("link-form").hidden = !change;
    setText($("empty-text"), change ? t("empty_text") : t("empty_wait"));
    for (const id of ["link-error", "queue-error"]) setText($(id), s.linkError || "");
    // The list is made again only when it or the rights change (not on
    // every play or pause).
    if (!listChanged(s, "queue", "room")) return;
    const rows = s.queue.map((it, i) => {
      const title = it.video.title || it.video.url;
      const li = el("li", { "data-id": String(it.id) }, el("span", { class: "title", text: title }));
      if (change && i === 0)
        li.append(button(t("play_now"), t("play_now_of", { title }), () => send({ type: T.QUEUE_NEXT })));
      if (manage) {
        if (i > 0)
          li.append(
            button("", t("move_up_of", { title }), () => send({ type: T.QUEUE_MOVE, seq: it.id, t: i - 1 }), "up"),
          );
        if (i < s.queue.length - 1)
          li.append(
            button("", t("move_down_of", { title }), () => send({ type: T.QUEUE_MOVE, seq: it.id, t: i + 1 }), "down"),
          );
        li.append(
          button("", t("queue_remove_of", { title }), () => send({ type: T.QUEUE_REMOVE, seq: it.id }), "trash"),
        );
      }
      return li;
    });
    if (!rows.length) rows.push(el("li", { class: "empty", text: manage ? t("queue_empty") : t("queue_empty_view") }));
    list.replaceChildren(...rows);
  });
}
