package media

import (
	"fmt"
	"strings"
)

// Mode is how a library file reaches the browser.
type Mode string

// Playback modes, from cheapest to dearest.
const (
	// Direct serves the file as it is.
	Direct Mode = "direct"
	// Remux copies the video into HLS segments; audio the browser cannot
	// play is converted to AAC on the way.
	Remux Mode = "remux"
	// Transcode converts the video to H.264 (and the audio to AAC) in HLS
	// segments.
	Transcode Mode = "transcode"
)

// Decision is the playback decision for one file, with the reasons a person
// reads in the library ("HEVC video", "DTS audio").
type Decision struct {
	Mode    Mode     `json:"mode"`
	Reasons []string `json:"reasons,omitempty"`
	// CopyVideo: the video stream goes into the segments as it is.
	CopyVideo bool `json:"copyVideo,omitempty"`
}

// Reason joins the reasons for showing ("HEVC video, DTS audio").
func (d Decision) Reason() string { return strings.Join(d.Reasons, ", ") }

// codecName is the display name of a common codec (video ones here).
func codecName(name string) (string, bool) {
	switch name {
	case "h264":
		return "H.264", true
	case "hevc":
		return "HEVC", true
	case "vp8":
		return "VP8", true
	case "vp9":
		return "VP9", true
	case "av1":
		return "AV1", true
	case "mpeg2video":
		return "MPEG-2", true
	case "mpeg4":
		return "MPEG-4 Part 2", true
	case "msmpeg4v3":
		return "DivX 3", true
	case "vc1":
		return "VC-1", true
	case "wmv3":
		return "WMV", true
	case "theora":
		return "Theora", true
	}
	return audioOrSubtitleName(name)
}

// audioOrSubtitleName is the display name of a common audio or subtitle
// codec.
func audioOrSubtitleName(name string) (string, bool) {
	switch name {
	case "aac":
		return "AAC", true
	case "mp3":
		return "MP3", true
	case "opus":
		return "Opus", true
	case "vorbis":
		return "Vorbis", true
	case "flac":
		return "FLAC", true
	case "ac3":
		return "AC-3", true
	case "eac3":
		return "E-AC-3", true
	case "dts":
		return "DTS", true
	case "truehd":
		return "TrueHD", true
	case "mp2":
		return "MP2", true
	case "wmav2":
		return "WMA", true
	case "alac":
		return "ALAC", true
	case "subrip":
		return "SRT", true
	case "ass":
		return "ASS", true
	case "ssa":
		return "SSA", true
	case "webvtt":
		return "WebVTT", true
	case "mov_text":
		return "MP4 text", true
	case "hdmv_pgs_subtitle":
		return "PGS", true
	case "dvd_subtitle":
		return "VobSub", true
	case "dvb_subtitle":
		return "DVB", true
	}
	return "", false
}

// CodecName is a codec's display name.
func CodecName(codec string) string {
	if n, ok := codecName(codec); ok {
		return n
	}
	if strings.HasPrefix(codec, "pcm_") {
		return "PCM"
	}
	return strings.ToUpper(codec)
}

// browserVideo reports whether browsers decode the video stream: H.264 in
// 8-bit 4:2:0, VP8, VP9, AV1 and Theora. HEVC is left out: only some
// browsers on some hardware play it.
func browserVideo(s *Stream) bool {
	switch s.Codec {
	case "h264":
		return h264Plain(s)
	case "vp8", "vp9", "av1", "theora":
		return true
	}
	return false
}

// h264Plain: 8-bit 4:2:0 H.264, which every browser decodes (not High 10,
// 4:2:2 or 4:4:4).
func h264Plain(s *Stream) bool {
	switch s.PixFmt {
	case "yuv420p", "yuvj420p", "":
	default:
		return false
	}
	p := strings.ToLower(s.Profile)
	return !strings.Contains(p, "10") && !strings.Contains(p, "4:2:2") && !strings.Contains(p, "4:4:4")
}

