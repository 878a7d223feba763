package app_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"watchparty/config"
	"watchparty/engine/app"
	"watchparty/engine/apptest"
	"watchparty/engine/store"
)

// rawRequest writes an HTTP/1.1 request on a new keep-alive connection.
func dialServer(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, bufio.NewReader(conn)
}

// TestGracefulShutdown cancels a running server while one connection sits
// idle after a request and another is half-way through sending a sign-up.
// The half-sent request is finished and answered, the idle connection is
// closed, the server stops within the shutdown timeout, and the store is
// closed cleanly and opens again with the sign-up in it.
func TestGracefulShutdown(t *testing.T) {
	srv := apptest.StartServer(t, nil)

	// An idle keep-alive connection.
	idle, idleR := dialServer(t, srv.Addr)
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: "+srv.Addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(idleR, nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// A sign-up whose body is only half sent.
	c := srv.Client(t)
	tok := c.CSRF(t)
	cookie := "wp_csrf=" + c.Cookie("wp_csrf")
	body := url.Values{"csrf": {tok}, "email": {"late@example.org"}, "name": {"Late"}, "password": {"password-late"}}.Encode()
	busy, busyR := dialServer(t, srv.Addr)
	head := "POST /signup HTTP/1.1\r\nHost: " + srv.Addr + "\r\nCookie: " + cookie +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	half := len(body) / 2
	if _, err := io.WriteString(busy, head+body[:half]); err != nil {
		t.Fatal(err)
	}
	// Make sure the server has taken the connection before stopping it:
	// a request on a third connection is answered after the accept above.
	if resp, _ := srv.Client(t).Get(t, "/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatal("server not answering")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()

	// The idle connection is closed by the shutdown.
	_ = idle.SetReadDeadline(time.Now().Add(app.ShutdownTimeout + 5*time.Second))
	if n, err := idleR.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Errorf("idle connection: read %d bytes, %v; want it closed", n, err)
	}

	// The request in flight completes.
	if _, err := io.WriteString(busy, body[half:]); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	_ = busy.SetReadDeadline(time.Now().Add(app.ShutdownTimeout + 5*time.Second))
	resp, err = http.ReadResponse(busyR, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("in-flight sign-up answered %s, want 303", resp.Status)
	}

	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(app.ShutdownTimeout + 10*time.Second):
		t.Fatal("the server did not stop")
	}
	if err := srv.App.Store.Ready(context.Background()); err == nil {
		t.Error("the store is still open after the server stopped")
	}
	if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		t.Error("the server still accepts connections")
	}

	st, err := store.Open(srv.DataDir, slog.New(slog.NewTextHandler(io.Discard, nil)), store.Options{})
	if err != nil {
		t.Fatalf("reopening the store: %v", err)
	}
	defer st.Close()
	if _, err := st.Get([]byte("email/late@example.org")); err != nil {
		t.Errorf("the sign-up answered during shutdown is not in the store: %v", err)
	}
}

// TestShutdownWithStuckClient: a client that never finishes its request
// cannot hold the server past the shutdown timeout.
func TestShutdownWithStuckClient(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	stuck, _ := dialServer(t, srv.Addr)
	if _, err := io.WriteString(stuck, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nemail="); err != nil {
		t.Fatal(err)
	}
	if resp, _ := srv.Client(t).Get(t, "/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatal("server not answering")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run returned %v; a client that never finishes is not a failed shutdown", err)
		}
	case <-time.After(app.ShutdownTimeout + 10*time.Second):
		t.Fatal("a stuck client kept the server running")
	}
	st, err := store.Open(srv.DataDir, slog.New(slog.NewTextHandler(io.Discard, nil)), store.Options{})
	if err != nil {
		t.Fatalf("reopening the store: %v", err)
	}
	st.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestStopRightAfterStart: a server stopped before its HTTP listener is
// served still stops, closes its listener and its store.
func TestStopRightAfterStart(t *testing.T) {
	cfg, err := config.Load(config.Source{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	for i := range 5 {
		srv, err := app.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.WithHashCost(1, 1024))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // stopped before Run starts serving
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("run %d: the server did not stop", i)
		}
		addr := <-srv.Addr
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			t.Fatalf("run %d: the listener still accepts after Run returned", i)
		}
	}
}
