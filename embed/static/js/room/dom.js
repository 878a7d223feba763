// dom.js: small helpers to build the room's DOM. User text only ever goes in
// through textContent (el's "text") or as a text node, never as HTML.

/** Creates an element: el("button", {class: "x", text: "Go", onclick}, ...children). */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

const SVG = "http://www.w3.org/2000/svg";

/** An icon from the page's sprite (templates/_icons.html). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

/**
 * Sets an element's text only when it differs, so that a render which
 * changes nothing writes nothing (and the browser lays out nothing).
 */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/** Points an icon made by the template or by icon() at another symbol. */
export function setIcon(button, name) {
  const use = button.querySelector("use");
  if (use && use.getAttribute("href") !== `#i-${name}`) use.setAttribute("href", `#i-${name}`);
}

/** A stable colour class (c0..c7) for a member id. */
export function colourOf(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return `c${(h >>> 0) % 8}`;
}

/** Up to two initials of a name. */
export function initials(name) {
  const parts = String(name || "?")
    .trim()
    .split(/\s+/u)
    .filter(Boolean);
  const first = (s) => Array.from(s)[0] || "";
  const out =
    parts.length > 1
      ? first(parts[0]) + first(parts[parts.length - 1])
      : Array.from(parts[0] || "?")
          .slice(0, 2)
          .join("");
  return out.toUpperCase();
}

/** An initials avatar in the member's colour. */
export function avatar(id, name, small) {
  return el("span", {
    class: `avatar ${colourOf(id || name)}${small ? " small" : ""}`,
    "aria-hidden": "true",
    text: initials(name),
  });
}

/** Formats seconds as m:ss or h:mm:ss. */
export function clock(sec) {
  if (!Number.isFinite(sec) || sec < 0) sec = 0;
  const s = Math.floor(sec % 60);
  const m = Math.floor(sec / 60) % 60;
  const h = Math.floor(sec / 3600);
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Whether a keyboard event's target takes text. */
export function typingInto(target) {
  if (!target || !(target instanceof Element)) return false;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return true;
  if (tag !== "INPUT") return false;
  return !["button", "checkbox", "radio", "range", "submit", "reset"].includes(target.type);
}
