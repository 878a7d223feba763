// settings.js: the owner's Settings dialog, in three sections (Access,
// Playback, Danger zone). Every change is saved at once with fetch, and says
// so; nothing reloads the page, so nobody sees the owner leave and join.

import { t } from "../i18n.js";
import { el } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

const $ = (id) => document.getElementById(id);

export function installSettings(ctx) {
  const { store, state, post, base, code, on: onMessage, confirmAction } = ctx;
  const dialog = $("settings-dialog");
  if (!dialog) return;
  const status = $("settings-status");
  const form = $("settings-form");
  let timer = 0;

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("field-error", !!bad);
    clearTimeout(timer);
    if (!bad) timer = setTimeout(() => (status.textContent = ""), 3000);
  }

  async function save(action, fields) {
    say(t("saving"));
    try {
      const r = await post(action, fields);
      say(`✓ ${t("saved")}`);
      return r;
    } catch (e) {
      say(e.message, true);
      throw e;
    }
  }

  $("settings-open").addEventListener("click", () => {
    status.textContent = "";
    dialog.showModal();
    refreshBanned();
  });

  // The removed members: asked for again when the dialog opens and when
  // someone is removed while it is open (by a moderator, or in another tab).
  const bannedList = $("banned");
  let bannedShown = null;
  async function refreshBanned() {
    let body;
    try {
      const res = await fetch(`${base}/r/${encodeURIComponent(code)}/banned`, {
        headers: { Accept: "application/json" },
      });
      if (!res.ok) return;
      body = await res.json();
    } catch {
      return;
    }
    const list = body.banned || [];
    const key = JSON.stringify(list);
    if (key === bannedShown) return; // unchanged: keep the focus where it is
    bannedShown = key;
    bannedList.replaceChildren(
      ...list.map((m) =>
        el(
          "li",
          { "data-id": m.id },
          el("span", { text: m.name }),
          " ",
          el("button", { type: "button", class: "link", "data-unban": m.id, text: t("set_let_back") }),
        ),
      ),
    );
    $("banned-box").hidden = !list.length;
  }
  onMessage(T.MEMBER_REMOVED, () => {
    if (dialog.open) refreshBanned();
  });

  const on = (id) => ($(id)?.checked ? "1" : "0");
  function settingsFields() {
    return {
      guests_allowed: on("set-guests"),
      control: $("set-control").value,
      change_video: $("set-video").value,
      manage_queue: $("set-queue").value,
      invite: $("set-invite-level").value,
      wait_for_all: on("set-wait"),
      voice: on("set-voice"),
    };
  }
  for (const id of [
    "set-guests",
    "set-control",
    "set-video",
    "set-queue",
    "set-invite-level",
    "set-wait",
    "set-voice",
  ]) {
    $(id)?.addEventListener("change", () => save("settings", settingsFields()).catch(() => {}));
  }
  $("set-locked").addEventListener("change", () => save("lock", { locked: on("set-locked") }).catch(() => {}));
  const rename = () => save("rename", { name: $("set-name").value }).catch(() => {});
  $("set-rename").addEventListener("click", rename);
  $("set-name").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      rename();
    }
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  $("set-revoke").addEventListener("click", async () => {
    if (!(await confirmAction(t("revoke_title"), t("revoke_text"), t("set_revoke")))) return;
    dialog.showModal();
    const r = await save("invite").catch(() => null);
    if (r && r.invite) store.update("room", () => (state.invite = r.invite));
  });
  $("banned").addEventListener("click", async (e) => {
    const id = e.target instanceof Element ? e.target.getAttribute("data-unban") : null;
    if (!id) return;
    await save("unban", { user: id }).catch(() => null);
    e.target.closest("li")?.remove();
    bannedShown = null;
    $("banned-box").hidden = !$("banned").children.length;
  });
  $("set-delete").addEventListener("click", async () => {
    dialog.close();
    if (!(await confirmAction(t("delete_title"), t("delete_text"), t("set_delete")))) return;
    try {
      await post("delete");
      location.href = `${base}/`;
    } catch (e) {
      ctx.toast(e.message);
    }
  });

  // Settings changed elsewhere (another tab of the owner) show here too.
  const changed = watcher();
  store.view((s) => {
    if (!changed(s, "room") || !s.room) return;
    const set = s.room.settings;
    const active = document.activeElement;
    const put = (id, v) => {
      const e = $(id);
      if (!e || e === active) return;
      if (e.type === "checkbox") e.checked = !!v;
      else e.value = v;
    };
    put("set-guests", set.guests_allowed);
    put("set-control", set.control);
    put("set-video", set.change_video);
    put("set-queue", set.manage_queue);
    put("set-invite-level", set.invite);
    put("set-wait", set.wait_for_all);
    put("set-voice", set.voice);
    put("set-locked", s.room.locked);
    $("set-invite").textContent = s.invite;
  });
}
