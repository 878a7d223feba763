package transcode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"watchparty/engine/media"
	"watchparty/engine/transcode"
)

// TestSelectEncoder: the configured encoder is resolved against the real
// ffmpeg here (which lists h264_nvenc, h264_qsv and h264_vaapi but runs on
// a machine with no GPU): software stays software; a hardware encoder
// whose device node is missing, or whose trial encode fails on a device
// node that is no GPU, or that ffmpeg lacks, falls back to libx264 with the
// reason; auto tries each and says why none works.
func TestSelectEncoder(t *testing.T) {
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		t.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "renderD128") // present, but not a GPU
	if err := os.WriteFile(fake, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "none")
	noQSV := map[string]bool{}
	for k, v := range tl.Encoders {
		noQSV[k] = v && k != "h264_qsv"
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		probe      transcode.EncoderProbe
		fallback   []string // words of the reason, "" for none
	}{
		{name: "software", want: "software", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders}},
		{name: "libx264", want: "libx264", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders}},
		{name: "vaapi without a device", want: "vaapi", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders, Device: missing},
			fallback: []string{"h264_vaapi", "no device", missing}},
		{name: "vaapi on a device that is no GPU", want: "vaapi", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders, Device: fake},
			fallback: []string{"h264_vaapi", "trial encode failed"}},
		{name: "nvenc without a driver", want: "nvenc", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders, NVIDIADevice: missing},
			fallback: []string{"h264_nvenc", "no device"}},
		{name: "nvenc with no GPU", want: "nvenc", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders, NVIDIADevice: fake},
			fallback: []string{"h264_nvenc", "trial encode failed"}},
		{name: "qsv missing from ffmpeg", want: "qsv", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: noQSV, Device: fake},
			fallback: []string{"h264_qsv", "no such encoder"}},
		{name: "auto", want: "auto", probe: transcode.EncoderProbe{FFmpeg: tl.FFmpeg, Encoders: tl.Encoders, Device: fake, NVIDIADevice: missing},
			fallback: []string{"no hardware encoder works", "h264_nvenc", "no device", "h264_qsv", "h264_vaapi", "trial encode failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.probe.Select(ctx, tc.want)
			t.Logf("%s: %s (%s)", tc.want, got.Encoder, got.Fallback)
			if got.Encoder != transcode.EncoderSoftware {
				t.Fatalf("encoder %q, want libx264 on a machine without a GPU", got.Encoder)
			}
			if len(tc.fallback) == 0 && got.Fallback != "" {
				t.Fatalf("a fallback from software: %s", got.Fallback)
			}
			for _, w := range tc.fallback {
				if !strings.Contains(got.Fallback, w) {
					t.Errorf("reason %q lacks %q", got.Fallback, w)
				}
			}
		})
	}
}
