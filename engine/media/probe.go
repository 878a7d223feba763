package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on what a probe reads and keeps.
const (
	maxProbeOutput = 4 << 20 // bytes of ffprobe JSON
	maxStreams     = 64
	maxChapters    = 500
	maxTagRunes    = 200
	maxKeyframes   = 200_000
	probeTimeout   = 30 * time.Second
	// keyframeTimeout bounds the scan of a whole file's video packets.
	keyframeTimeout = 5 * time.Minute
)

// ErrUnreadable means ffprobe could not read the file as media; the
// wrapping message says why ("Invalid data found when processing input").
var ErrUnreadable = errors.New("the file could not be read as a video")

// Stream is one stream of a media file.
type Stream struct {
	Index     int     `json:"index"` // ffprobe's stream index
	Type      string  `json:"type"`  // video, audio, subtitle (others are dropped)
	Codec     string  `json:"codec"`
	Profile   string  `json:"profile,omitempty"`
	PixFmt    string  `json:"pixFmt,omitempty"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	FrameRate float64 `json:"fps,omitempty"`
	Channels  int     `json:"channels,omitempty"`
	Language  string  `json:"lang,omitempty"`
	Title     string  `json:"title,omitempty"`
	Default   bool    `json:"default,omitempty"`
	Forced    bool    `json:"forced,omitempty"`
	Bitrate   int64   `json:"bitrate,omitempty"`
}

// Chapter is a named part of a file.
type Chapter struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Title string  `json:"title,omitempty"`
}

// Info is what ffprobe says about a file.
type Info struct {
	Container string    `json:"container"` // ffprobe's format_name, e.g. "matroska,webm"
	Duration  float64   `json:"duration"`  // seconds
	Start     float64   `json:"start"`     // the first timestamp, seconds
	Bitrate   int64     `json:"bitrate,omitempty"`
	Streams   []Stream  `json:"streams"`
	Chapters  []Chapter `json:"chapters,omitempty"`
}

// Video is the first video stream that is not a cover picture, or nil.
func (in *Info) Video() *Stream {
	for i := range in.Streams {
		if in.Streams[i].Type == "video" {
			return &in.Streams[i]
		}
	}
	return nil
}

// Audio lists the audio streams in file order.
func (in *Info) Audio() []Stream { return in.byType("audio") }

// Subtitles lists the subtitle streams in file order.
func (in *Info) Subtitles() []Stream { return in.byType("subtitle") }

func (in *Info) byType(t string) []Stream {
	var out []Stream
	for _, s := range in.Streams {
		if s.Type == t {
			out = append(out, s)
		}
	}
	return out
}

// Stream returns the stream with ffprobe index i, or nil.
func (in *Info) Stream(i int) *Stream {
	for k := range in.Streams {
		if in.Streams[k].Index == i {
			return &in.Streams[k]
		}
	}
	return nil
}

// The parts of ffprobe's JSON that are read.
type probeJSON struct {
	Streams []struct {
		Index       int               `json:"index"`
		CodecName   string            `json:"codec_name"`
		CodecType   string            `json:"codec_type"`
		Profile     string            `json:"profile"`
		PixFmt      string            `json:"pix_fmt"`
		Width       int               `json:"width"`
		Height      int               `json:"height"`
		AvgFrame    string            `json:"avg_frame_rate"`
		RFrame      string            `json:"r_frame_rate"`
		Channels    int               `json:"channels"`
		BitRate     string            `json:"bit_rate"`
		Disposition map[string]int    `json:"disposition"`
		Tags        map[string]string `json:"tags"`
	} `json:"streams"`
	Chapters []struct {
		StartTime string            `json:"start_time"`
		EndTime   string            `json:"end_time"`
		Tags      map[string]string `json:"tags"`
	} `json:"chapters"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		StartTime  string `json:"start_time"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// ParseProbe reads the JSON of `ffprobe -print_format json -show_format
// -show_streams -show_chapters`. It keeps video, audio and subtitle streams
// (cover pictures are dropped), at most 64 streams and 500 chapters, and
// bounds every text. Input that is not such JSON, or describes no video, is
// an error.
func ParseProbe(data []byte) (Info, error) {
	if len(data) > maxProbeOutput {
		return Info{}, fmt.Errorf("%w: ffprobe said more than %d bytes", ErrUnreadable, maxProbeOutput)
	}
	var p probeJSON
	if err := json.Unmarshal(data, &p); err != nil {
		return Info{}, fmt.Errorf("%w: ffprobe's answer is not JSON: %w", ErrUnreadable, err)
	}
	in := Info{
		Container: cleanTag(p.Format.FormatName),
		Duration:  parseSeconds64(p.Format.Duration),
		Start:     parseSeconds64(p.Format.StartTime),
		Bitrate:   parseInt64(p.Format.BitRate),
		Streams:   []Stream{},
	}
	for _, s := range p.Streams {
		if len(in.Streams) == maxStreams {
			break
		}
		switch s.CodecType {
		case "video", "audio", "subtitle":
		default:
			continue
		}
		if s.CodecType == "video" && (s.Disposition["attached_pic"] == 1 || s.Disposition["still_image"] == 1) {
			continue
		}
		st := Stream{
			Index:     s.Index,
			Type:      s.CodecType,
			Codec:     cleanTag(s.CodecName),
			Profile:   cleanTag(s.Profile),
			PixFmt:    cleanTag(s.PixFmt),
			Width:     clampInt(s.Width, 0, 16384),
			Height:    clampInt(s.Height, 0, 16384),
			Channels:  clampInt(s.Channels, 0, 64),
			Bitrate:   parseInt64(s.BitRate),
			Default:   s.Disposition["default"] == 1,
			Forced:    s.Disposition["forced"] == 1,
			Language:  cleanLang(tag(s.Tags, "language")),
			Title:     cleanTag(tag(s.Tags, "title")),
			FrameRate: parseRate(s.AvgFrame),
		}
		if st.FrameRate == 0 {
			st.FrameRate = parseRate(s.RFrame)
		}
		if st.Codec == "" {
			st.Codec = "unknown"
		}
		in.Streams = append(in.Streams, st)
	}
	for _, c := range p.Chapters {
		if len(in.Chapters) == maxChapters {
			break
		}
		in.Chapters = append(in.Chapters, Chapter{Start: parseSeconds64(c.StartTime), End: parseSeconds64(c.EndTime), Title: cleanTag(tag(c.Tags, "title"))})
	}
	if in.Video() == nil {
		return Info{}, fmt.Errorf("%w: it has no video stream", ErrUnreadable)
	}
	return in, nil
}

// tag reads a tag case-insensitively (Matroska writes LANGUAGE, MP4 language).
func tag(tags map[string]string, name string) string {
	if v, ok := tags[name]; ok {
		return v
	}
	for k, v := range tags {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// cleanTag drops control and format characters and bounds the length, like
// titles from links.
func cleanTag(s string) string { return cleanTitle(s) }

// cleanLang keeps a language code ("eng", "de", "pt-BR") and drops
// anything else, including ffprobe's "und".
func cleanLang(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "und") || !isLangTag(s) {
		return ""
	}
	return s
}

func parseSeconds64(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e7 {
		return 0
	}
	return f
}

func parseInt64(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// parseRate reads "24000/1001" or "25".
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) {
		return 0
	}
	if ok {
		d, err := strconv.ParseFloat(den, 64)
		if err != nil || d <= 0 {
			return 0
		}
		n /= d
	}
	if n > 1000 {
		return 0
	}
	return math.Round(n*1000) / 1000
}

func clampInt(n, lo, hi int) int { return min(max(n, lo), hi) }

// Prober runs ffprobe on library files.
type Prober struct {
	Path string // ffprobe's path
}

// Probe describes the open file f. ffprobe reads it as the file descriptor
// it is given, never by a path or URL of its own choosing, so a file reached
// through the library's confined open is all it sees; the file protocol is
// the only one allowed.
func (p Prober) Probe(ctx context.Context, f *os.File) (Info, error) {
	if p.Path == "" {
		return Info{}, ErrNoFFmpeg
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := RunTool(ctx, p.Path, f, maxProbeOutput,
		"-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_chapters",
		"-protocol_whitelist", "file", "-i", InputFD)
	if err != nil {
		return Info{}, err
	}
	return ParseProbe(out)
}

// Keyframes lists the times (seconds from the file's start) of the video
// keyframes of f, for cutting a copied video stream into segments. It reads
// every video packet of the file (no decoding).
func (p Prober) Keyframes(ctx context.Context, f *os.File, in Info) ([]float64, error) {
	if p.Path == "" {
		return nil, ErrNoFFmpeg
	}
	v := in.Video()
	if v == nil {
		return nil, fmt.Errorf("%w: it has no video stream", ErrUnreadable)
	}
	ctx, cancel := context.WithTimeout(ctx, keyframeTimeout)
	defer cancel()
	out, err := RunTool(ctx, p.Path, f, 64<<20,
		"-v", "error", "-select_streams", strconv.Itoa(v.Index), "-show_entries", "packet=pts_time,flags",
		"-of", "csv=p=0", "-protocol_whitelist", "file", "-i", InputFD)
	if err != nil {
		return nil, err
	}
	return parseKeyframes(out, in.Start), nil
}

// parseKeyframes reads "pts_time,flags" lines, keeping keyframes (K in the
// flags) as times from start, sorted and without repeats.
func parseKeyframes(out []byte, start float64) []float64 {
	var kf []float64
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		ts, flags, ok := bytes.Cut(bytes.TrimSpace(line), []byte(","))
		if !ok || !bytes.Contains(flags, []byte("K")) {
			continue
		}
		t, err := strconv.ParseFloat(string(ts), 64)
		if err != nil || math.IsNaN(t) || math.IsInf(t, 0) {
			continue
		}
		t -= start
		if t < 0 {
			t = 0
		}
		kf = append(kf, t)
		if len(kf) == maxKeyframes {
			break
		}
	}
	slices.Sort(kf)
	out2 := kf[:0]
	for i, t := range kf {
		if i == 0 || t-out2[len(out2)-1] > 0.0005 {
			out2 = append(out2, t)
		}
	}
	return out2
}

// InputFD is how ffmpeg and ffprobe name the file they were handed as
// their first extra file descriptor.
const InputFD = "file:/dev/fd/3"

// RunTool runs a program with f as its file descriptor 3 and returns what it
// wrote to stdout (at most limit bytes). A failure carries the program's
// last line of stderr.
func RunTool(ctx context.Context, path string, f *os.File, limit int, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	if f != nil {
		cmd.ExtraFiles = []*os.File{f}
	}
	cmd.Stdin = nil
	var stdout limitedBuffer
	stdout.limit = limit
	var stderr limitedBuffer
	stderr.limit = 64 << 10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	SetProcessGroup(cmd)
	err := cmd.Run()
	if stdout.over {
		return nil, fmt.Errorf("%w: the answer is larger than %d bytes", ErrUnreadable, limit)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%w: it took too long to read (%w)", ErrUnreadable, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnreadable, LastLine(stderr.String(), err.Error()))
	}
	return stdout.Bytes(), nil
}

// LastLine is the last non-empty line of a program's error output, without
// the "[demuxer @ 0x...]" prefix and the input's name, or fallback.
func LastLine(stderr, fallback string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "[") {
			if _, rest, ok := strings.Cut(l, "] "); ok {
				l = rest
			}
		}
		l = strings.TrimPrefix(l, InputFD+": ")
		return cleanTitle(l)
	}
	return fallback
}

// limitedBuffer keeps at most limit bytes and notes when more came.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)
