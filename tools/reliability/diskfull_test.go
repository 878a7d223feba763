package reliability

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"watchparty/engine/apptest"
	"watchparty/engine/store/storetest"
)

// TestDiskFull runs the server on a 96 MiB tmpfs and fills it: sign-ups say
// the server cannot save data, chat gets an `unavailable` error, the log
// says why once, pages and /healthz still answer; after the filler file is
// removed everything works again. Mounting needs root (the test container
// runs as root).
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and must run as root (as `make test` does in the test container)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	p := startProc(t, apptest.Binary(t), filepath.Join(mnt, "data"))
	ann := signUp(t, p.URL, "127.0.0.1", "Ann")
	code := createRoomAs(t, ann, "full disk")
	ws, _ := mustDial(t, p.URL, code, ann.session())
	chat := func(text string) map[string]any {
		ws.send(map[string]any{"type": "chat", "text": text, "ref": text})
		return ws.nextMatching("the answer to "+text, func(m map[string]any) bool { return m["ref"] == text })
	}
	if m := chat("before"); m["type"] != "chat" {
		t.Fatalf("chat before the fill: %v", m)
	}

	filler := filepath.Join(mnt, "filler")
	storetest.FillUp(t, filler)
	c := from(p.URL, "127.0.0.1")
	st, body, err := c.post("/signup", url.Values{"email": {"late@full.test"}, "name": {"Late"}, "password": {"late-password-1"}}, false)
	if err != nil || st != http.StatusServiceUnavailable || !strings.Contains(body, "cannot save data right now") {
		t.Fatalf("sign-up on a full disk: %d %v\n%s", st, err, body)
	}
	if m := chat("during"); m["type"] != "error" || m["code"] != "unavailable" {
		t.Fatalf("chat on a full disk: %v", m)
	}
	for _, path := range []string{"/healthz", "/readyz", "/", "/r/" + code, "/account/"} {
		if st, _, err := ann.get(path); err != nil || st != 200 {
			t.Fatalf("GET %s on a full disk: %d %v", path, st, err)
		}
	}
	if n := strings.Count(p.Output(), "refusing writes until space returns"); n != 1 {
		t.Fatalf("the full disk was logged %d times, want once:\n%s", n, p.Output())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if m := chat("after"); m["type"] != "chat" {
		t.Fatalf("chat after space returned: %v", m)
	}
	st, body, err = c.post("/signup", url.Values{"email": {"late@full.test"}, "name": {"Late"}, "password": {"late-password-1"}}, false)
	if err != nil || st != http.StatusSeeOther {
		t.Fatalf("sign-up after space returned: %d %v\n%s", st, err, body)
	}
	if !strings.Contains(p.Output(), "writes resumed") {
		t.Fatalf("the recovery was not logged:\n%s", p.Output())
	}
}
