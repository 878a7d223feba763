// library.js: the Library pane, the server's media folder. It opens on the
// folder's top level; folders open in place, a search looks through every
// folder. Each video shows its poster, length, picture size and how it
// plays, as a badge with the reason ("Convert: HEVC video"), and can be
// watched at once, from where this room left it, or queued. A video with
// picture subtitles can be watched with one of them burnt in. While the
// server starts converting the video the room plays, its row says so
// ("Converting…", or its place in the queue when every converter is busy).

import { t } from "../i18n.js";
import { el, icon, clock } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

// How often, and how many times, a listing with files still being looked
// at (probed) is fetched again.
const AGAIN_MS = 2500;
const AGAIN_TRIES = 8;

// libraryPath is the library file a media: link names ("" for none).
function libraryPath(url) {
  if (!url || !/^media:/i.test(url)) return "";
  return url.replace(/^media:/i, "").split("#")[0];
}

export function installLibrary(ctx) {
  const { store, send, can, base, code, player } = ctx;
  const results = document.getElementById("library-results");
  const input = document.getElementById("library-q");
  const crumbs = document.getElementById("library-path");
  const note = document.getElementById("library-note");
  let loaded = false;
  let refSeq = 0;
  let dir = "";
  let again = null;
  let tries = 0;
  // What the room's player does with a library file: {path, phase, text},
  // phase "converting", "queued" or "playing".
  let now = { path: "", phase: "", text: "" };
  const modes = new Map(); // path -> playback mode, from the last listing
  const statuses = new Map(); // path -> the status element of its row
  // path -> the picture subtitle chosen to burn in: a listing fetched again
  // (while files are probed) rebuilds the rows, not the choice.
  const burnChoice = new Map();

  async function load(opts = {}) {
    loaded = true;
    clearTimeout(again);
    if (!opts.quiet) results.replaceChildren(el("li", { class: "empty", text: t("loading") }));
    const q = input.value.trim();
    const params = new URLSearchParams(q ? { q } : { dir });
    let data;
    try {
      const res = await fetch(`${base}/r/${encodeURIComponent(code)}/media?${params}`, {
        headers: { Accept: "application/json" },
      });
      let body = {};
      try {
        body = await res.json();
      } catch {
        body = {};
      }
      if (!res.ok) throw new Error(body.error || t("library_failed"));
      data = body;
    } catch (e) {
      if (!opts.quiet) results.replaceChildren(el("li", { class: "field-error", text: e.message }));
      return;
    }
    if (!data.enabled) {
      crumbs.replaceChildren();
      note.hidden = true;
      results.replaceChildren(el("li", { class: "empty", text: t("library_none") }));
      return;
    }
    note.hidden = !data.missing;
    note.textContent = data.missing || "";
    renderCrumbs(data.search ? null : data.dir || "");
    statuses.clear();
    const rows = [];
    for (const name of data.folders || []) {
      const path = data.dir ? `${data.dir}/${name}` : name;
      rows.push(
        el(
          "li",
          { class: "folder" },
          el(
            "button",
            { type: "button", class: "ghost folder-open", onclick: () => open(path) },
            icon("library"),
            el("span", { text: name }),
          ),
        ),
      );
    }
    for (const e of data.entries || []) {
      if (e.mode) modes.set(e.path, e.mode);
      rows.push(entryRow(e));
    }
    if (!rows.length) rows.push(el("li", { class: "empty", text: t("library_no_match") }));
    // The control that had the focus keeps it in the new rows (each row's
    // controls are named by the file).
    const focused = results.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    results.replaceChildren(...rows);
    if (focused)
      [...results.querySelectorAll("[aria-label]")].find((n) => n.getAttribute("aria-label") === focused)?.focus();
    // Files not looked at yet are probed in the background: look again.
    if ((data.entries || []).some((e) => !e.probed) && tries < AGAIN_TRIES) {
      tries++;
      again = setTimeout(() => load({ quiet: true }), AGAIN_MS);
    }
  }

  function open(path) {
    dir = path;
    input.value = "";
    tries = 0;
    load();
  }

  function renderCrumbs(path) {
    if (path === null) {
      crumbs.replaceChildren(el("span", { text: t("library_results") }));
      return;
    }
    const parts = path ? path.split("/") : [];
    const items = [
      parts.length
        ? el("button", { type: "button", class: "link", text: t("library"), onclick: () => open("") })
        : el("span", { "aria-current": "location", text: t("library") }),
    ];
    parts.forEach((p, i) => {
      items.push(el("span", { "aria-hidden": "true", text: "/" }));
      const to = parts.slice(0, i + 1).join("/");
      items.push(
        i === parts.length - 1
          ? el("span", { "aria-current": "location", text: p })
          : el("button", { type: "button", class: "link", text: p, onclick: () => open(to) }),
      );
    });
    crumbs.replaceChildren(...items);
  }

  // badge is how a file plays, with why: "Direct", "Remux: Matroska
  // container", "Convert: HEVC video, DTS audio".
  function badge(e) {
    let text;
    if (!e.probed) text = t("lib_probing");
    else if (e.mode === "direct") text = t("lib_direct");
    else if (e.mode === "remux") text = t("lib_remux", { reason: e.reason || "" });
    else if (e.mode === "transcode") text = t("lib_transcode", { reason: e.reason || "" });
    else text = t("lib_unplayable", { reason: e.reason || "" });
    return el("span", { class: `lib-badge mode-${e.probed ? e.mode || "unknown" : "probing"}`, text });
  }

  function entryRow(e) {
    const meta = [];
    if (e.duration) meta.push(clock(e.duration));
    if (e.width && e.height) meta.push(`${e.width}×${e.height}`);
    const status = el("span", { class: "lib-status", role: "status" });
    statuses.set(e.path, status);
    const info = el(
      "div",
      { class: "lib-info" },
      el("span", { class: "title", text: e.name }),
      meta.length ? el("span", { class: "lib-meta", text: meta.join(" · ") }) : null,
      badge(e),
      status,
    );
    const actions = el("div", { class: "lib-actions" });
    let burn = null;
    if (can("change_video") && (e.burn || []).length) {
      burn = el(
        "select",
        { class: "lib-burn", "aria-label": t("library_burn_of", { title: e.name }) },
        el("option", { value: "", text: t("library_burn_none") }),
        ...e.burn.map((b) => el("option", { value: String(b.index), text: t("library_burn", { label: b.label }) })),
      );
      const chosen = burnChoice.get(e.path);
      if (e.burn.some((b) => String(b.index) === chosen)) burn.value = chosen;
      burn.addEventListener("change", () => burnChoice.set(e.path, burn.value));
      actions.append(burn);
    }
    const link = (start) => {
      const frag = [];
      if (burn && burn.value) frag.push(`burn=${burn.value}`);
      if (start) frag.push(`t=${Math.floor(start)}`);
      return frag.length ? `${e.link}#${frag.join("&")}` : e.link;
    };
    const playable = e.mode !== "unplayable";
    const button = (text, label, onclick, cls = "ghost") =>
      el("button", { type: "button", class: cls, text, "aria-label": label, onclick });
    if (can("change_video") && playable) {
      if (e.resume)
        actions.append(
          button(
            t("library_continue", { time: clock(e.resume) }),
            t("library_continue_of", { title: e.name, time: clock(e.resume) }),
            () => send({ type: T.VIDEO, url: link(e.resume), ref: `vl${++refSeq}` }),
            "primary",
          ),
        );
      actions.append(
        button(t("watch"), t("watch_of", { title: e.name }), () =>
          send({ type: T.VIDEO, url: link(0), ref: `vl${++refSeq}` }),
        ),
      );
    }
    if (can("manage_queue") && playable)
      actions.append(
        button(t("queue_verb"), t("queue_of", { title: e.name }), () =>
          send({ type: T.QUEUE_ADD, url: link(0), ref: `vq${++refSeq}` }),
        ),
      );
    const poster = el("img", { class: "lib-poster", src: e.poster, alt: "", loading: "lazy", decoding: "async" });
    poster.addEventListener("error", () => poster.classList.add("none"), { once: true });
    const li = el("li", { class: "lib-entry", "data-path": e.path }, poster, info, actions);
    showStatus(e.path);
    return li;
  }

  // showStatus writes what the player does with path into its row.
  function showStatus(path) {
    const s = statuses.get(path);
    if (!s) return;
    let text = "";
    if (now.path === path) {
      if (now.phase === "converting") text = t("lib_converting");
      else if (now.phase === "queued") text = t("lib_queued", { text: now.text });
      else if (now.phase === "playing") text = t("lib_playing");
    }
    s.textContent = text;
    s.className = `lib-status${text ? ` ${now.phase}` : ""}`;
  }

  function setNow(next) {
    const prev = now.path;
    now = next;
    if (prev && prev !== now.path) showStatus(prev);
    if (now.path) showStatus(now.path);
  }

  player.addEventListener("load", (e) => {
    const v = e.detail;
    const path = v && v.kind === "library" ? libraryPath(v.url) : "";
    const burnt = v && /[#&]burn=/.test(v.url);
    const mode = modes.get(path);
    const converting = burnt || mode === "remux" || mode === "transcode";
    setNow({ path, phase: path && converting ? "converting" : "", text: "" });
  });
  player.addEventListener("notice", (e) => {
    if (now.path && now.phase !== "playing") setNow({ ...now, phase: "queued", text: e.detail });
  });
  player.addEventListener("ready", () => {
    if (now.path) setNow({ ...now, phase: "playing", text: "" });
  });
  player.addEventListener("failed", () => {
    if (now.path) setNow({ ...now, phase: "", text: "" });
  });

  document.getElementById("library-form").addEventListener("submit", (e) => {
    e.preventDefault();
    tries = 0;
    load();
  });
  const changed = watcher();
  store.view((s) => {
    if (changed(s, "ui") && s.ui.tab === "library" && !loaded) load();
  });
}
