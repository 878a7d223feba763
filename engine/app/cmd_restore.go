package app

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"watchparty/engine/store"
)

// runRestore is `watchparty restore FILE`: into an empty data directory,
// with the server stopped.
func runRestore(ctx context.Context, e Env, args []string) error {
	var force bool
	cfg, fs, err := loadConfig(e, "restore", args, func(fs *pflag.FlagSet) {
		fs.BoolVar(&force, "force", false, "delete the data directory's current contents first")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: watchparty restore FILE [--force]  (- reads standard input)")
	}
	name, dir := fs.Arg(0), cfg.DataDir
	log, _ := newLogger(cfg, e.Stderr)

	var in io.Reader = e.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		defer gz.Close()
		in = gz
	} else {
		in = br
	}

	if err := prepareRestoreDir(dir, force, log); err != nil {
		return err
	}
	start := time.Now()
	st, err := store.Open(dir, log, store.Options{})
	if err != nil {
		return err
	}
	if err := st.Restore(in); err != nil {
		st.Close()
		return fmt.Errorf("restoring %s into %s: %w (the directory now holds a partial store; run restore again with --force)", name, dir, err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	// Reopen: this checks the schema version the backup carries.
	st, err = store.Open(dir, log, store.Options{})
	if err != nil {
		return fmt.Errorf("the restored store does not open: %w", err)
	}
	defer st.Close()
	counts, err := countKinds(st)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "restored %s into %s in %s: %s\n", name, dir, time.Since(start).Round(time.Millisecond), counts)
	return nil
}

// prepareRestoreDir checks that dir is empty, or with force empties it, but
// only when it looks like a Badger store and no server holds it.
func prepareRestoreDir(dir string, force bool, log interface{ Info(string, ...any) }) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if !force {
		return fmt.Errorf("%s is not empty: restore only into an empty data directory, or pass --force to delete its contents first", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return fmt.Errorf("%s is not empty and does not hold a watchparty store; refusing to delete it", dir)
	}
	st, err := store.Open(dir, nil, store.Options{})
	if err != nil {
		return fmt.Errorf("checking %s before deleting it: %w", dir, err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	for _, en := range entries {
		if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
			return err
		}
	}
	log.Info("restore: emptied the data directory", "dir", dir, "entries", len(entries))
	return nil
}

// countKinds summarises a store by key kind: "user 3, room 2, chat 40, ...".
func countKinds(st *store.Store) (string, error) {
	n := map[string]int{}
	err := st.View(func(tx *store.Tx) error {
		return tx.Iterate(nil, false, func(k, _ []byte) error {
			kind, _, _ := strings.Cut(string(k), "/")
			n[kind]++
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	kinds := make([]string, 0, len(n))
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return strings.Join(parts, ", "), nil
}
