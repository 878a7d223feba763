package store

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// The store holds password hashes, session hashes, the server's secret key
// and every chat line: its files are for the server's user only.

// keepPrivate makes the store's files readable by their owner only (older
// versions created them 0644) and warns when the directory itself lets
// other users in, which only its owner should change.
func keepPrivate(dir string, log *slog.Logger) {
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory can be read by other users of this machine; it holds password hashes and the server's secret key: chmod 700 it",
			"dir", dir, "mode", fi.Mode().Perm().String())
	}
	tightened := 0
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			return nil
		}
		want := fi.Mode().Perm() &^ 0o077
		if os.Chmod(path, want) == nil {
			tightened++
		}
		return nil
	})
	if tightened > 0 {
		log.Info("made the data directory's files private to the server's user", "dir", dir, "files", tightened)
	}
}
