// Package mediatest makes small media files with ffmpeg for tests: the
// kinds of files people keep in a home library (H.264 or HEVC in Matroska
// with AC-3, several audio languages, text and picture subtitles) and a
// corrupt one. Files are a few seconds long and small; each is made once per
// test binary and copied where a test wants it.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"watchparty/engine/media"
)

// Kind names a test file.
type Kind string

// The test files.
const (
	// MP4 is H.264 + AAC in MP4: browsers play it as it is.
	MP4 Kind = "h264-aac.mp4"
	// MP4MoovEnd is MP4 written without faststart, as phones and screen
	// recorders write it: the index (moov) after the media data (mdat).
	MP4MoovEnd Kind = "h264-aac-moov-end.mp4"
	// WebM is VP8 + Opus in WebM, as ffmpeg writes it by default: its
	// index (cues) after the media.
	WebM Kind = "vp8-opus.webm"
	// WebMCuesFront is WebM with its index before the media
	// (-cues_to_front).
	WebMCuesFront Kind = "vp8-opus-cues-front.webm"
	// H264AC3 is H.264 + AC-3 in Matroska: the video is copied, the
	// audio converted.
	H264AC3 Kind = "h264-ac3.mkv"
	// HEVC is HEVC + AAC in Matroska: the video is transcoded.
	HEVC Kind = "hevc-aac.mkv"
	// Tracks is H.264 in Matroska with two audio languages (English at
	// 440 Hz, German at 880 Hz) and two subtitle tracks (English SRT,
	// French ASS).
	Tracks Kind = "tracks.mkv"
	// PGS is H.264 + AAC in Matroska with a picture (PGS) subtitle track.
	PGS Kind = "pgs.mkv"
	// Corrupt is a file named like a video that holds no media.
	Corrupt Kind = "corrupt.mkv"
)

// Spec sets the size of generated files.
type Spec struct {
	Seconds int // length (default 4)
	Width   int // default 320
	Height  int // default 180
	FPS     int // default 25
	GOP     int // frames between keyframes of H.264 sources (default 2 s)
}

func (s Spec) norm() Spec {
	if s.Seconds <= 0 {
		s.Seconds = 4
	}
	if s.Width <= 0 {
		s.Width, s.Height = 320, 180
	}
	if s.FPS <= 0 {
		s.FPS = 25
	}
	if s.GOP <= 0 {
		s.GOP = 2 * s.FPS
	}
	return s
}

var cache struct { //nolint:gochecknoglobals // files made once for the whole test binary
	sync.Mutex
	dir   string
	files map[string]string
}

// Make writes a file of kind k (default size) into dir under name (k's own
// name when empty) and returns its path.
func Make(t testing.TB, dir string, k Kind, name string) string {
	return MakeSpec(t, dir, k, name, Spec{})
}