// browserAudio: audio codecs browsers decode.
func browserAudio(codec string) bool {
	switch codec {
	case "aac", "mp3", "opus", "vorbis", "flac":
		return true
	}
	return false
}

// HLSAudioCopy reports whether an audio stream goes into MPEG-TS segments as
// it is (AAC and MP3); others are converted to AAC.
func HLSAudioCopy(codec string) bool { return codec == "aac" || codec == "mp3" }

// container families by ffprobe's format_name.
func containerOf(formatName string) string {
	switch {
	case strings.Contains(formatName, "mp4") || strings.Contains(formatName, "mov"):
		return "mp4"
	case strings.Contains(formatName, "matroska") || strings.Contains(formatName, "webm"):
		return "matroska"
	case formatName == "ogg":
		return "ogg"
	}
	return formatName
}

// containerName names a container in reasons.
func containerName(name string) (string, bool) {
	switch name {
	case "matroska":
		return "Matroska", true
	case "avi":
		return "AVI", true
	case "mpegts":
		return "MPEG-TS", true
	case "asf":
		return "ASF", true
	case "flv":
		return "FLV", true
	case "mpeg":
		return "MPEG-PS", true
	}
	return "", false
}

// Decide chooses how to play a probed file: direct when browsers play the
// container, the video and the one audio track as they are; remux when the
// video is H.264 a browser plays but the container, the audio, or a choice
// of several audio tracks is not something a <video> element offers;
// transcode when the video itself is not playable.
func Decide(in Info) Decision {
	v := in.Video()
	if v == nil {
		return Decision{Mode: Transcode, Reasons: []string{"no video stream"}}
	}
	audio := in.Audio()
	var reasons []string
	videoOK := browserVideo(v)
	if !videoOK {
		reasons = append(reasons, CodecName(v.Codec)+videoDetail(v)+" video")
	}
	audioOK := true
	for _, a := range audio {
		if !browserAudio(a.Codec) {
			audioOK = false
			r := CodecName(a.Codec) + " audio"
			if !contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	c := containerOf(in.Container)
	containerOK := false
	switch c {
	case "mp4":
		containerOK = v.Codec == "h264" || v.Codec == "vp9" || v.Codec == "av1"
	case "matroska":
		// Browsers play Matroska as WebM: VP8, VP9 or AV1 with Opus or Vorbis.
		containerOK = v.Codec == "vp8" || v.Codec == "vp9" || v.Codec == "av1"
		for _, a := range audio {
			if a.Codec != "opus" && a.Codec != "vorbis" {
				containerOK = false
			}
		}
	case "ogg":
		containerOK = v.Codec == "theora" || v.Codec == "vp8"
	}
	if !containerOK && videoOK && audioOK {
		name, _ := containerName(c)
		if name == "" {
			name = strings.ToUpper(c)
		}
		if c == "mp4" || c == "matroska" {
			reasons = append(reasons, CodecName(v.Codec)+" video in "+map[string]string{"mp4": "MP4", "matroska": "Matroska"}[c])
		} else {
			reasons = append(reasons, name+" container")
		}
	}
	if len(audio) > 1 {
		reasons = append(reasons, fmt.Sprintf("%d audio tracks", len(audio)))
	}
	switch {
	case videoOK && audioOK && containerOK && len(audio) <= 1:
		return Decision{Mode: Direct}
	case v.Codec == "h264" && h264Plain(v):
		return Decision{Mode: Remux, Reasons: reasons, CopyVideo: true}
	default:
		if videoOK && v.Codec != "h264" && len(reasons) == 0 {
			reasons = append(reasons, CodecName(v.Codec)+" video in segments")
		}
		return Decision{Mode: Transcode, Reasons: reasons}
	}
}

// videoDetail adds the bit depth to a reason ("H.264 10-bit video").
func videoDetail(s *Stream) string {
	if strings.Contains(s.PixFmt, "10") || strings.Contains(s.PixFmt, "12") {
		return " 10-bit"
	}
	if strings.Contains(s.PixFmt, "422") || strings.Contains(s.PixFmt, "444") {
		return " " + s.PixFmt
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
