package media

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Errors returned by Library.
var (
	// ErrNoLibrary means the server has no media folder configured.
	ErrNoLibrary = errors.New("media library is not enabled")
	// ErrNotFound means the path names no servable file in the library.
	ErrNotFound = errors.New("media file not found")
	// ErrForbidden means the path is not allowed: malformed, hidden, outside
	// the library, or not a video or subtitle file.
	ErrForbidden = errors.New("media path not allowed")
)

// Limits on library paths and walks.
const (
	maxPathBytes    = 1024
	maxSegmentBytes = 255
	maxWalkDepth    = 32
	maxWalkEntries  = 100_000
)

// isVideoExt says which files the library offers as videos. .mkv is included
// because the server sends the content type itself and Chromium and Firefox
// play WebM-style Matroska; HLS playlists are not, since their segments
// would need serving too.
func isVideoExt(ext string) bool {
	switch ext {
	case ".mp4", ".webm", ".ogg", ".ogv", ".m4v", ".mov", ".mkv":
		return true
	}
	return false
}

const videoExtList = ".mp4, .webm, .ogg, .ogv, .m4v, .mov or .mkv"

// isSubtitleExt says which sidecar subtitle formats are offered beside videos.
func isSubtitleExt(ext string) bool {
	switch ext {
	case ".vtt", ".srt", ".ass", ".ssa":
		return true
	}
	return false
}

// contentType is the MIME type this server serves a media extension with.
func contentType(ext string) (string, bool) {
	switch ext {
	case ".mp4":
		return "video/mp4", true
	case ".m4v":
		return "video/x-m4v", true
	case ".webm":
		return "video/webm", true
	case ".ogg", ".ogv":
		return "video/ogg", true
	case ".mov":
		return "video/quicktime", true
	case ".mkv":
		return "video/x-matroska", true
	case ".m3u8":
		return "application/vnd.apple.mpegurl", true
	case ".ts":
		return "video/mp2t", true
	case ".vtt":
		return "text/vtt", true
	case ".srt":
		return "application/x-subrip", true
	case ".ass", ".ssa":
		return "text/x-ssa", true
	}
	return "", false
}

