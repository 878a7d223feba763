package transcode

import (
	"container/list"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Cache holds finished files (segments, subtitles, posters) under one
// directory, at most Max bytes of them: adding a file past the cap removes
// the least recently used ones. Files are only ever added whole (renamed
// into place), so what the cache lists is complete. It survives restarts:
// Open scans the directory and orders what it finds by modification time.
type Cache struct {
	dir string
	max int64
	log *slog.Logger

	mu    sync.Mutex
	lru   *list.List // of *cached, most recent at the front
	files map[string]*list.Element
	size  int64
	// wanted counts the requests waiting for each file: a wanted file is
	// not evicted, so a request is not starved by production running
	// ahead of it in a small cache.
	wanted map[string]int

	evicted int64
}

type cached struct {
	rel  string
	size int64
}

// OpenCache opens (creating) the cache in dir with a cap of max bytes and
// removes what is over it. Unfinished files left by a previous run (in
// "run-*" folders) are removed.
func OpenCache(dir string, max int64, log *slog.Logger) (*Cache, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cache{dir: dir, max: max, log: log, lru: list.New(), files: map[string]*list.Element{}}
	type found struct {
		rel  string
		size int64
		mod  time.Time
	}
	var all []found
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if len(d.Name()) > 4 && d.Name()[:4] == "run-" {
				os.RemoveAll(p)
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		all = append(all, found{rel, info.Size(), info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "run-tmp"), 0o700); err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.Before(all[j].mod) })
	for _, f := range all {
		c.files[f.rel] = c.lru.PushFront(&cached{rel: f.rel, size: f.size})
		c.size += f.size
	}
	c.mu.Lock()
	c.trim()
	c.mu.Unlock()
	return c, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Size is the bytes the cache holds now.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Evicted counts the files removed to stay under the cap.
func (c *Cache) Evicted() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted
}

// Path is where the cache keeps rel (a slash path).
func (c *Cache) Path(rel string) string { return filepath.Join(c.dir, filepath.FromSlash(rel)) }

// Has reports whether rel is in the cache.
func (c *Cache) Has(rel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.files[filepath.FromSlash(rel)]
	return ok
}

// Open opens rel for reading and marks it used, or reports fs.ErrNotExist.
func (c *Cache) Open(rel string) (*os.File, error) {
	key := filepath.FromSlash(rel)
	c.mu.Lock()
	e, ok := c.files[key]
	if ok {
		c.lru.MoveToFront(e)
	}
	c.mu.Unlock()
	if !ok {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(c.Path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		c.forget(key)
	}
	return f, err
}

// Put moves the finished file at src (on the cache's file system) into
// the cache as rel, replacing what was there, and trims the cache to its
// cap.
func (c *Cache) Put(src, rel string) error {
	key := filepath.FromSlash(rel)
	dst := c.Path(rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.files[key]; ok {
		c.size -= e.Value.(*cached).size
		c.lru.Remove(e)
	}
	c.files[key] = c.lru.PushFront(&cached{rel: key, size: info.Size()})
	c.size += info.Size()
	c.trim()
	return nil
}

// PutBytes writes data into the cache as rel.
func (c *Cache) PutBytes(rel string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "run-tmp"), "put-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	if err := c.Put(tmp.Name(), rel); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

func (c *Cache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.files[key]; ok {
		c.size -= e.Value.(*cached).size
		c.lru.Remove(e)
		delete(c.files, key)
	}
}

// Want marks rel as awaited by a request until the returned function is
// called: it is not evicted meanwhile.
func (c *Cache) Want(rel string) (done func()) {
	key := filepath.FromSlash(rel)
	c.mu.Lock()
	if c.wanted == nil {
		c.wanted = map[string]int{}
	}
	c.wanted[key]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.wanted[key]--; c.wanted[key] <= 0 {
			delete(c.wanted, key)
		}
		c.mu.Unlock()
	}
}

// trim removes least recently used files until the cache is under its cap,
// passing over files a request waits for (so the file just added may go
// at once); a single file stays even when it alone is over the cap. c.mu
// is held.
func (c *Cache) trim() {
	for e := c.lru.Back(); c.size > c.max && e != nil && c.lru.Len() > 1; {
		f := e.Value.(*cached)
		prev := e.Prev()
		if c.wanted[f.rel] > 0 {
			e = prev
			continue
		}
		c.lru.Remove(e)
		e = prev
		delete(c.files, f.rel)
		c.size -= f.size
		c.evicted++
		if err := os.Remove(filepath.Join(c.dir, f.rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("media cache: removing a file", "file", f.rel, "err", err)
		}
	}
}
