package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParseLink(f *testing.F) {
	for _, s := range []string{
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s",
		"youtu.be/dQw4w9WgXcQ?si=x",
		"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=5",
		"https://example.org/a%20b.mp4#t=npt:1:02:03,4",
		"https://example.org/live.m3u8?x=1",
		"media:films/a.mp4",
		"javascript:alert(1)",
		"https://u:p@example.org/a.mp4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		src, err := ParseLink(raw)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedLink) {
				t.Fatalf("error %v does not wrap ErrUnsupportedLink", err)
			}
			if src != (Source{}) {
				t.Fatalf("error with non-zero source %+v", src)
			}
			return
		}
		if src.URL == "" || len(src.URL) > MaxLinkBytes {
			t.Fatalf("bad URL %q", src.URL)
		}
		if math.IsNaN(src.Start) || src.Start < 0 || src.Start > MaxStartSeconds {
			t.Fatalf("bad start %v", src.Start)
		}
		if !utf8.ValidString(src.Title) || strings.IndexFunc(src.Title, unicode.IsControl) >= 0 {
			t.Fatalf("bad title %q", src.Title)
		}
		switch src.Kind {
		case KindYouTube:
			if !validVideoID(src.VideoID) || src.URL != "https://www.youtube.com/watch?v="+src.VideoID {
				t.Fatalf("bad YouTube source %+v", src)
			}
		case KindFile, KindHLS:
			if !strings.HasPrefix(src.URL, "https://") && !strings.HasPrefix(src.URL, "http://") {
				t.Fatalf("direct source with URL %q", src.URL)
			}
			if strings.Contains(src.URL, "#") {
				t.Fatalf("fragment left in %q", src.URL)
			}
		case KindLibrary:
			if checkRelPath(src.Path) != nil || src.URL != LibraryPrefix+src.Path {
				t.Fatalf("bad library source %+v", src)
			}
		default:
			t.Fatalf("unknown kind %q", src.Kind)
		}
		again, err := ParseLink(src.URL)
		if err != nil {
			t.Fatalf("canonical %q does not parse: %v", src.URL, err)
		}
		if again.Kind != src.Kind || again.URL != src.URL || again.VideoID != src.VideoID || again.Path != src.Path {
			t.Fatalf("canonical %q parses to %+v, first %+v", src.URL, again, src)
		}
	})
}

func FuzzSRTToVTT(f *testing.F) {
	f.Add([]byte(sampleSRT))
	f.Add([]byte("1\n00:00:00,000 --> 00:00:01,000\nA\n\nB\n"))
	f.Add([]byte("00:01,5 --> 00:02,25\r-->\r"))
	f.Add([]byte("1\n00:00:02,000 --> 00:00:01,000\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		err := SRTToVTT(bytes.NewReader(in), &out)
		if err != nil {
			if !errors.Is(err, ErrMalformedSubtitle) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if out.Len() != 0 {
				t.Fatalf("failed conversion wrote output")
			}
			return
		}
		vtt := out.String()
		if !utf8.ValidString(vtt) {
			t.Fatalf("output is not UTF-8")
		}
		if strings.ContainsAny(vtt, "\r\x00") {
			t.Fatalf("output holds CR or NUL: %q", vtt)
		}
		body, ok := strings.CutPrefix(vtt, "WEBVTT\n")
		if !ok {
			t.Fatalf("output lacks header: %q", vtt)
		}
		if body == "" {
			return
		}
		// Every block is "\n" + timing line + text lines, none blank.
		blocks := strings.Split(strings.TrimPrefix(body, "\n"), "\n\n")
		for _, b := range blocks {
			lines := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
			if !validVTTTiming(lines[0]) {
				t.Fatalf("bad timing line %q in %q", lines[0], vtt)
			}
			for _, l := range lines[1:] {
				if strings.TrimSpace(l) == "" || strings.Contains(l, "-->") {
					t.Fatalf("bad cue text line %q in %q", l, vtt)
				}
			}
		}
	})
}

// validVTTTiming checks "hh:mm:ss.mmm --> hh:mm:ss.mmm" with start <= end.
func validVTTTiming(line string) bool {
	a, b, ok := strings.Cut(line, " --> ")
	if !ok {
		return false
	}
	parse := func(s string) (int64, bool) {
		clock, ms, ok := strings.Cut(s, ".")
		parts := strings.Split(clock, ":")
		if !ok || len(ms) != 3 || len(parts) != 3 || len(parts[0]) < 2 || len(parts[1]) != 2 || len(parts[2]) != 2 {
			return 0, false
		}
		var total int64
		for _, p := range append(parts, ms) {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 {
				return 0, false
			}
			total = total*1000 + n
		}
		return total, true
	}
	start, ok1 := parse(a)
	end, ok2 := parse(b)
	return ok1 && ok2 && start <= end
}