// ContentType returns the MIME type to serve a media file with, chosen by
// its extension. It fixes the cases where the platform table is wrong for a
// video server (.webm is video/webm here, not audio/webm; .ogg is video/ogg)
// and falls back to application/octet-stream.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentType(ext); ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// checkRelPath enforces the library path rules: a non-empty relative slash
// path whose every segment is a plain, visible name. It refuses absolute
// paths, empty, "." and ".." segments, hidden names, backslashes, NUL and
// other control characters, and percent escapes left over from an
// incomplete URL decode.
func checkRelPath(rel string) error {
	switch {
	case rel == "":
		return errors.New("the path is empty")
	case len(rel) > maxPathBytes:
		return fmt.Errorf("the path is longer than %d bytes", maxPathBytes)
	case strings.HasPrefix(rel, "/"):
		return errors.New("the path must be relative")
	case strings.Contains(rel, `\`):
		return errors.New("the path must use forward slashes")
	case hasPercentEscape(rel):
		return errors.New("the path contains a percent escape")
	}
	for _, r := range rel {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return errors.New("the path contains control or invalid characters")
		}
	}
	for seg := range strings.SplitSeq(rel, "/") {
		switch {
		case seg == "":
			return errors.New("the path has an empty segment")
		case strings.HasPrefix(seg, "."):
			return errors.New("the path names a hidden file or a dot segment")
		case len(seg) > maxSegmentBytes:
			return fmt.Errorf("a path segment is longer than %d bytes", maxSegmentBytes)
		}
	}
	return nil
}

func hasPercentEscape(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Subtitle is a subtitle file found beside a video.
type Subtitle struct {
	// Path is the slash path inside the library.
	Path string `json:"path"`
	// Format is "vtt", "srt" (serve it through SRTToVTT), "ass" or "ssa"
	// (converted by ffmpeg).
	Format string `json:"format"`
	// Lang is the language tag from the file name ("en" in b.en.vtt), or ""
	// when the name carries none or the label is not a language tag.
	Lang string `json:"lang,omitempty"`
	// Label is a display name: the part between the video name and the
	// extension ("en", "English", "en.forced"), or "Subtitles".
	Label string `json:"label"`
}

// Entry is a video in the library.
type Entry struct {
	// Path is the slash path inside the library, usable with Open and as
	// "media:" + Path with ParseLink.
	Path string `json:"path"`
	// Name is the file name without directories.
	Name string `json:"name"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// ModTime is the file's modification time.
	ModTime time.Time `json:"modTime"`
	// ContentType is the MIME type the file is served with.
	ContentType string `json:"contentType"`
	// Subtitles are the sidecar subtitle files, sorted by path.
	Subtitles []Subtitle `json:"subtitles,omitempty"`
}

// Library serves the videos of one folder. It holds no open handles: each
// call opens the folder afresh, so a Library needs no closing and sees the
// folder as it is now. A Library is safe for concurrent use.
//
// Symbolic links: a link inside the folder is followed when it is relative
// and its target stays inside the folder (os.Root's rule); a link that
// leaves the folder, or is absolute, is refused by Open and skipped by List.
// List does not descend into linked directories (it cannot loop), but Open
// serves files reached through them.
type Library struct {
	dir string
}

// NewLibrary returns a Library for dir. An empty dir returns a disabled
// Library whose methods report ErrNoLibrary. Otherwise dir must be an
// existing directory.
func NewLibrary(dir string) (*Library, error) {
	if dir == "" {
		return &Library{}, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("media library %q: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("media library: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("media library %q is not a directory", abs)
	}
	return &Library{dir: abs}, nil
}

// Enabled reports whether the library has a folder.
func (l *Library) Enabled() bool { return l != nil && l.dir != "" }

// Dir returns the library's absolute folder, or "" when disabled.
func (l *Library) Dir() string {
	if l == nil {
		return ""
	}
	return l.dir
}

func (l *Library) openRoot() (*os.Root, error) {
	if !l.Enabled() {
		return nil, ErrNoLibrary
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, fmt.Errorf("media library: %w", err)
	}
	return root, nil
}

// Open opens the library file at rel, a slash-separated path relative to
// the folder (already URL-decoded by the caller). Only videos and subtitle
// files are served. Malformed, hidden and escaping paths, and other file
// types, give an error wrapping ErrForbidden; missing files and directories
// give ErrNotFound. The caller closes the file.
func (l *Library) Open(rel string) (*os.File, fs.FileInfo, error) {
	if !l.Enabled() {
		return nil, nil, ErrNoLibrary
	}
	if err := checkRelPath(rel); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	ext := strings.ToLower(path.Ext(rel))
	if !isVideoExt(ext) && !isSubtitleExt(ext) {
		return nil, nil, fmt.Errorf("%w: %q is not a video or subtitle file", ErrForbidden, rel)
	}
	return l.open(rel)
}

func (l *Library) open(rel string) (*os.File, fs.FileInfo, error) {
	if !l.Enabled() {
		return nil, nil, ErrNoLibrary
	}
	if err := checkRelPath(rel); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	root, err := l.openRoot()
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		// Escaping or absolute symlinks, loops and permission errors.
		return nil, nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("media library: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %q is not a regular file", ErrNotFound, rel)
	}
	return f, info, nil
}

// isImageExt says which pictures OpenImage serves (posters beside videos).
func isImageExt(ext string) bool {
	switch ext {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// OpenImage opens a picture in the library (a poster beside a video), with
// Open's rules for paths.
func (l *Library) OpenImage(rel string) (*os.File, fs.FileInfo, error) {
	if !isImageExt(strings.ToLower(path.Ext(rel))) {
		return nil, nil, fmt.Errorf("%w: %q is not a picture", ErrForbidden, rel)
	}
	return l.open(rel)
}

// List returns the library's videos whose path contains every
// whitespace-separated word of query (case-insensitive), sorted by path, at
// most limit of them (limit <= 0 means all). Hidden files and folders are
// skipped, as are symlinks that leave the folder. Each entry carries the
// subtitle files beside it.
func (l *Library) List(query string, limit int) ([]Entry, error) {
	root, err := l.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	words := strings.Fields(strings.ToLower(query))
	w := walker{root: root, fsys: root.FS(), words: words}
	if err := w.dir(".", 0); err != nil {
		return nil, err
	}
	sort.Slice(w.found, func(i, j int) bool { return w.found[i].Path < w.found[j].Path })
	if limit > 0 && len(w.found) > limit {
		w.found = w.found[:limit]
	}
	return w.found, nil
}

type walker struct {
	root    *os.Root
	fsys    fs.FS
	words   []string
	visited int
	found   []Entry
	// dirs records each directory walked and its modification time
	// (for the index: a directory whose time changed has new or removed
	// entries).
	dirs map[string]time.Time
}

// dir scans one directory: it collects its videos and subtitles, matches
// subtitles to videos, and recurses into visible subdirectories.
func (w *walker) dir(dir string, depth int) error {
	if w.dirs != nil {
		if info, err := w.root.Stat(dir); err == nil {
			w.dirs[dir] = info.ModTime()
		}
	}
	ents, err := fs.ReadDir(w.fsys, dir)
	if err != nil {
		if dir == "." {
			return fmt.Errorf("media library: %w", err)
		}
		return nil // an unreadable subfolder is skipped, not fatal
	}
	type file struct {
		rel  string
		info fs.FileInfo
	}
	var videos, subs []file
	for _, e := range ents {
		w.visited++
		if w.visited > maxWalkEntries {
			return nil
		}
		name := e.Name()
		rel := name
		if dir != "." {
			rel = dir + "/" + name
		}
		if checkRelPath(rel) != nil {
			continue // hidden, or a name Open would refuse
		}
		if e.IsDir() {
			if depth+1 < maxWalkDepth {
				if err := w.dir(rel, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		ext := strings.ToLower(path.Ext(name))
		if !isVideoExt(ext) && !isSubtitleExt(ext) {
			continue
		}
		var info fs.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			// Stat through the root follows the link only if it stays inside.
			info, err = w.root.Stat(rel)
		} else {
			info, err = e.Info()
		}
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if isVideoExt(ext) {
			videos = append(videos, file{rel, info})
		} else {
			subs = append(subs, file{rel, info})
		}
	}
	if len(videos) == 0 {
		return nil
	}
	// Each subtitle goes to the video with the longest matching stem, so
	// "b.part2.vtt" belongs to "b.part2.mp4" rather than "b.mp4".
	bySub := make(map[int][]Subtitle)
	for _, s := range subs {
		best, bestLen := -1, -1
		for i, v := range videos {
			stem := strings.TrimSuffix(v.info.Name(), path.Ext(v.info.Name()))
			_, sname := path.Split(s.rel)
			if strings.HasPrefix(sname, stem+".") && len(stem) > bestLen {
				best, bestLen = i, len(stem)
			}
		}
		if best >= 0 {
			_, vname := path.Split(videos[best].rel)
			bySub[best] = append(bySub[best], describeSubtitle(vname, s.rel))
		}
	}
	for i, v := range videos {
		if !w.matches(v.rel) {
			continue
		}
		_, name := path.Split(v.rel)
		subs := bySub[i]
		sort.Slice(subs, func(a, b int) bool { return subs[a].Path < subs[b].Path })
		w.found = append(w.found, Entry{
			Path:        v.rel,
			Name:        name,
			Size:        v.info.Size(),
			ModTime:     v.info.ModTime(),
			ContentType: ContentType(name),
			Subtitles:   subs,
		})
	}
	return nil
}

func (w *walker) matches(rel string) bool {
	lower := strings.ToLower(rel)
	for _, word := range w.words {
		if !strings.Contains(lower, word) {
			return false
		}
	}
	return true
}

// describeSubtitle names the subtitle file subRel found beside the video
// file videoName: "b.en.vtt" beside "b.mp4" is English, "b.vtt" unlabelled.
func describeSubtitle(videoName, subRel string) Subtitle {
	_, subName := path.Split(subRel)
	ext := path.Ext(subName)
	stem := strings.TrimSuffix(videoName, path.Ext(videoName))
	// subName is stem + ["." + middle] + ext.
	middle := strings.TrimSuffix(strings.TrimPrefix(subName, stem), ext)
	middle = strings.TrimPrefix(middle, ".")
	s := Subtitle{Path: subRel, Format: strings.ToLower(strings.TrimPrefix(ext, ".")), Label: middle}
	if isLangTag(middle) {
		s.Lang = middle
	}
	if s.Label == "" {
		s.Label = "Subtitles"
	}
	return s
}

// isLangTag reports whether s looks like a BCP 47 language tag: a 2–3 letter
// language and optional alphanumeric subtags ("en", "pt-BR", "zh-Hant").
func isLangTag(s string) bool {
	parts := strings.Split(s, "-")
	if n := len(parts[0]); n < 2 || n > 3 || !isLetters(parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 2 || len(p) > 8 || !isAlnum(p) {
			return false
		}
	}
	return true
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'z') {
			return false
		}
	}
	return true
}
