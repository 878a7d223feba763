// A minimal socket.io room server with the semantics of the load command's
// scenarios (tools/loadtest): a client connects with ?room=<code>&u=<user>,
// joins that room, gets a "hello" event once it is in, and every "chat" event
// it sends is broadcast to the whole room, the sender included, as
// {"user":...,"text":...,"seq":...}. Joins are announced to the room.
// It listens on 127.0.0.1 (port 0: any free port) and prints
// "READY <host:port>" once it listens; it exits when stdin closes.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  maxHttpBufferSize: 8192,
  perMessageDeflate: false,
});

const seqs = new Map(); // room -> last sequence number

io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room || "");
  const user = String(socket.handshake.query.u || "");
  if (room === "" || user === "") {
    socket.emit("error", { code: "bad_request" });
    socket.disconnect(true);
    return;
  }
  socket.join(room);
  socket.emit("hello", { user, room });
  socket.to(room).emit("system", { event: "join", user });
  socket.on("chat", (text) => {
    if (typeof text !== "string" || text.length > 2000) {
      socket.emit("error", { code: "bad_message" });
      return;
    }
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    io.to(room).emit("chat", { user, text, seq });
  });
  socket.on("disconnect", () => {
    socket.to(room).emit("system", { event: "leave", user });
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  const a = httpServer.address();
  process.stdout.write(`READY ${a.address}:${a.port}\n`);
});

process.stdin.on("end", () => {
  io.close();
  process.exit(0);
});
process.stdin.resume();
