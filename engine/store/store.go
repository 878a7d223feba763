// Package store is watchparty's embedded database: a Badger directory with
// keys grouped by a kind prefix (user/, session/, room/, chat/<room>/<seq> ...).
// Domain packages define the repository interfaces they need (account.Repo,
// room.Repo, media.ResumeRepo ...) and keep, in a file of their own named
// badger*.go, the implementation of them on a *Store with their key layout;
// only those files and the wiring (engine/app) name *Store and *Tx
// (imports_test.go checks it).
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// SchemaVersion is the version of the key layout this build writes.
const SchemaVersion = 1

const schemaKey = "meta/schema"

// Errors returned by the store.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrLocked means another process (usually a running server) holds the store.
	ErrLocked = errors.New("store: the data directory is in use by another watchparty process (stop the server first)")
	// ErrStop ends an Iterate early without an error.
	ErrStop = errors.New("store: stop iteration")
	// ErrUnavailable wraps write failures such as a full disk or a read-only directory.
	ErrUnavailable = errors.New("store: cannot write (disk full or read-only?)")
	// ErrConflict means a concurrent transaction changed what an Update
	// read; running it again may succeed.
	ErrConflict = badger.ErrConflict
)

// Store is an open Badger database.
type Store struct {
	db    *badger.DB
	log   *slog.Logger
	dir   string
	space *space // nil for in-memory and read-only stores
}

// Options tunes Open.
type Options struct {
	InMemory bool // for tests that do not need a directory
	ReadOnly bool
	// MinFree is the free space kept on the data directory's filesystem
	// (see DefaultMinFree, used when zero); writes fail with
	// ErrUnavailable below it. Negative turns the check off.
	MinFree int64
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, log *slog.Logger, o Options) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		WithLoggingLevel(badger.WARNING).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithCompression(options.None).
		WithSyncWrites(false).
		WithReadOnly(o.ReadOnly)
	if o.InMemory {
		opts = opts.WithInMemory(true).WithDir("").WithValueDir("")
	} else if !o.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: creating %s: %w", dir, err)
		}
	}
	var guard *space
	if !o.InMemory && !o.ReadOnly && o.MinFree >= 0 {
		guard = &space{dir: dir, minFree: o.MinFree, statfs: statfs}
		if guard.minFree == 0 {
			guard.minFree = DefaultMinFree
		}
		// Badger's first write to a new log file would crash the process
		// on a full disk (see DefaultMinFree): refuse to open instead.
		if err := (&Store{log: log, space: guard}).checkSpace(); err != nil {
			return nil, fmt.Errorf("store: opening %s: %w", dir, err)
		}
	}
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") || strings.Contains(err.Error(), "resource temporarily unavailable") {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	s := &Store{db: db, log: log, dir: dir, space: guard}
	if !o.InMemory && !o.ReadOnly {
		keepPrivate(dir, log)
	}
	if !o.ReadOnly {
		if err := s.migrate(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) migrate() error {
	return s.UpdateSync(func(tx *Tx) error {
		v, err := tx.Get([]byte(schemaKey))
		if errors.Is(err, ErrNotFound) {
			return tx.Set([]byte(schemaKey), []byte(strconv.Itoa(SchemaVersion)))
		}
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("store: bad schema version %q", v)
		}
		if n > SchemaVersion {
			return fmt.Errorf("store: data was written by a newer watchparty (schema %d, this build knows %d)", n, SchemaVersion)
		}
		// Migrations from older schemas go here, one step at a time.
		return nil
	})
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close flushes and closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Ready reports whether the store is open and answers reads.
func (s *Store) Ready(ctx context.Context) error {
	if s.db.IsClosed() {
		return errors.New("store: closed")
	}
	return s.View(func(tx *Tx) error { _, err := tx.Get([]byte(schemaKey)); return err })
}

// Sync forces written data to disk.
func (s *Store) Sync() error { return wrapWrite(s.db.Sync()) }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(t *badger.Txn) error { return fn(&Tx{t: t}) })
}

// Update runs fn in a read-write transaction. The commit survives a killed
// process (it is in the OS page cache) but not a power loss; use UpdateSync
// for writes that must.
func (s *Store) Update(fn func(tx *Tx) error) error {
	if err := s.checkSpace(); err != nil {
		return err
	}
	return wrapWrite(s.db.Update(func(t *badger.Txn) error { return fn(&Tx{t: t}) }))
}

// UpdateSync is Update followed by an fsync of the write-ahead log.
func (s *Store) UpdateSync(fn func(tx *Tx) error) error {
	if err := s.Update(fn); err != nil {
		return err
	}
	return s.Sync()
}

// Get reads one key.
func (s *Store) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.View(func(tx *Tx) error {
		v, err := tx.Get(key)
		out = v
		return err
	})
	return out, err
}

// Size returns the on-disk sizes of the LSM tree and the value log.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// Backup writes a full backup stream of the store to w.
func (s *Store) Backup(w io.Writer) error {
	_, err := s.db.Backup(w, 0)
	return err
}

// Restore loads a backup stream into the store, which should be empty.
func (s *Store) Restore(r io.Reader) error {
	if err := s.db.Load(r, 256); err != nil {
		return err
	}
	return s.Sync()
}

func wrapWrite(err error) error {
	if err == nil || errors.Is(err, badger.ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStop) {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) || errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "no space left") || strings.Contains(err.Error(), "read-only") {
		return fmt.Errorf("%w: %v", ErrUnavailable, err) //nolint:errorlint // callers match ErrUnavailable, not the cause

	}
	return err
}

// Tx is a transaction.
type Tx struct{ t *badger.Txn }

// Get returns a copy of the value at key, or ErrNotFound.
func (tx *Tx) Get(key []byte) ([]byte, error) {
	it, err := tx.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

// Has reports whether key exists.
func (tx *Tx) Has(key []byte) (bool, error) {
	_, err := tx.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Set writes key.
func (tx *Tx) Set(key, val []byte) error { return tx.t.Set(key, val) }

// SetTTL writes key so that it expires after ttl.
func (tx *Tx) SetTTL(key, val []byte, ttl time.Duration) error {
	return tx.t.SetEntry(badger.NewEntry(key, val).WithTTL(ttl))
}

// Delete removes key.
func (tx *Tx) Delete(key []byte) error { return tx.t.Delete(key) }

// Iterate calls fn for every key with prefix, in key order (reverse when
// asked). fn may return ErrStop to end early. key and val are valid only
// during the call.
func (tx *Tx) Iterate(prefix []byte, reverse bool, fn func(key, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.Reverse = reverse
	it := tx.t.NewIterator(opts)
	defer it.Close()
	start := prefix
	if reverse {
		start = append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff)
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Key joins parts with '/' into a key.
func Key(parts ...string) []byte { return []byte(strings.Join(parts, "/")) }

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Info(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