// MakeSpec is Make with a size.
func MakeSpec(t testing.TB, dir string, k Kind, name string, spec Spec) string {
	t.Helper()
	spec = spec.norm()
	src, err := cached(k, spec)
	if err != nil {
		t.Fatalf("mediatest: making %s: %v", k, err)
	}
	if name == "" {
		name = string(k)
	}
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func cached(k Kind, spec Spec) (string, error) {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir == "" {
		d, err := os.MkdirTemp("", "mediatest-")
		if err != nil {
			return "", err
		}
		cache.dir, cache.files = d, map[string]string{}
	}
	key := fmt.Sprintf("%dx%d-%ds-%dfps-g%d-%s", spec.Width, spec.Height, spec.Seconds, spec.FPS, spec.GOP, k)
	if p, ok := cache.files[key]; ok {
		return p, nil
	}
	p := filepath.Join(cache.dir, key)
	if err := build(k, spec, p); err != nil {
		return "", err
	}
	cache.files[key] = p
	return p, nil
}

// Cleanup removes the cached files; call it from TestMain.
func Cleanup() {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir != "" {
		os.RemoveAll(cache.dir)
		cache.dir = ""
	}
}

func ffmpeg(args ...string) error {
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffmpeg %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

func build(k Kind, s Spec, out string) error {
	dur := fmt.Sprint(s.Seconds)
	video := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", s.Width, s.Height, s.FPS)}
	tone := func(hz int) []string {
		return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000", hz)}
	}
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", fmt.Sprint(s.GOP), "-keyint_min", fmt.Sprint(s.GOP)}
	switch k {
	case MP4:
		args := append(append(video, tone(440)...), "-t", dur)
		args = append(append(args, x264...), "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "mp4", out)
		return ffmpeg(args...)
	case MP4MoovEnd:
		args := append(append(video, tone(440)...), "-t", dur)
		args = append(append(args, x264...), "-c:a", "aac", "-b:a", "64k", "-f", "mp4", out)
		return ffmpeg(args...)
	case WebM, WebMCuesFront:
		args := append(append(video, tone(440)...), "-t", dur,
			"-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8", "-g", fmt.Sprint(s.GOP),
			"-c:a", "libopus", "-b:a", "64k")
		if k == WebMCuesFront {
			args = append(args, "-cues_to_front", "1")
		}
		return ffmpeg(append(args, "-f", "webm", out)...)
	case H264AC3:
		args := append(append(video, tone(440)...), "-t", dur)
		args = append(append(args, x264...), "-c:a", "ac3", "-b:a", "96k", "-f", "matroska", out)
		return ffmpeg(args...)
	case HEVC:
		args := append(append(video, tone(440)...), "-t", dur,
			"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p",
			"-c:a", "aac", "-b:a", "64k", "-f", "matroska", out)
		return ffmpeg(args...)
	case Tracks:
		dir := filepath.Dir(out)
		srt := filepath.Join(dir, "tracks-en.srt")
		ass := filepath.Join(dir, "tracks-fr.ass")
		if err := os.WriteFile(srt, []byte(srtText(s.Seconds)), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(ass, []byte(assText(s.Seconds)), 0o644); err != nil {
			return err
		}
		args := append(append(append(video, tone(440)...), tone(880)...), "-i", srt, "-i", ass, "-t", dur,
			"-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map", "4:s")
		args = append(args, x264...)
		args = append(args, "-c:a", "aac", "-b:a", "64k", "-c:s:0", "srt", "-c:s:1", "ass",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English",
			"-metadata:s:a:1", "language=ger", "-metadata:s:a:1", "title=Deutsch",
			"-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre",
			"-disposition:a:0", "default", "-disposition:a:1", "0", "-f", "matroska", out)
		return ffmpeg(args...)
	case PGS:
		sup := filepath.Join(filepath.Dir(out), "pgs.sup")
		if err := os.WriteFile(sup, pgsFile(s.Width, s.Height, s.Seconds), 0o644); err != nil {
			return err
		}
		args := append(append(video, tone(440)...), "-t", dur)
		args = append(append(args, x264...), "-c:a", "aac", "-b:a", "64k", "-f", "matroska", out+".tmp.mkv")
		if err := ffmpeg(args...); err != nil {
			return err
		}
		defer os.Remove(out + ".tmp.mkv")
		return ffmpeg("-i", out+".tmp.mkv", "-i", sup, "-map", "0", "-map", "1", "-c", "copy",
			"-metadata:s:s:0", "language=eng", "-f", "matroska", out)
	case Corrupt:
		// A Matroska magic number followed by noise.
		data := append([]byte{0x1a, 0x45, 0xdf, 0xa3}, bytes.Repeat([]byte("not a video "), 2000)...)
		return os.WriteFile(out, data, 0o644)
	}
	return fmt.Errorf("unknown kind %q", k)
}

// srtText has one English line per second.
func srtText(seconds int) string {
	var b strings.Builder
	for i := 0; i < seconds; i++ {
		fmt.Fprintf(&b, "%d\n00:00:%02d,000 --> 00:00:%02d,900\nEnglish line %d\n\n", i+1, i, i, i+1)
	}
	return b.String()
}

// assText has one French line per second, with an override tag.
func assText(seconds int) string {
	var b strings.Builder
	b.WriteString("[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 180\n\n[V4+ Styles]\n" +
		"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n" +
		"Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1\n\n" +
		"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
	for i := 0; i < seconds; i++ {
		fmt.Fprintf(&b, "Dialogue: 0,0:00:%02d.00,0:00:%02d.90,Default,,0,0,0,,{\\i1}Ligne française %d{\\i0}\n", i, i, i+1)
	}
	return b.String()
}

// pgsFile writes a Blu-ray PGS subtitle stream (.sup) showing a solid box
// in the lower part of the picture from 0.5 s to the end.
func pgsFile(width, height, seconds int) []byte {
	var out bytes.Buffer
	seg := func(pts uint32, typ byte, body []byte) {
		out.WriteString("PG")
		binary.Write(&out, binary.BigEndian, pts)
		binary.Write(&out, binary.BigEndian, uint32(0))
		out.WriteByte(typ)
		binary.Write(&out, binary.BigEndian, uint16(len(body)))
		out.Write(body)
	}
	be16 := func(b *bytes.Buffer, v int) { binary.Write(b, binary.BigEndian, uint16(v)) }
	bw, bh := width/2, height/6
	x, y := width/4, height-bh-height/12
	show := func(pts uint32, objects bool, comp int) {
		var pcs bytes.Buffer
		be16(&pcs, width)
		be16(&pcs, height)
		pcs.WriteByte(0x10)
		be16(&pcs, comp)
		if objects {
			pcs.WriteByte(0x80) // epoch start
		} else {
			pcs.WriteByte(0x00)
		}
		pcs.WriteByte(0) // palette update
		pcs.WriteByte(0) // palette id
		if objects {
			pcs.WriteByte(1)
			be16(&pcs, 0)    // object id
			pcs.WriteByte(0) // window id
			pcs.WriteByte(0) // not cropped
			be16(&pcs, x)
			be16(&pcs, y)
		} else {
			pcs.WriteByte(0)
		}
		seg(pts, 0x16, pcs.Bytes())
		var wds bytes.Buffer
		wds.WriteByte(1)
		wds.WriteByte(0)
		be16(&wds, x)
		be16(&wds, y)
		be16(&wds, bw)
		be16(&wds, bh)
		seg(pts, 0x17, wds.Bytes())
		if objects {
			// Palette: entry 1 is opaque yellow (Y, Cr, Cb, A).
			seg(pts, 0x14, []byte{0, 0, 1, 210, 146, 16, 255})
			var rle bytes.Buffer
			for row := 0; row < bh; row++ {
				rle.Write([]byte{0x00, 0xC0 | byte(bw>>8), byte(bw), 0x01, 0x00, 0x00})
			}
			var ods bytes.Buffer
			be16(&ods, 0)
			ods.WriteByte(0)
			ods.WriteByte(0xC0)
			n := rle.Len() + 4
			ods.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
			be16(&ods, bw)
			be16(&ods, bh)
			ods.Write(rle.Bytes())
			seg(pts, 0x15, ods.Bytes())
		}
		seg(pts, 0x80, nil)
	}
	show(45000, true, 0)
	show(uint32(seconds)*90000-9000, false, 1)
	return out.Bytes()
}

// TopBoxes reads the top-level MP4 boxes of the file at path and returns
// them with the file's size; it fails t when the file cannot be read or a
// moov or an mdat is missing.
func TopBoxes(t testing.TB, path string) (media.TopBoxes, int64) {
	t.Helper()
	f, size := openSized(t, path)
	b, err := media.ReadTopBoxes(f, size)
	if err != nil || b.Moov.Size == 0 || b.Mdat.Size == 0 {
		t.Fatalf("%s: moov %+v, mdat %+v (%v)", path, b.Moov, b.Mdat, err)
	}
	return b, size
}

// EarlyTail is media.EarlyTail of the file at path: where a page asks for
// it from first. It fails t when the file has no such tail.
func EarlyTail(t testing.TB, path string) int64 {
	t.Helper()
	f, size := openSized(t, path)
	tail := media.EarlyTail(f, size)
	if tail <= 0 {
		t.Fatalf("%s has no tail to load first", path)
	}
	return tail
}

// openSized opens the file at path and returns it with its size; it is
// closed when t ends.
func openSized(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, info.Size()
}
