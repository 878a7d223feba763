package transcode

import (
	"fmt"
	"strconv"
	"strings"

	"watchparty/engine/media"
)

// Encoders a configuration may choose for H.264 video.
const (
	EncoderSoftware = "libx264"
	EncoderVAAPI    = "vaapi"
	EncoderNVENC    = "nvenc"
	EncoderQSV      = "qsv"
)

// EncoderName is the ffmpeg encoder behind a configured name.
func EncoderName(enc string) string {
	switch enc {
	case EncoderVAAPI:
		return "h264_vaapi"
	case EncoderNVENC:
		return "h264_nvenc"
	case EncoderQSV:
		return "h264_qsv"
	}
	return "libx264"
}

// runSpec is one ffmpeg run: from segment Index of a plan, for a window of
// segments, into Dir.
type runSpec struct {
	Plan      Plan
	Index     int // first segment
	End       int // one past the last segment of this run
	Rend      Rendition
	Video     media.Stream
	Audio     []media.Stream
	Burn      int // stream index of a picture subtitle drawn into the video, or -1
	Encoder   string
	Preset    string
	Device    string // VAAPI render node
	Dir       string
	Threads   int
	Realtime  bool // read at most at the speed of playback (tests)
	InputName string
}

func fmtTime(t float64) string { return strconv.FormatFloat(t, 'f', 6, 64) }

// videoName and audioName are the file names ffmpeg writes segments to.
func videoName(i int) string        { return fmt.Sprintf("v%05d.ts", i) }
func audioName(track, i int) string { return fmt.Sprintf("a%d_%05d.ts", track, i) }
func videoPattern() string          { return "v%05d.ts" }
func audioPattern(track int) string { return fmt.Sprintf("a%d_%%05d.ts", track) }
func segmentTimes(s runSpec) string { return joinTimes(s.Plan.Starts[s.Index+1 : s.End]) }
func joinTimes(ts []float64) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.FormatFloat(t, 'f', 3, 64)
	}
	return strings.Join(parts, ",")
}

// args builds ffmpeg's command line. The input is the file descriptor the
// caller hands over (media.InputFD) and only the file protocol is allowed,
// so ffmpeg reads that file and nothing else. Timestamps are kept from the
// source (shifted to start at zero) so that segments from any run line up.
func (s runSpec) args() []string {
	a := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if s.Threads > 0 {
		a = append(a, "-threads", strconv.Itoa(s.Threads))
	}
	if !s.Rend.Copy {
		a = append(a, s.deviceArgs()...)
	}
	if s.Realtime {
		a = append(a, "-re")
	}
	if start := s.Plan.Starts[s.Index]; start > 0 {
		if s.Rend.Copy {
			// Just past the keyframe the segment starts at, so the seek
			// lands on it and not on the one before.
			start += 0.0005
		}
		a = append(a, "-ss", fmtTime(start))
	}
	input := s.InputName
	if input == "" {
		input = media.InputFD
	}
	a = append(a, "-copyts", "-start_at_zero", "-protocol_whitelist", "file", "-i", input)
	seg := func(delta string) []string {
		out := []string{"-f", "segment", "-segment_format", "mpegts", "-segment_start_number", strconv.Itoa(s.Index),
			"-muxdelay", "0", "-muxpreload", "0", "-max_muxing_queue_size", "2048"}
		if s.End > s.Index+1 {
			out = append(out, "-segment_times", segmentTimes(s))
		} else {
			out = append(out, "-segment_time", "100000")
		}
		if delta != "" {
			out = append(out, "-segment_time_delta", delta)
		}
		return out
	}

	// Video.
	if s.Rend.Copy {
		a = append(a, "-map", "0:"+strconv.Itoa(s.Video.Index), "-c:v", "copy")
	} else {
		a = append(a, s.videoEncode()...)
	}
	a = append(a, "-an", "-sn", "-dn")
	a = append(a, seg("0.1")...)
	a = append(a, s.Dir+"/"+videoPattern())

	// One output per audio track.
	for i, t := range s.Audio {
		a = append(a, "-map", "0:"+strconv.Itoa(t.Index), "-vn", "-sn", "-dn")
		if media.HLSAudioCopy(t.Codec) {
			a = append(a, "-c:a", "copy")
		} else {
			a = append(a, "-c:a", "aac", "-ac", "2", "-b:a", "128k")
		}
		a = append(a, seg("")...)
		a = append(a, s.Dir+"/"+audioPattern(i))
	}
	return a
}

