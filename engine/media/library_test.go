package media

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixture builds a library folder and a sibling "outside" folder:
//
//	lib/
//	  Intro.webm                  (with a malformed-language sidecar)
//	  Intro.English.srt
//	  films/Night.mp4             (+ Night.vtt, Night.en.srt, Night.pt-BR.vtt)
//	  films/Night.part2.mp4       (+ Night.part2.vtt)
//	  films/notes.txt
//	  films/deep/er/Clip.MKV
//	  shows/S01/E01.m4v
//	  .hidden/secret.mp4
//	  films/.secret.mp4
//	  link-inside.mp4  -> films/Night.mp4           (relative, stays inside)
//	  link-outside.mp4 -> ../outside/leak.mp4       (relative, leaves)
//	  link-absolute.mp4 -> <abs>/lib/films/Night.mp4 (absolute)
//	  linkdir -> ../outside                          (directory leaving)
//	  films/loop -> ..                               (directory loop)
//	outside/leak.mp4
func fixture(t testing.TB) (lib string, outside string) {
	t.Helper()
	base := t.TempDir()
	lib = filepath.Join(base, "lib")
	outside = filepath.Join(base, "outside")
	files := map[string]string{
		"lib/Intro.webm":                "intro",
		"lib/Intro.English.srt":         "1\n00:00:01,000 --> 00:00:02,000\nHi\n",
		"lib/films/Night.mp4":           "night-video",
		"lib/films/Night.vtt":           "WEBVTT\n",
		"lib/films/Night.en.srt":        "",
		"lib/films/Night.pt-BR.vtt":     "WEBVTT\n",
		"lib/films/Night.part2.mp4":     "part2",
		"lib/films/Night.part2.vtt":     "WEBVTT\n",
		"lib/films/notes.txt":           "private notes",
		"lib/films/deep/er/Clip.MKV":    "clip",
		"lib/shows/S01/E01.m4v":         "episode",
		"lib/.hidden/secret.mp4":        "hidden",
		"lib/films/.secret.mp4":         "hidden",
		"lib/films/Night.mp4.part":      "partial download",
		"outside/leak.mp4":              "outside secret",
		"outside/leak.vtt":              "WEBVTT\n",
		"lib/shows/S01/.E01.m4v.swp":    "swap",
		"lib/shows/S01/E01 (copy).webm": "copy",
	}
	for name, body := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib/link-inside.mp4":   "films/Night.mp4",
		"lib/link-outside.mp4":  "../outside/leak.mp4",
		"lib/link-absolute.mp4": filepath.Join(lib, "films", "Night.mp4"),
		"lib/linkdir":           "../outside",
		"lib/films/loop":        "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	return lib, outside
}

func TestListAll(t *testing.T) {
	lib, _ := fixture(t)
	l, err := NewLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.List("", 0)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range got {
		paths = append(paths, e.Path)
	}
	want := []string{
		"Intro.webm",
		"films/Night.mp4",
		"films/Night.part2.mp4",
		"films/deep/er/Clip.MKV",
		"link-inside.mp4",
		"shows/S01/E01 (copy).webm",
		"shows/S01/E01.m4v",
	}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("List paths =\n%q\nwant\n%q", paths, want)
	}

	byPath := map[string]Entry{}
	for _, e := range got {
		byPath[e.Path] = e
	}
	night := byPath["films/Night.mp4"]
	if night.Name != "Night.mp4" || night.Size != int64(len("night-video")) || night.ContentType != "video/mp4" {
		t.Fatalf("Night entry = %+v", night)
	}
	if time.Since(night.ModTime) > time.Hour || night.ModTime.IsZero() {
		t.Fatalf("Night mod time = %v", night.ModTime)
	}
	wantSubs := []Subtitle{
		{Path: "films/Night.en.srt", Format: "srt", Lang: "en", Label: "en"},
		{Path: "films/Night.pt-BR.vtt", Format: "vtt", Lang: "pt-BR", Label: "pt-BR"},
		{Path: "films/Night.vtt", Format: "vtt", Label: "Subtitles"},
	}
	if !reflect.DeepEqual(night.Subtitles, wantSubs) {
		t.Fatalf("Night subtitles =\n%+v\nwant\n%+v", night.Subtitles, wantSubs)
	}
	part2 := byPath["films/Night.part2.mp4"]
	if want := []Subtitle{{Path: "films/Night.part2.vtt", Format: "vtt", Label: "Subtitles"}}; !reflect.DeepEqual(part2.Subtitles, want) {
		t.Fatalf("part2 subtitles = %+v, want %+v", part2.Subtitles, want)
	}
	intro := byPath["Intro.webm"]
	if want := []Subtitle{{Path: "Intro.English.srt", Format: "srt", Label: "English"}}; !reflect.DeepEqual(intro.Subtitles, want) {
		t.Fatalf("Intro subtitles = %+v, want %+v", intro.Subtitles, want)
	}
	if intro.ContentType != "video/webm" {
		t.Fatalf("Intro content type = %q", intro.ContentType)
	}
	if clip := byPath["films/deep/er/Clip.MKV"]; clip.ContentType != "video/x-matroska" || clip.Subtitles != nil {
		t.Fatalf("Clip entry = %+v", clip)
	}
	if in := byPath["link-inside.mp4"]; in.Size != int64(len("night-video")) {
		t.Fatalf("inside link should report its target's size, got %+v", in)
	}
}