func FuzzOpenPath(f *testing.F) {
	lib, outside := fixture(f)
	l, err := NewLibrary(lib)
	if err != nil {
		f.Fatal(err)
	}
	realRoot, err := filepath.EvalSymlinks(lib)
	if err != nil {
		f.Fatal(err)
	}
	// The regular files really inside the library, and those outside it.
	var inside, forbidden []fs.FileInfo
	collect := func(dir string, into *[]fs.FileInfo) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				info, err := os.Stat(p)
				if err != nil {
					return err
				}
				*into = append(*into, info)
			}
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	collect(lib, &inside)
	collect(outside, &forbidden)

	for _, s := range []string{
		"films/Night.mp4", "link-inside.mp4", "link-outside.mp4", "linkdir/leak.mp4",
		"../outside/leak.mp4", "%2e%2e/outside/leak.mp4", `..\outside\leak.mp4`,
		"films/loop/films/loop/Intro.webm", ".hidden/secret.mp4", "/etc/passwd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		file, info, err := l.Open(rel)
		if err != nil {
			if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Open(%q) error %v wraps neither ErrForbidden nor ErrNotFound", rel, err)
			}
			return
		}
		defer file.Close()
		for _, o := range forbidden {
			if os.SameFile(info, o) {
				t.Fatalf("Open(%q) reached %s outside the library", rel, o.Name())
			}
		}
		ok := false
		for _, in := range inside {
			ok = ok || os.SameFile(info, in)
		}
		if !ok {
			t.Fatalf("Open(%q) returned a file that is not in the library", rel)
		}
		if target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(file.Fd()))); err == nil {
			if !strings.HasPrefix(target, realRoot+string(filepath.Separator)) {
				t.Fatalf("Open(%q) opened %s, outside %s", rel, target, realRoot)
			}
		}
		if checkRelPath(rel) != nil {
			t.Fatalf("Open(%q) succeeded for a path the rules refuse", rel)
		}
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r     io.ReaderAt
	bytes int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes += int64(n)
	return n, err
}

func FuzzReadTopBoxes(f *testing.F) {
	box := func(typ string, size uint32, body int) []byte {
		b := binary.BigEndian.AppendUint32(nil, size)
		return append(append(b, typ...), make([]byte, body)...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(box("ftyp", 16, 8), box("moov", 24, 16), box("mdat", 40, 32)))
	f.Add(cat(box("ftyp", 16, 8), box("mdat", 40, 32), box("moov", 24, 16)))
	f.Add(cat(box("ftyp", 16, 8), box("mdat", 0, 32)))
	f.Add(cat(box("ftyp", 16, 8), box("mdat", 1, 0), binary.BigEndian.AppendUint64(nil, 24), box("moov", 8, 0)))
	f.Add(cat(box("ftyp", 16, 8), box("mdat", 1, 0), binary.BigEndian.AppendUint64(nil, math.MaxUint64)))
	f.Add(cat(box("free", 4, 0), box("moov", 8, 0)))
	f.Add(cat(box("ftyp", 16, 8), box("mdat", 1<<20, 10)))
	f.Add(cat(box("ftyp", 16, 8), box("free", 8, 0), box("mdat", 40000, 39992), box("moov", 24, 16)))
	f.Add([]byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81})
	f.Add(bytes.Repeat(box("free", 8, 0), 2000))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReader{r: bytes.NewReader(data)}
		size := int64(len(data))
		b, err := ReadTopBoxes(r, size)
		if err != nil && !errors.Is(err, ErrMalformedBox) {
			t.Fatalf("error %v does not wrap ErrMalformedBox", err)
		}
		if b.Read < 0 || b.Read > maxTopBoxes || r.bytes > 16*maxTopBoxes {
			t.Fatalf("read %d boxes, %d bytes; at most %d headers of 16 bytes", b.Read, r.bytes, maxTopBoxes)
		}
		for _, x := range []struct {
			box Box
			typ string
		}{{b.Moov, "moov"}, {b.Mdat, "mdat"}} {
			if x.box == (Box{}) {
				continue
			}
			if x.box.Type != x.typ || x.box.Offset < 0 || x.box.Size < 8 || x.box.Size > size-x.box.Offset ||
				string(data[x.box.Offset+4:x.box.Offset+8]) != x.typ {
				t.Fatalf("%s box %+v in a file of %d bytes", x.typ, x.box, size)
			}
		}
		if b.Moov.Size > 0 && b.Mdat.Size > 0 && (b.Moov.Offset < b.Mdat.Offset+b.Mdat.Size && b.Mdat.Offset < b.Moov.Offset+b.Moov.Size) {
			t.Fatalf("moov %+v and mdat %+v overlap", b.Moov, b.Mdat)
		}
		tail := b.EarlyTail(size)
		if tail == 0 {
			return
		}
		if tail < 0 || tail%tailBlock != 0 || tail > b.Moov.Offset || b.Moov.Offset-tail >= tailBlock ||
			size-tail > MaxEarlyTail || b.Moov.Offset < b.Mdat.Offset {
			t.Fatalf("early tail from %d for moov %+v, mdat %+v in %d bytes", tail, b.Moov, b.Mdat, size)
		}
	})
}
