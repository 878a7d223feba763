// room.js is the room page's entry point (loaded with the assets' version in
// its URL, async: it runs as soon as it and its two imports are in, without
// waiting for the page to be parsed). It takes over the room's websocket,
// which the page's head opened (or opens it, with the few lines that needs).
// The room itself (room/app.js, which takes that connection) is the page's
// other script: it runs once the page is parsed, and the page is not painted
// before it has (blocking="render"), so that the first paint is the room
// with the hello's state when the hello is in by then, and the page is laid
// out once instead of twice on the way.
import { openEarly } from "./room/net.js";

// The page's head may have opened the socket already (its inline script
// leaves it on the meta element): the room takes that one over.
const meta = document.querySelector('meta[name="room-ws"]');
if (meta?.content) {
  openEarly(meta.content, meta.early);
  delete meta.early;
}