// deviceArgs open the hardware device of a VAAPI or QSV encoder (a render
// node); NVENC finds its GPU itself.
func (s runSpec) deviceArgs() []string {
	dev := s.Device
	if dev == "" {
		dev = "/dev/dri/renderD128"
	}
	switch s.Encoder {
	case EncoderVAAPI:
		return []string{"-vaapi_device", dev}
	case EncoderQSV:
		return []string{"-qsv_device", dev}
	}
	return nil
}

// videoEncode is the video part of a transcode: scaling (and a burnt-in
// subtitle), the encoder, its rate and a keyframe exactly at every segment
// start.
func (s runSpec) videoEncode() []string {
	r := s.Rend
	v := s.Video
	var chain []string
	needScale := r.Height != v.Height || r.Width != v.Width || v.Width%2 != 0 || v.Height%2 != 0
	scale := fmt.Sprintf("scale=%d:%d", r.Width, r.Height)
	switch s.Encoder {
	case EncoderVAAPI:
		chain = append(chain, "format=nv12", "hwupload")
		if needScale {
			chain = append(chain, fmt.Sprintf("scale_vaapi=w=%d:h=%d", r.Width, r.Height))
		}
	case EncoderQSV:
		if needScale {
			chain = append(chain, scale)
		}
		chain = append(chain, "format=nv12")
	default:
		if needScale {
			chain = append(chain, scale)
		}
		chain = append(chain, "format=yuv420p")
	}
	var a []string
	if s.Burn >= 0 {
		fc := fmt.Sprintf("[0:%d][0:%d]overlay,%s[v]", v.Index, s.Burn, strings.Join(chain, ","))
		a = append(a, "-filter_complex", fc, "-map", "[v]")
	} else {
		a = append(a, "-map", "0:"+strconv.Itoa(v.Index), "-vf", strings.Join(chain, ","))
	}
	kbps := r.Kbps
	rate := []string{"-b:v", strconv.Itoa(kbps) + "k", "-maxrate", strconv.Itoa(kbps*3/2) + "k", "-bufsize", strconv.Itoa(kbps*2) + "k"}
	// A keyframe at each segment start of this run, named by time: an
	// expression on t would count keyframes from the file's start and,
	// after a seek, force one on every frame until it caught up.
	var keys []string
	if s.End > s.Index {
		keys = []string{"-force_key_frames", joinTimes(s.Plan.Starts[s.Index:s.End])}
	}
	switch s.Encoder {
	case EncoderVAAPI:
		a = append(a, "-c:v", "h264_vaapi", "-g", "1000")
	case EncoderNVENC:
		a = append(a, "-c:v", "h264_nvenc", "-preset", "p4", "-forced-idr", "1", "-g", "1000")
	case EncoderQSV:
		a = append(a, "-c:v", "h264_qsv", "-preset", "veryfast", "-forced_idr", "1", "-g", "1000")
	default:
		preset := s.Preset
		if preset == "" {
			preset = "veryfast"
		}
		// zerolatency: no B-frames, no lookahead and slice threads, so that
		// a segment is out as soon as its last frame is encoded (members
		// wait for the first one), at a small cost in compression.
		a = append(a, "-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-profile:v", "high",
			"-x264-params", "scenecut=0:open-gop=0:keyint=1000:min-keyint=1")
	}
	if s.Threads > 0 {
		a = append(a, "-threads", strconv.Itoa(s.Threads)) // the encoder's (the one before -i is the decoder's)
	}
	a = append(a, rate...)
	return append(a, keys...)
}
