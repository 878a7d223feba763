// native.js: "Join with mpv/VLC". A member asks the server for a
// native-player access token and gets the Syncplay command that uses it
// (engine/syncplay, docs/syncplay.md). The section is in the page only when
// the server listens for native players.

import { t } from "../i18n.js";
import { el } from "./dom.js";

export function installNative(ctx) {
  const { post } = ctx;
  const button = document.getElementById("native-token");
  const out = document.getElementById("native-out");
  if (!button || !out) return;
  button.addEventListener("click", async () => {
    try {
      const body = await post("syncplay/token");
      const expires = new Date(body.expires).toLocaleString();
      const cmd = el("code", { class: "break", id: "native-command", text: body.command });
      const copy = el("button", {
        type: "button",
        text: t("copy_command"),
        onclick: () => navigator.clipboard?.writeText(body.command),
      });
      out.replaceChildren(el("p", { text: t("native_help", { expires }) }), cmd, copy);
    } catch (err) {
      out.replaceChildren(el("p", { class: "field-error", text: String(err.message || err) }));
    }
  });
}
