// library.js: the Library pane, the server's media folder. Listed when the
// pane first opens; each video can be watched at once or queued.

import { t } from "../i18n.js";
import { el } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

export function installLibrary(ctx) {
  const { store, send, can, base, code } = ctx;
  const results = document.getElementById("library-results");
  const input = document.getElementById("library-q");
  let loaded = false;
  let refSeq = 0;

  async function search() {
    loaded = true;
    results.replaceChildren(el("li", { class: "empty", text: t("loading") }));
    let data;
    try {
      const res = await fetch(`${base}/r/${encodeURIComponent(code)}/media?q=${encodeURIComponent(input.value)}`, {
        headers: { Accept: "application/json" },
      });
      if (!res.ok) throw new Error(t("library_failed"));
      data = await res.json();
    } catch (e) {
      results.replaceChildren(el("li", { class: "field-error", text: e.message }));
      return;
    }
    if (!data.enabled) {
      results.replaceChildren(el("li", { class: "empty", text: t("library_none") }));
      return;
    }
    const rows = (data.entries || []).map((e) => {
      const li = el("li", {}, el("span", { class: "title", text: e.path }));
      if (can("change_video"))
        li.append(
          el("button", {
            type: "button",
            class: "ghost",
            text: t("watch"),
            "aria-label": t("watch_of", { title: e.name }),
            onclick: () => send({ type: T.VIDEO, url: e.link, ref: `vl${++refSeq}` }),
          }),
        );
      if (can("manage_queue"))
        li.append(
          el("button", {
            type: "button",
            class: "ghost",
            text: t("queue_verb"),
            "aria-label": t("queue_of", { title: e.name }),
            onclick: () => send({ type: T.QUEUE_ADD, url: e.link, ref: `vq${++refSeq}` }),
          }),
        );
      return li;
    });
    if (!rows.length) rows.push(el("li", { class: "empty", text: t("library_no_match") }));
    results.replaceChildren(...rows);
  }

  document.getElementById("library-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search();
  });
  const changed = watcher();
  store.view((s) => {
    if (changed(s, "ui") && s.ui.tab === "library" && !loaded) search();
  });
}
