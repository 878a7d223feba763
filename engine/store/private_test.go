package store

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilesArePrivate: a new data directory is 0700 and, after opening,
// no file in it can be read by other users (Badger creates its files with
// 0644 under the usual umask); a directory that others can read is named
// in a warning.
func TestFilesArePrivate(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(dir, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSync(func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopen: files created by the first run are tightened too.
	s, err = Open(dir, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", fi.Mode().Perm())
	}
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, _ := d.Info()
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others", p, info.Mode().Perm())
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("no files in the data directory")
	}
	if strings.Contains(logs.String(), "can be read by other users") {
		t.Errorf("warned about a private directory:\n%s", logs.String())
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	s2, err := Open(open, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if !strings.Contains(logs.String(), "can be read by other users") || !strings.Contains(logs.String(), open) {
		t.Errorf("no warning for a data directory readable by others:\n%s", logs.String())
	}
}
