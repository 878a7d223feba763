package media

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Index keeps the library's listing in memory so that a listing or a search
// costs a scan of a slice, not a walk of the folder. It notices changes by
// the folders' modification times (a folder's time changes when a file in it
// is added, removed or renamed), which works on network mounts where change
// notifications do not: a request at most every CheckEvery starts a check in
// the background, which stats every folder and walks the library again only
// when one changed. Requests never wait for a walk except the first.
type Index struct {
	lib *Library
	// CheckEvery is the least time between two change checks (5 s).
	CheckEvery time.Duration
	now        func() time.Time

	mu       sync.Mutex
	snap     *snapshot
	checking bool
	building sync.Mutex // one walk at a time

	walks atomic.Int64
}

type snapshot struct {
	entries []Entry // sorted by path
	lower   []string
	byPath  map[string]int
	dirs    map[string]time.Time
	checked time.Time
}

// NewIndex returns an index of lib. Nothing is walked until it is used.
func NewIndex(lib *Library) *Index {
	return &Index{lib: lib, CheckEvery: 5 * time.Second, now: time.Now}
}

// Walks counts the library walks the index has made.
func (x *Index) Walks() int64 { return x.walks.Load() }

// Library is the indexed library.
func (x *Index) Library() *Library { return x.lib }

func (x *Index) current() (*snapshot, error) {
	if !x.lib.Enabled() {
		return nil, ErrNoLibrary
	}
	x.mu.Lock()
	s := x.snap
	if s != nil && !x.checking && x.now().Sub(s.checked) >= x.CheckEvery {
		x.checking = true
		go func() {
			_ = x.Check()
			x.mu.Lock()
			x.checking = false
			x.mu.Unlock()
		}()
	}
	x.mu.Unlock()
	if s != nil {
		return s, nil
	}
	return x.build(nil)
}

// build walks the library unless another walk finished since the caller
// saw old (then that walk's result is used).
func (x *Index) build(old *snapshot) (*snapshot, error) {
	x.building.Lock()
	defer x.building.Unlock()
	x.mu.Lock()
	if x.snap != nil && x.snap != old {
		s := x.snap
		x.mu.Unlock()
		return s, nil
	}
	x.mu.Unlock()
	root, err := x.lib.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	w := walker{root: root, fsys: root.FS(), dirs: map[string]time.Time{}}
	if err := w.dir(".", 0); err != nil {
		return nil, err
	}
	x.walks.Add(1)
	sort.Slice(w.found, func(i, j int) bool { return w.found[i].Path < w.found[j].Path })
	s := &snapshot{entries: w.found, lower: make([]string, len(w.found)), byPath: make(map[string]int, len(w.found)), dirs: w.dirs, checked: x.now()}
	for i, e := range w.found {
		s.lower[i] = strings.ToLower(e.Path)
		s.byPath[e.Path] = i
	}
	x.mu.Lock()
	x.snap = s
	x.mu.Unlock()
	return s, nil
}

// Check looks for changes now: it stats every folder of the last walk and
// walks the library again if one is gone or changed. It reports whether it
// walked.
func (x *Index) Check() error {
	x.mu.Lock()
	s := x.snap
	x.mu.Unlock()
	if s == nil {
		_, err := x.build(nil)
		return err
	}
	root, err := x.lib.openRoot()
	if err != nil {
		return err
	}
	changed := false
	for dir, mod := range s.dirs {
		info, err := root.Stat(dir)
		if err != nil || !info.ModTime().Equal(mod) {
			changed = true
			break
		}
	}
	root.Close()
	if !changed {
		x.mu.Lock()
		if x.snap == s {
			s.checked = x.now()
		}
		x.mu.Unlock()
		return nil
	}
	_, err = x.build(s)
	return err
}

// List returns the videos whose path contains every whitespace-separated
// word of query (case-insensitive), sorted by path, at most limit of them
// (limit <= 0: all), from the index.
func (x *Index) List(query string, limit int) ([]Entry, error) {
	s, err := x.current()
	if err != nil {
		return nil, err
	}
	words := strings.Fields(strings.ToLower(query))
	var out []Entry
outer:
	for i, e := range s.entries {
		for _, w := range words {
			if !strings.Contains(s.lower[i], w) {
				continue outer
			}
		}
		out = append(out, e)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// Lookup returns the indexed entry of the video at rel.
func (x *Index) Lookup(rel string) (Entry, bool) {
	s, err := x.current()
	if err != nil {
		return Entry{}, false
	}
	i, ok := s.byPath[rel]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i], true
}

// Folder is one level of the library: its sub-folders (names) and the
// videos directly in it.
type Folder struct {
	Path    string   `json:"path"` // "" for the top
	Folders []string `json:"folders"`
	Videos  []Entry  `json:"videos"`
}

// ErrNoFolder means Browse was asked for a folder that holds no videos.
var ErrNoFolder = errors.New("no such folder in the media library")

// Browse returns one folder of the library ("" for the top): the folders
// under it that hold videos, and its videos, sorted by name.
func (x *Index) Browse(dir string) (Folder, error) {
	dir = strings.Trim(dir, "/")
	if dir != "" {
		if err := checkRelPath(dir); err != nil {
			return Folder{}, fmt.Errorf("%w: %w", ErrForbidden, err)
		}
	}
	s, err := x.current()
	if err != nil {
		return Folder{}, err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	f := Folder{Path: dir, Folders: []string{}, Videos: []Entry{}}
	// Entries are sorted by path, so one folder's are contiguous.
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Path >= prefix })
	for ; i < len(s.entries) && strings.HasPrefix(s.entries[i].Path, prefix); i++ {
		rest := s.entries[i].Path[len(prefix):]
		if sub, _, ok := strings.Cut(rest, "/"); ok {
			if n := len(f.Folders); n == 0 || f.Folders[n-1] != sub {
				f.Folders = append(f.Folders, sub)
			}
			continue
		}
		f.Videos = append(f.Videos, s.entries[i])
	}
	if dir != "" && len(f.Folders) == 0 && len(f.Videos) == 0 {
		return Folder{}, ErrNoFolder
	}
	sort.Strings(f.Folders)
	f.Folders = compactStrings(f.Folders)
	sort.Slice(f.Videos, func(a, b int) bool { return path.Base(f.Videos[a].Path) < path.Base(f.Videos[b].Path) })
	return f, nil
}

func compactStrings(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
