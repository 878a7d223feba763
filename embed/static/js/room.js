// room.js is the room page's entry point (loaded with the assets' version in
// its URL, async: it runs as soon as it and its two imports are in, without
// waiting for the page to be parsed or styled). It opens the room's
// websocket first, with the few lines that needs, and then loads the room
// itself (room/app.js, which takes that connection), whose modules the page
// preloads meanwhile: the connection and the server's hello do not wait for
// every script to load and run.
import { openEarly } from "./room/net.js";

const ws = document.querySelector('meta[name="room-ws"]')?.content;
if (ws) {
  openEarly(ws);
  import("./room/app.js");
}
