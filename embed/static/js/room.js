// room.js is the room page's entry point (loaded with the assets' version in
// its URL). It opens the room's websocket first, with the few lines that
// needs, and then loads the room itself (room/app.js, which takes that
// connection), whose modules the page preloads meanwhile: the connection and
// the server's hello no longer wait for every script to load and run.
import { openEarly } from "./room/net.js";

const root = document.getElementById("room");
if (root) {
  openEarly(root.dataset.ws);
  import("./room/app.js");
}
