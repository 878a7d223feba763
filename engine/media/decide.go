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

// codecNames are the display names of common codecs.
var codecNames = map[string]string{
	"h264": "H.264", "hevc": "HEVC", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "mpeg2video": "MPEG-2",
	"mpeg4": "MPEG-4 Part 2", "msmpeg4v3": "DivX 3", "vc1": "VC-1", "wmv3": "WMV", "theora": "Theora",
	"aac": "AAC", "mp3": "MP3", "opus": "Opus", "vorbis": "Vorbis", "flac": "FLAC", "ac3": "AC-3",
	"eac3": "E-AC-3", "dts": "DTS", "truehd": "TrueHD", "mp2": "MP2", "wmav2": "WMA", "alac": "ALAC",
	"subrip": "SRT", "ass": "ASS", "ssa": "SSA", "webvtt": "WebVTT", "mov_text": "MP4 text",
	"hdmv_pgs_subtitle": "PGS", "dvd_subtitle": "VobSub", "dvb_subtitle": "DVB",
}

// CodecName is a codec's display name.
func CodecName(codec string) string {
	if n, ok := codecNames[codec]; ok {
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

// containerNames name containers in reasons.
var containerNames = map[string]string{
	"matroska": "Matroska", "avi": "AVI", "mpegts": "MPEG-TS", "asf": "ASF", "flv": "FLV", "mpeg": "MPEG-PS",
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
		name := containerNames[c]
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
