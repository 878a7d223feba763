package main

import (
	"testing"
	"time"
)

// TestWireRequests: the trace of a page's start reads as its requests: on
// which connection (new or reused), the Range asked for, when the response
// began, and the data and losses until the page played.
func TestWireRequests(t *testing.T) {
	var l wireLog
	t0 := time.UnixMilli(1_000_000)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	l.add(WireEvent{At: msOf(at(0)), Conn: 1, Kind: "open"})
	l.observe(1, true, []byte("GET /r/ROOM HTTP/1.1\r\nHost: x\r\n\r\n"), at(300), 0)
	l.observe(1, false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), at(400), 0)
	l.observe(1, true, []byte("GET /media/file/a.webm?v=1 HTTP/1.1\r\nRange: bytes=0-\r\n\r\n"), at(500), 0)
	l.observe(1, false, []byte("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/100\r\n\r\n"), at(600), 0)
	l.observe(1, false, make([]byte, 3000), at(850), 250)
	l.add(WireEvent{At: msOf(at(700)), Conn: 2, Kind: "open"})
	l.observe(2, true, []byte("GET /r/ROOM/ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), at(900), 0)
	l.observe(2, false, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"), at(1000), 0)
	l.observe(1, false, make([]byte, 1000), at(5000), 0) // after the play: not counted

	reqs, conns := wireRequests(l.events(), msOf(t0), msOf(at(2000)))
	if conns != 2 || len(reqs) != 3 {
		t.Fatalf("%d connections, %d requests: %+v; want 2, 3", conns, len(reqs), reqs)
	}
	page, file, ws := reqs[0], reqs[1], reqs[2]
	if page.Line != "GET /r/ROOM" || !page.NewConn || page.Sent != 300 || page.Response != 400 || page.Status != "HTTP/1.1 200 OK" {
		t.Errorf("page request %+v", page)
	}
	if file.Line != "GET /media/file/a.webm?… (bytes=0-)" || file.NewConn || file.Conn != 1 ||
		file.Status != "HTTP/1.1 206 Partial Content bytes 0-99/100" {
		t.Errorf("file request %+v; want the reused connection, its range and status", file)
	}
	// The response's head and one piece of data held back by a loss.
	if file.Chunks != 2 || file.Stalls != 1 || file.Last != 850 || file.Bytes != 3000+len("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/100\r\n\r\n") {
		t.Errorf("file data %+v", file)
	}
	if ws.Line != "GET /r/ROOM/ws (upgrade)" || !ws.NewConn || ws.Conn != 2 {
		t.Errorf("websocket request %+v", ws)
	}
}
