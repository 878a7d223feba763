package room

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// killHelperEnv makes the test binary a room server for
// TestAcknowledgedChatSurvivesKill instead of running tests.
const killHelperEnv = "WATCHPARTY_ROOM_KILL_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		if err := killHelper(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killHelper serves a room on loopback until it is killed.
func killHelper(dir string) error {
	st, err := openStoreErr(dir)
	if err != nil {
		return err
	}
	svc := New(Options{Store: st, Log: quietLog(), ParseLink: testLink, ChatPer10s: 100000})
	in, err := svc.Create(context.Background(), ann, "")
	if err != nil {
		return err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws/:code", fws.New(func(c *fws.Conn) {
		_ = svc.Serve(c.Params("code"), User{ID: c.Query("user"), Name: c.Query("name")}, c.Conn)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("READY ws://%s %s\n", ln.Addr(), in.Code)
	return app.Listener(ln)
}

// TestAcknowledgedChatSurvivesKill: every line the server has sent back to
// its author is in the store after the server process is SIGKILLed.
func TestAcknowledgedChatSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	lineCh := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lineCh <- l
	}()
	var ready string
	select {
	case ready = <-lineCh:
	case <-time.After(30 * time.Second):
		t.Fatal("helper server did not start")
	}
	f := strings.Fields(ready)
	if len(f) != 3 || f[0] != "READY" {
		t.Fatalf("helper said %q", ready)
	}
	base, code := f[1], f[2]
	a := dial(t, base, code, ann)
	a.expect("hello")
	const n = 100
	for i := range n {
		a.send(map[string]any{"type": "chat", "text": fmt.Sprint("kept ", i)})
	}
	for i := range n {
		if m := a.expectChat(); m["text"] != fmt.Sprint("kept ", i) {
			t.Fatalf("ack %d: %v", i, m)
		}
	}
	// Every line is acknowledged: kill the server at once.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	st := openStore(t, dir)
	defer st.Close()
	svc := New(Options{Store: st, Log: quietLog()})
	defer svc.Close()
	lines, err := svc.History(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		if !l.System {
			texts = append(texts, l.Text)
		}
	}
	if len(texts) != n {
		t.Fatalf("%d of %d acknowledged lines survived the kill", len(texts), n)
	}
	for i, s := range texts {
		if s != fmt.Sprint("kept ", i) {
			t.Fatalf("line %d is %q", i, s)
		}
	}
}
