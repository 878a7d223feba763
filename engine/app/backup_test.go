package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"watchparty/engine/account"
	"watchparty/engine/store"
)

// runCmd runs a watchparty command line in-process.
func runCmd(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// seedRooms writes rooms and chat lines with the room package's key layout.
func seedRooms(t testing.TB, st *store.Store, rooms, linesPerRoom int) {
	t.Helper()
	for r := range rooms {
		code := fmt.Sprintf("r%05d", r)
		err := st.Update(func(tx *store.Tx) error {
			info, _ := json.Marshal(map[string]any{"code": code, "name": "Movie night " + code, "owner": "u" + code, "created": 1700000000000 + r})
			if err := tx.Set(store.Key("room", code), info); err != nil {
				return err
			}
			for i := range linesPerRoom {
				line, _ := json.Marshal(map[string]any{"seq": i + 1, "from": "u" + code, "name": "Someone", "text": fmt.Sprintf("line %d of room %s: did you see that?", i+1, code), "at": 1700000000000 + i})
				if err := tx.Set(fmt.Appendf(nil, "chat/%s/%016d", code, i+1), line); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dump returns every key and value of a store.
func dump(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(func(tx *store.Tx) error {
		return tx.Iterate(nil, false, func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openTestStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, quietLog(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOnlineBackupUnderConcurrentWritesRestores backs up a running server
// through its control socket while chat lines keep arriving, restores into a
// fresh directory, and finds every user, room and chat line written before
// the backup, plus an unbroken prefix of the ones written during it.
func TestOnlineBackupUnderConcurrentWritesRestores(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	const users = 25
	for i := range users {
		if _, err := ts.Accounts.AdminCreate(ctx, account.SignUp{Email: fmt.Sprintf("viewer%d@example.org", i), Name: fmt.Sprintf("Viewer %d", i), Password: "correct horse battery"}, i == 0); err != nil {
			t.Fatal(err)
		}
	}
	seedRooms(t, ts.Store, 12, 40)
	before := dump(t, ts.Store)

	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200000 {
			select {
			case <-stop:
				return
			default:
			}
			err := ts.Store.Update(func(tx *store.Tx) error {
				return tx.Set(fmt.Appendf(nil, "chat/live/%016d", i), []byte(`{"text":"live"}`))
			})
			if err != nil {
				t.Errorf("concurrent write %d: %v", i, err)
				return
			}
			written.Store(int64(i + 1))
		}
	}()
	// Let the writer get going so the backup really overlaps it.
	for written.Load() < 50 {
		if t.Failed() {
			break
		}
		_ = ts.Store.View(func(*store.Tx) error { return nil })
	}
	atStart := written.Load()

	file := filepath.Join(t.TempDir(), "backup.bin")
	code, _, stderr := runCmd(t, "backup", file, "--data_dir", ts.Config.DataDir)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("backup exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "via the running server") {
		t.Errorf("backup did not go through the server: %s", stderr)
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
	ts.stop(t)

	fresh := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr := runCmd(t, "restore", file, "--data_dir", fresh)
	if code != 0 {
		t.Fatalf("restore exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "user 25") || !strings.Contains(stdout, "room 12") {
		t.Errorf("restore summary: %s", stdout)
	}

	st := openTestStore(t, fresh)
	defer st.Close()
	after := dump(t, st)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("key %s: restored %q, want %q", k, after[k], v)
		}
	}
	live := 0
	for k := range after {
		if strings.HasPrefix(k, "chat/live/") {
			live++
		}
	}
	for i := range live {
		if _, ok := after[fmt.Sprintf("chat/live/%016d", i)]; !ok {
			t.Fatalf("the backup holds %d live lines but not line %d: not a consistent snapshot", live, i)
		}
	}
	if int64(live) < atStart {
		t.Errorf("backup has %d live lines, but %d were committed before it started", live, atStart)
	}
	acc := account.New(account.NewBadger(st), account.Settings{})
	for i := range users {
		email := fmt.Sprintf("viewer%d@example.org", i)
		if _, _, err := acc.Login(ctx, email, "correct horse battery"); err != nil {
			t.Errorf("log-in as %s after restore: %v", email, err)
		}
	}
}

func TestOfflineGzipBackupRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st := openTestStore(t, dir)
	seedRooms(t, st, 5, 30)
	want := dump(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "watchparty.backup.gz")
	code, _, stderr := runCmd(t, "backup", file, "--data_dir", dir)
	if code != 0 || !strings.Contains(stderr, "via the data directory") {
		t.Fatalf("backup exit %d: %s", code, stderr)
	}
	head := make([]byte, 2)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Read(head)
	f.Close()
	if head[0] != 0x1f || head[1] != 0x8b {
		t.Errorf("a .gz backup is not gzip: % x", head)
	}
	fresh := filepath.Join(t.TempDir(), "restored")
	if code, _, stderr := runCmd(t, "restore", file, "--data_dir", fresh); code != 0 {
		t.Fatalf("restore exit %d: %s", code, stderr)
	}
	st = openTestStore(t, fresh)
	defer st.Close()
	got := dump(t, st)
	if len(got) != len(want) {
		t.Errorf("restored %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s differs", k)
		}
	}
}

func TestRestoreDirectoryRules(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	st := openTestStore(t, src)
	seedRooms(t, st, 1, 3)
	st.Close()
	file := filepath.Join(t.TempDir(), "b.bin")
	if code, _, stderr := runCmd(t, "backup", file, "--data_dir", src); code != 0 {
		t.Fatal(stderr)
	}

	t.Run("not empty without force", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
		code, _, stderr := runCmd(t, "restore", file, "--data_dir", dir)
		if code == 0 || !strings.Contains(stderr, "is not empty") || !strings.Contains(stderr, "--force") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("force refuses a directory that is not a store", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
		code, _, stderr := runCmd(t, "restore", file, "--data_dir", dir, "--force")
		if code == 0 || !strings.Contains(stderr, "does not hold a watchparty store") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
			t.Errorf("a foreign file was deleted: %v", err)
		}
	})
	t.Run("force replaces an old store", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		old := openTestStore(t, dir)
		old.Update(func(tx *store.Tx) error { return tx.Set([]byte("room/stale"), []byte("{}")) })
		old.Close()
		if code, _, stderr := runCmd(t, "restore", file, "--data_dir", dir, "--force"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		st := openTestStore(t, dir)
		defer st.Close()
		got := dump(t, st)
		if _, ok := got["room/stale"]; ok {
			t.Error("the old store's data survived a forced restore")
		}
		if _, ok := got["room/r00000"]; !ok {
			t.Error("the backup's room is missing")
		}
	})
	t.Run("refused while the server runs", func(t *testing.T) {
		ts := startServer(t, nil)
		code, _, stderr := runCmd(t, "restore", file, "--data_dir", ts.Config.DataDir, "--force")
		if code == 0 || !strings.Contains(stderr, "in use by another watchparty process") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if err := ts.Store.Ready(context.Background()); err != nil {
			t.Errorf("the running server's store was harmed: %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		code, _, stderr := runCmd(t, "restore", filepath.Join(t.TempDir(), "nope"), "--data_dir", t.TempDir())
		if code == 0 || !strings.Contains(stderr, "no such file") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("backup of a missing data dir", func(t *testing.T) {
		code, _, stderr := runCmd(t, "backup", filepath.Join(t.TempDir(), "x"), "--data_dir", filepath.Join(t.TempDir(), "none"))
		if code == 0 || !strings.Contains(stderr, "no data directory") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
}

func TestControlSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	// A socket file left by a killed server is replaced.
	if err := os.WriteFile(controlSocketPath(dir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, map[string]string{"data_dir": dir})
	fi, err := os.Stat(controlSocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a 0600 socket", fi.Mode())
	}
	var buf bytes.Buffer
	if err := backupFromServer(context.Background(), controlSocketPath(dir), &buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Error("empty backup stream")
	}
	ts.stop(t)
	if _, err := os.Stat(controlSocketPath(dir)); !os.IsNotExist(err) {
		t.Errorf("control socket left after stop: %v", err)
	}
	if err := backupFromServer(context.Background(), controlSocketPath(dir), &buf); !errors.Is(err, errNoServer) {
		t.Errorf("no server: got %v", err)
	}
}
