package media

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrNoFFmpeg means ffmpeg or ffprobe is not installed (or not where the
// configuration says): files play only as they are.
var ErrNoFFmpeg = errors.New("ffmpeg is not available")

// Tools are the ffmpeg and ffprobe programs the server runs, found once at
// start. A zero path means the program is missing; Missing says what to do.
type Tools struct {
	FFmpeg  string // absolute path, "" when missing
	FFprobe string // absolute path, "" when missing
	// Encoders are the H.264 encoders this ffmpeg has (libx264,
	// h264_vaapi, h264_nvenc, h264_qsv ...).
	Encoders map[string]bool
	// Version is ffmpeg's version line.
	Version string
	missing []string
}

// FindTools looks up ffmpeg and ffprobe: the configured paths when given
// (a bare name is looked up on PATH), "ffmpeg" and "ffprobe" on PATH
// otherwise. It never fails: what is missing is reported by Missing and
// Available.
func FindTools(ctx context.Context, ffmpeg, ffprobe string) *Tools {
	t := &Tools{Encoders: map[string]bool{}}
	look := func(name, configured string) string {
		if configured == "" {
			configured = name
		}
		p, err := exec.LookPath(configured)
		if err != nil {
			t.missing = append(t.missing, fmt.Sprintf("%s (%s)", name, configured))
			return ""
		}
		return p
	}
	t.FFmpeg = look("ffmpeg", ffmpeg)
	t.FFprobe = look("ffprobe", ffprobe)
	if t.FFmpeg == "" {
		return t
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a busy or small machine
	defer cancel()
	if out, err := exec.CommandContext(ctx, t.FFmpeg, "-hide_banner", "-version").Output(); err == nil {
		t.Version, _, _ = strings.Cut(string(out), "\n")
	}
	out, err := exec.CommandContext(ctx, t.FFmpeg, "-hide_banner", "-encoders").Output()
	if err != nil {
		t.missing = append(t.missing, "ffmpeg's encoder list ("+err.Error()+")")
		t.FFmpeg = ""
		return t
	}
	t.Encoders = parseEncoders(string(out))
	return t
}

// parseEncoders reads `ffmpeg -encoders` and keeps the H.264 video encoders
// and the AAC audio encoder.
func parseEncoders(out string) map[string]bool {
	enc := map[string]bool{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || len(f[0]) != 6 {
			continue
		}
		name := f[1]
		switch {
		case f[0][0] == 'V' && (name == "libx264" || strings.HasPrefix(name, "h264_")):
			enc[name] = true
		case f[0][0] == 'A' && name == "aac":
			enc[name] = true
		}
	}
	return enc
}

// Available reports whether both programs were found: probing, remuxing,
// transcoding, embedded subtitles and grabbed posters need them.
func (t *Tools) Available() bool { return t != nil && t.FFmpeg != "" && t.FFprobe != "" }

// Missing says what is missing and how to get it, or "" when nothing is.
func (t *Tools) Missing() string {
	if t == nil {
		return "ffmpeg and ffprobe are not configured: only files browsers play as they are can be watched"
	}
	if len(t.missing) == 0 {
		return ""
	}
	return "missing " + strings.Join(t.missing, " and ") +
		": only files browsers play as they are can be watched; install ffmpeg (apt-get install ffmpeg) or set media.ffmpeg and media.ffprobe"
}
