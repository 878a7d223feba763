package app

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"watchparty/config"
	"watchparty/engine/store"
)

// runBackup is `watchparty backup FILE`: through the running server's
// control socket when it runs, from the data directory otherwise.
func runBackup(ctx context.Context, e Env, args []string) error {
	cfg, fs, err := loadConfig(e, "backup", args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: watchparty backup FILE  (FILE ending in .gz is compressed; - writes to standard output)")
	}
	name := fs.Arg(0)
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return fmt.Errorf("no data directory at %s: %w", cfg.DataDir, err)
	}

	var out io.Writer = e.Stdout
	var file *atomicFile
	if name != "-" {
		if file, err = createAtomic(name); err != nil {
			return err
		}
		out = file
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countingWriter{w: bw}
	var dst io.Writer = cw
	var gz *gzip.Writer
	if strings.HasSuffix(name, ".gz") {
		gz, _ = gzip.NewWriterLevel(cw, gzip.BestSpeed)
		dst = gz
	}
	fail := func(err error) error {
		if file != nil {
			file.Abort()
		}
		return err
	}

	start := time.Now()
	via := "the running server"
	err = backupFromServer(ctx, controlSocketPath(cfg.DataDir), dst)
	if errors.Is(err, errNoServer) {
		via = "the data directory"
		err = backupDirect(cfg, e, dst)
	}
	if err != nil {
		return fail(err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.Stderr, "backup of %s (via %s) written to %s: %d bytes in %s\n",
		cfg.DataDir, via, name, cw.n, time.Since(start).Round(time.Millisecond))
	return nil
}

func backupDirect(cfg *config.Config, e Env, w io.Writer) error {
	dir := cfg.DataDir
	log, _ := newLogger(cfg, e.Stderr)
	st, err := store.Open(dir, log, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w; its control socket %s did not answer, so no online backup is possible", err, controlSocketPath(dir))
	}
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Backup(w)
}
