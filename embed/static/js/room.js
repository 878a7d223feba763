// room.js is the room page's entry point (loaded with the assets' version in
// its URL); the page itself lives in room/app.js.
import "./room/app.js";
