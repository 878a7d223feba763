package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"watchparty/engine/store/storetest"
)

// TestSpaceGuardRefusesAndRecovers: with the filesystem reported full or
// read-only, writes fail with ErrUnavailable and reads go on; the change is
// logged once; when space returns, writes work again.
func TestSpaceGuardRefusesAndRecovers(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st, err := Open(t.TempDir(), log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(func(tx *Tx) error { return tx.Set([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	free, ro := int64(1<<40), false
	st.space.statfs = func(string) (int64, bool, error) { return free, ro, nil }
	set := func(k string) error { return st.Update(func(tx *Tx) error { return tx.Set([]byte(k), []byte("x")) }) }

	tests := []struct {
		name     string
		free     int64
		ro       bool
		wantFail bool
		wantText string
	}{
		{name: "plenty", free: 1 << 40},
		{name: "below reserve", free: DefaultMinFree - 1, wantFail: true, wantText: "kept in reserve"},
		{name: "still full", free: 0, wantFail: true, wantText: "kept in reserve"},
		{name: "space back", free: DefaultMinFree},
		{name: "read-only", free: 1 << 40, ro: true, wantFail: true, wantText: "read-only"},
		{name: "writable again", free: 1 << 40},
	}
	for i, tc := range tests {
		free, ro = tc.free, tc.ro
		err := set("k" + string(rune('0'+i)))
		if tc.wantFail {
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("%s: write = %v, want ErrUnavailable saying %q", tc.name, err, tc.wantText)
			}
			if v, err := st.Get([]byte("a")); err != nil || string(v) != "1" {
				t.Fatalf("%s: read while full = %q, %v", tc.name, v, err)
			}
			if err := st.UpdateSync(func(tx *Tx) error { return nil }); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: UpdateSync = %v, want ErrUnavailable", tc.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: write = %v", tc.name, err)
		}
	}
	if n := strings.Count(logs.String(), "refusing writes"); n != 2 {
		t.Fatalf("the refusal was logged %d times, want once per episode (2):\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "writes resumed"); n != 2 {
		t.Fatalf("the recovery was logged %d times, want 2:\n%s", n, logs.String())
	}
}

// TestOpenOnFullFilesystem: opening a store on a filesystem with less than
// the reserve free is a clear error, not a crash.
func TestOpenOnFullFilesystem(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, nil, Options{MinFree: 1 << 62})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "reserve") {
		t.Fatalf("Open = %v, want ErrUnavailable naming the reserve", err)
	}
	st, err := Open(dir, nil, Options{MinFree: -1})
	if err != nil {
		t.Fatalf("Open with the check off: %v", err)
	}
	st.Close()
}

// TestFullTmpfs fills a real 96 MiB tmpfs under a running store: writes are
// refused before Badger touches a page it cannot get (which would end the
// process with SIGBUS), and work again once the filler file is removed. The
// test needs root to mount the tmpfs.
func TestFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and must run as root (as `make test` does in the test container)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	st, err := Open(filepath.Join(dir, "data"), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	val := bytes.Repeat([]byte("v"), 1000)
	for i := range 2000 {
		if err := st.Update(func(tx *Tx) error { return tx.Set([]byte("before/"+string(rune(i))), val) }); err != nil {
			t.Fatalf("write %d before the fill: %v", i, err)
		}
	}
	filler := filepath.Join(dir, "filler")
	storetest.FillUp(t, filler)
	refused := 0
	for i := range 5000 {
		err := st.Update(func(tx *Tx) error { return tx.Set([]byte("during/"+string(rune(i))), val) })
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write %d on a full filesystem = %v, want ErrUnavailable", i, err)
		}
		refused++
	}
	if v, err := st.Get([]byte("before/" + string(rune(7)))); err != nil || len(v) != len(val) {
		t.Fatalf("read on a full filesystem: %d bytes, %v", len(v), err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if err := st.Update(func(tx *Tx) error { return tx.Set([]byte("after/"+string(rune(i))), val) }); err != nil {
			t.Fatalf("write %d after space returned: %v", i, err)
		}
	}
	if err := st.Sync(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes refused while full; 2000 accepted after", refused)
}
