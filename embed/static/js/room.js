// room.js is the room page's entry point (loaded with the assets' version in
// its URL, async: it runs as soon as it and its two imports are in, without
// waiting for the page to be parsed or styled). It takes over the room's
// websocket, which the page's head opened (or opens it, with the few lines
// that needs), and then loads the room
// itself (room/app.js, which takes that connection), whose modules the page
// preloads meanwhile: the connection and the server's hello do not wait for
// every script to load and run.
import { openEarly } from "./room/net.js";

// The page's head may have opened the socket already (its inline script
// leaves it on the meta element): the room takes that one over.
const meta = document.querySelector('meta[name="room-ws"]');
if (meta?.content) {
  openEarly(meta.content, meta.early);
  delete meta.early;
  import("./room/app.js");
}
