package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"go.uber.org/goleak"

	"watchparty/engine/frames"
	"watchparty/engine/frames/wire"
)

// TestStreamsEndWithServer stops a server in the middle of two streams, a
// server-side one with a TCP viewer and a browser relay, and a remote
// publisher's: every connection is told, and no goroutine is left behind.
func TestStreamsEndWithServer(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv, addr := startStreamServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	code := newRoom(t, ann.Client, "Leaks")
	other := newRoom(t, ann.Client, "Remote")

	w := dialRoomSocket(t, srv, ann.Client, code)
	w.next("hello", nil)
	w.send(map[string]any{"type": "stream_start", "source": "pattern:160x120"})
	w.next("stream", active)

	ctx := context.Background()
	viewTok := streamToken(t, ann.Client, code, "viewer")["token"].(string)
	pubTok := streamToken(t, ann.Client, other, "publisher")["token"].(string)
	got := make(chan struct{}, 1)
	viewDone := make(chan error, 1)
	go func() {
		_, err := frames.View(ctx, frames.ViewOptions{Addr: addr, Room: code, Token: viewTok, OnFrame: func(*wire.Frame) error {
			select {
			case got <- struct{}{}:
			default:
			}
			return nil
		}})
		viewDone <- err
	}()
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- frames.RunPublish(ctx, frames.PublishOptions{Addr: addr, Room: other, Token: pubTok, Source: "pattern:160x120"})
	}()

	u, _ := url.Parse(srv.URL + "/")
	var parts []string
	for _, ck := range ann.Client.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	relay, _, err := d.Dial("ws://"+srv.Addr+"/r/"+code+"/frames", http.Header{"Origin": {srv.URL}, "Cookie": {strings.Join(parts, "; ")}})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	defer relay.Close()
	_ = relay.SetReadDeadline(time.Now().Add(20 * time.Second))
	if typ, data, err := relay.ReadMessage(); err != nil || typ != websocket.BinaryMessage || len(data) < 27 {
		t.Fatalf("relay frame: type %d, %d bytes, %v", typ, len(data), err)
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the TCP viewer got no frame")
	}

	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := <-viewDone; err != nil {
		t.Errorf("viewer at shutdown: %v", err)
	}
	if err := <-pubDone; err != nil {
		t.Errorf("publisher at shutdown: %v", err)
	}
	for range 100 {
		if _, _, err = relay.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("relay at shutdown: %v, want close 1001", err)
	}
	relay.Close()
	w.conn.Close()
	ann.Client.HTTP.CloseIdleConnections()
	// fasthttp's date ticker and its compression workers (started by the
	// first compressed response) live for the process; its worker pool's
	// cleaner notices the stop only after its next sleep.
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
}