func TestListQueryAndLimit(t *testing.T) {
	lib, _ := fixture(t)
	l, err := NewLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query string
		limit int
		want  []string
	}{
		{"one word case-insensitive", "NIGHT", 0, []string{"films/Night.mp4", "films/Night.part2.mp4"}},
		{"every word must match", "night part", 0, []string{"films/Night.part2.mp4"}},
		{"words match directories too", "films clip", 0, []string{"films/deep/er/Clip.MKV"}},
		{"words in any order", "e01 s01 copy", 0, []string{"shows/S01/E01 (copy).webm"}},
		{"no match", "nosuchthing", 0, nil},
		{"hidden files never match", "secret", 0, nil},
		{"outside files never match", "leak", 0, nil},
		{"limit keeps the first by path", "", 2, []string{"Intro.webm", "films/Night.mp4"}},
		{"limit larger than result", "night", 10, []string{"films/Night.mp4", "films/Night.part2.mp4"}},
		{"extra spaces ignored", "  night   part2 ", 0, []string{"films/Night.part2.mp4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.List(tt.query, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, e := range got {
				paths = append(paths, e.Path)
			}
			if !reflect.DeepEqual(paths, tt.want) {
				t.Fatalf("List(%q, %d) = %q, want %q", tt.query, tt.limit, paths, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	lib, _ := fixture(t)
	l, err := NewLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		rel      string
		wantBody string
		wantErr  error
	}{
		{name: "top-level video", rel: "Intro.webm", wantBody: "intro"},
		{name: "nested video", rel: "films/Night.mp4", wantBody: "night-video"},
		{name: "deep video", rel: "films/deep/er/Clip.MKV", wantBody: "clip"},
		{name: "name with spaces", rel: "shows/S01/E01 (copy).webm", wantBody: "copy"},
		{name: "subtitle", rel: "films/Night.pt-BR.vtt", wantBody: "WEBVTT\n"},
		{name: "relative symlink inside is followed", rel: "link-inside.mp4", wantBody: "night-video"},
		{name: "symlink escaping is refused", rel: "link-outside.mp4", wantErr: ErrForbidden},
		{name: "absolute symlink is refused", rel: "link-absolute.mp4", wantErr: ErrForbidden},
		{name: "through directory symlink leaving", rel: "linkdir/leak.mp4", wantErr: ErrForbidden},
		{name: "through directory loop staying inside", rel: "films/loop/Intro.webm", wantBody: "intro"},
		{name: "missing", rel: "films/Nope.mp4", wantErr: ErrNotFound},
		{name: "directory named like a video", rel: "films", wantErr: ErrForbidden},
		{name: "not a media file", rel: "films/notes.txt", wantErr: ErrForbidden},
		{name: "partial download", rel: "films/Night.mp4.part", wantErr: ErrForbidden},
		{name: "dotdot", rel: "../outside/leak.mp4", wantErr: ErrForbidden},
		{name: "dotdot in the middle", rel: "films/../../outside/leak.mp4", wantErr: ErrForbidden},
		{name: "dotdot that stays inside", rel: "films/../Intro.webm", wantErr: ErrForbidden},
		{name: "dot segment", rel: "./Intro.webm", wantErr: ErrForbidden},
		{name: "absolute", rel: "/etc/passwd.mp4", wantErr: ErrForbidden},
		{name: "absolute into library", rel: filepath.ToSlash(filepath.Join(lib, "Intro.webm")), wantErr: ErrForbidden},
		{name: "encoded dotdot", rel: "%2e%2e/outside/leak.mp4", wantErr: ErrForbidden},
		{name: "encoded dotdot upper", rel: "%2E%2E%2Foutside%2Fleak.mp4", wantErr: ErrForbidden},
		{name: "encoded slash", rel: "films%2fNight.mp4", wantErr: ErrForbidden},
		{name: "backslash", rel: `films\Night.mp4`, wantErr: ErrForbidden},
		{name: "backslash dotdot", rel: `..\outside\leak.mp4`, wantErr: ErrForbidden},
		{name: "NUL", rel: "Intro.webm\x00.mp4", wantErr: ErrForbidden},
		{name: "hidden directory", rel: ".hidden/secret.mp4", wantErr: ErrForbidden},
		{name: "hidden file", rel: "films/.secret.mp4", wantErr: ErrForbidden},
		{name: "empty", rel: "", wantErr: ErrForbidden},
		{name: "trailing slash", rel: "films/Night.mp4/", wantErr: ErrForbidden},
		{name: "double slash", rel: "films//Night.mp4", wantErr: ErrForbidden},
		{name: "overlong", rel: strings.Repeat("a/", 600) + "x.mp4", wantErr: ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, info, err := l.Open(tt.rel)
			if tt.wantErr != nil {
				if f != nil {
					f.Close()
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open(%q) error = %v, want %v", tt.rel, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.rel, err)
			}
			defer f.Close()
			body, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tt.wantBody || info.Size() != int64(len(tt.wantBody)) || !info.Mode().IsRegular() {
				t.Fatalf("Open(%q) = %q (size %d, mode %v), want %q", tt.rel, body, info.Size(), info.Mode(), tt.wantBody)
			}
		})
	}
}

func TestOpenDirectoryNamedLikeVideo(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "folder.mp4"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := NewLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Open("folder.mp4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(directory) error = %v, want ErrNotFound", err)
	}
	if got, err := l.List("", 0); err != nil || len(got) != 0 {
		t.Fatalf("List = %+v, %v; want nothing", got, err)
	}
}

func TestDisabledLibrary(t *testing.T) {
	l, err := NewLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	if l.Enabled() || l.Dir() != "" {
		t.Fatal("empty dir should give a disabled library")
	}
	if _, err := l.List("", 0); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("List error = %v, want ErrNoLibrary", err)
	}
	if _, _, err := l.Open("a.mp4"); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("Open error = %v, want ErrNoLibrary", err)
	}
	var nilLib *Library
	if _, err := nilLib.List("", 0); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("nil List error = %v, want ErrNoLibrary", err)
	}
}

func TestNewLibraryErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLibrary(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing dir error = %v", err)
	}
	if _, err := NewLibrary(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file error = %v", err)
	}
	l, err := NewLibrary(dir)
	if err != nil || !l.Enabled() || !filepath.IsAbs(l.Dir()) {
		t.Fatalf("NewLibrary(%q) = %+v, %v", dir, l, err)
	}
}

func TestListRemovedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := NewLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := l.List("", 0); err == nil {
		t.Fatal("List on a removed folder should fail")
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{"webm is video", "a.webm", "video/webm"},
		{"upper-case webm", "A.WEBM", "video/webm"},
		{"mp4", "dir/a.mp4", "video/mp4"},
		{"m4v", "a.m4v", "video/x-m4v"},
		{"ogg is video", "a.ogg", "video/ogg"},
		{"ogv", "a.ogv", "video/ogg"},
		{"mov", "a.mov", "video/quicktime"},
		{"mkv", "a.mkv", "video/x-matroska"},
		{"hls", "index.m3u8", "application/vnd.apple.mpegurl"},
		{"vtt", "a.en.vtt", "text/vtt"},
		{"srt", "a.srt", "application/x-subrip"},
		{"unknown", "a.unknownext", "application/octet-stream"},
		{"none", "README", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContentType(tt.file); got != tt.want {
				t.Fatalf("ContentType(%q) = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}

func TestDescribeSubtitle(t *testing.T) {
	tests := []struct {
		name  string
		video string
		sub   string
		want  Subtitle
	}{
		{"plain", "b.mp4", "a/b.vtt", Subtitle{Path: "a/b.vtt", Format: "vtt", Label: "Subtitles"}},
		{"language", "b.mp4", "a/b.en.srt", Subtitle{Path: "a/b.en.srt", Format: "srt", Lang: "en", Label: "en"}},
		{"three letters", "b.mp4", "b.deu.vtt", Subtitle{Path: "b.deu.vtt", Format: "vtt", Lang: "deu", Label: "deu"}},
		{"region", "b.mp4", "b.pt-BR.vtt", Subtitle{Path: "b.pt-BR.vtt", Format: "vtt", Lang: "pt-BR", Label: "pt-BR"}},
		{"script", "b.mp4", "b.zh-Hant.vtt", Subtitle{Path: "b.zh-Hant.vtt", Format: "vtt", Lang: "zh-Hant", Label: "zh-Hant"}},
		{"word label", "b.mp4", "b.Deutsch.srt", Subtitle{Path: "b.Deutsch.srt", Format: "srt", Label: "Deutsch"}},
		{"compound label", "b.mp4", "b.en.forced.vtt", Subtitle{Path: "b.en.forced.vtt", Format: "vtt", Label: "en.forced"}},
		{"upper-case extension", "b.mp4", "b.SRT", Subtitle{Path: "b.SRT", Format: "srt", Label: "Subtitles"}},
		{"bad region", "b.mp4", "b.en-x.vtt", Subtitle{Path: "b.en-x.vtt", Format: "vtt", Label: "en-x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeSubtitle(tt.video, tt.sub); got != tt.want {
				t.Fatalf("describeSubtitle(%q, %q) = %+v, want %+v", tt.video, tt.sub, got, tt.want)
			}
		})
	}
}
