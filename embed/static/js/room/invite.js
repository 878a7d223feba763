// invite.js: the Invite dialog. The invite link (people without an account
// join with just a name), copied or handed to the system's share sheet where
// there is one, a QR code of it for the phone across the room, and the room
// code. Members who are not the owner also get "Leave the room" here.

import { t } from "../i18n.js";
import { watcher } from "./store.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

export function installInvite(ctx) {
  const { root, store, state, post, base, confirmAction, toast } = ctx;
  const dialog = $("invite-dialog");
  const url = $("invite-url");
  const status = $("copy-status");
  let qrFor = "";

  async function copy(text, done) {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = done;
    } catch {
      url.select();
      status.textContent = t("copy_manual");
    }
    setTimeout(() => {
      if (status.textContent === done) status.textContent = "";
    }, 4000);
  }

  async function drawQR(text) {
    if (qrFor === text) return;
    qrFor = text;
    const box = $("invite-qr");
    try {
      const { encode } = await import("../vendor/uqr-0.1.3.mjs");
      const { data, size } = encode(text, { ecc: "M", border: 1 });
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
      svg.setAttribute("shape-rendering", "crispEdges");
      svg.setAttribute("aria-hidden", "true");
      let d = "";
      data.forEach((row, y) => row.forEach((on, x) => on && (d += `M${x} ${y}h1v1h-1z`)));
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "#000");
      svg.append(path);
      box.replaceChildren(svg);
    } catch {
      box.hidden = true;
    }
  }

  $("invite-open").addEventListener("click", () => {
    status.textContent = "";
    dialog.showModal();
    if (url.value) {
      drawQR(url.value);
      url.select();
    }
  });
  $("invite-copy").addEventListener("click", () => copy(url.value, t("copied_link")));
  $("copy-code").addEventListener("click", () => copy(root.dataset.display, t("copied_code")));
  const share = $("invite-share");
  share.hidden = !navigator.share;
  share.addEventListener("click", () => {
    navigator
      .share({
        title: document.title,
        text: t("share_text", { room: state.room?.name || root.dataset.display }),
        url: url.value,
      })
      .catch(() => {});
  });
  // A click on the backdrop closes the dialog.

  const leave = $("leave-open");
  if (leave) {
    leave.addEventListener("click", async () => {
      if (!(await confirmAction(t("leave_title"), t("leave_text"), t("leave_room")))) return;
      try {
        await post("leave");
        location.href = `${base}/`;
      } catch (e) {
        toast(e.message);
      }
    });
  }

  const changed = watcher();
  store.view((s) => {
    if (!changed(s, "room")) return;
    // Only members the room's setting allows see the link (guests never).
    const link = s.room && s.room.invite ? s.invite : "";
    $("invite-link-box").hidden = !link;
    $("invite-lead").hidden = !link;
    $("invite-none").hidden = !!link;
    $("invite-qr").hidden = !link;
    share.hidden = !link || !navigator.share;
    if (link && url.value !== link) {
      url.value = link;
      if (dialog.open) drawQR(link);
    }
    if (!link) url.value = "";
    // The owner learns here when people without an account cannot use the link.
    $("invite-guests-off").hidden = !(s.me?.role === "owner" && s.room && !s.room.settings.guests_allowed);
  });
}
