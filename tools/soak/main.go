// Command soak drives a real watchparty server process with many members
// over real websockets, for a bounded time, and prints throughput, latency,
// drops, errors, server RSS and goroutines every few seconds.
//
//	go build -o /tmp/watchparty . && go build -o /tmp/soak ./tools/soak
//	/tmp/soak -bin /tmp/watchparty -members 2000 -rooms 100 -duration 10m
//
// The server runs as a child process (pinned to CPU 0 with -pin) on a fresh
// data directory and a loopback port. One account, made with `watchparty
// user add` before the server starts, owns the rooms; members join each room
// as guests through its invite link (no password hashing per member). Each
// connection comes from its own loopback address group (127.1.x.y, at most
// -per-ip connections each), so limits.conns_per_ip stays at its default.
//
// Load: every member sends a chat line every -chat-every (jittered); each
// room's owner shares a video, then sends play or pause every
// -control-every. A line counts as sent when its author gets it back (the
// server acknowledges a line by sending it to everyone, the author too), and
// as delivered when a member receives it. Loss = expected deliveries
// (acknowledged lines x members of the room) - deliveries.
//
// Frame viewers are not part of the load: the frame streamer is not wired
// into the server's rooms yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}
