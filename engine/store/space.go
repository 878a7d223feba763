package store

import (
	"fmt"
	"sync/atomic"
	"syscall"
)

// DefaultMinFree is the free space the store keeps on its filesystem: below
// it, writes fail with ErrUnavailable instead of reaching Badger.
//
// Badger writes its write-ahead log and new tables through memory-mapped
// files that it extends with ftruncate, which allocates nothing. On a full
// filesystem the first store into a new page of such a file raises SIGBUS,
// and the Go runtime ends the process: Badger never sees an error it could
// return. The reserve covers a memtable's log file (twice the memtable size),
// a second one while the first is flushed, the level-0 table of that flush
// and room for a compaction.
const DefaultMinFree = 64 << 20

// space guards writes with a free-space check.
type space struct {
	dir     string
	minFree int64
	statfs  func(dir string) (free int64, readOnly bool, err error)
	full    atomic.Bool // the last check refused writes (for logging once)
}

func statfs(dir string) (int64, bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return int64(st.Bavail) * int64(st.Bsize), st.Flags&stRdonly != 0, nil
}

// stRdonly is ST_RDONLY of statfs(2) (unix.ST_RDONLY).
const stRdonly = 0x1

// check returns an error wrapping ErrUnavailable when the filesystem of the
// store is read-only or has less than the reserve free. It logs the change
// from writable to refused (and back) once, not on every write.
func (s *Store) checkSpace() error {
	g := s.space
	if g == nil {
		return nil
	}
	free, ro, err := g.statfs(g.dir)
	if err != nil {
		// No answer from statfs is no reason to refuse: Badger reports
		// real write errors itself.
		return nil
	}
	var why error
	switch {
	case ro:
		why = fmt.Errorf("%w: the data directory %s is on a read-only filesystem", ErrUnavailable, g.dir)
	case free < g.minFree:
		why = fmt.Errorf("%w: %d KiB free on the filesystem of %s, %d KiB are kept in reserve", ErrUnavailable, free>>10, g.dir, g.minFree>>10)
	}
	if why != nil {
		if !g.full.Swap(true) {
			s.log.Error("store: refusing writes until space returns", "err", why)
		}
		return why
	}
	if g.full.Swap(false) {
		s.log.Info("store: space is back; writes resumed", "free_kib", free>>10)
	}
	return nil
}
