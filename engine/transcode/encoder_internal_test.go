package transcode

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"watchparty/engine/media"
)

// TestEncoderArgs: the command line of a converting run, per encoder: the
// hardware device, the filter chain (a burnt-in subtitle drawn before the
// upload to the GPU), the encoder and its keyframe at every segment start.
// A copied rendition opens no device.
func TestEncoderArgs(t *testing.T) {
	plan, _ := EvenPlan(10)
	base := runSpec{Plan: plan, End: plan.Len(), Rend: Rendition{Name: "720", Width: 1280, Height: 720, Kbps: 2800},
		Video: media.Stream{Index: 0, Width: 1920, Height: 1080}, Burn: -1, Device: "/dev/dri/renderD129", Dir: "/tmp/x"}
	for _, tc := range []struct {
		name, enc string
		burn      int
		want      []string // in order, each a run of arguments
		not       []string
	}{
		{name: "software", enc: EncoderSoftware, want: []string{"-vf scale=1280:720,format=yuv420p", "-c:v libx264 -preset veryfast -tune zerolatency", "-force_key_frames 0.000,1.000,2.000,3.000,4.000,6.000,8.000 "},
			not: []string{"-vaapi_device", "-qsv_device", "hwupload"}},
		{name: "vaapi", enc: EncoderVAAPI, want: []string{"-vaapi_device /dev/dri/renderD129", "-vf format=nv12,hwupload,scale_vaapi=w=1280:h=720", "-c:v h264_vaapi", "-force_key_frames"},
			not: []string{"libx264", "-qsv_device"}},
		{name: "vaapi burn-in", enc: EncoderVAAPI, burn: 3, want: []string{"-vaapi_device /dev/dri/renderD129", "-filter_complex [0:0][0:3]overlay,format=nv12,hwupload,scale_vaapi=w=1280:h=720[v] -map [v]", "-c:v h264_vaapi"}},
		{name: "nvenc", enc: EncoderNVENC, want: []string{"-vf scale=1280:720,format=yuv420p", "-c:v h264_nvenc -preset p4 -forced-idr 1", "-force_key_frames"},
			not: []string{"-vaapi_device", "-qsv_device", "libx264"}},
		{name: "qsv", enc: EncoderQSV, want: []string{"-qsv_device /dev/dri/renderD129", "-vf scale=1280:720,format=nv12", "-c:v h264_qsv -preset veryfast -forced_idr 1", "-force_key_frames"},
			not: []string{"-vaapi_device", "libx264"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Encoder = tc.enc
			if tc.burn > 0 {
				s.Burn = tc.burn
			}
			line := strings.Join(s.args(), " ")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(line[at:], w)
				if i < 0 {
					t.Fatalf("%q not found (in order) in\n%s", w, line)
				}
				at += i + len(w)
			}
			for _, n := range tc.not {
				if strings.Contains(line, n) {
					t.Errorf("%q in\n%s", n, line)
				}
			}
			// A run from a later segment: keyframes from its start on,
			// where the seek lands (not one on every frame up to it).
			mid := s
			mid.Index = 5
			if l := strings.Join(mid.args(), " "); !strings.Contains(l, "-ss 6.000000 ") || !strings.Contains(l, "-force_key_frames 6.000,8.000 ") {
				t.Errorf("a run from segment 5: %s", l)
			}
			cp := s
			cp.Rend = Rendition{Name: "src", Width: 1920, Height: 1080, Copy: true}
			if l := strings.Join(cp.args(), " "); strings.Contains(l, "_device") || !strings.Contains(l, "-c:v copy") {
				t.Errorf("a copied rendition: %s", l)
			}
		})
	}
}

// TestEncoderOptionsKnownToFFmpeg: every encoder-specific option (and
// preset name) a run passes is one this ffmpeg's encoder documents, and
// the hardware filters exist, so a machine with the hardware gets a
// command line ffmpeg accepts.
func TestEncoderOptionsKnownToFFmpeg(t *testing.T) {
	generic := map[string]bool{"-threads": true, "-b:v": true, "-maxrate": true, "-bufsize": true, "-force_key_frames": true, "-profile:v": true,
		"-x264-params": true, "-map": true, "-vf": true, "-filter_complex": true, "-c:v": true, "-g": true}
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		t.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	for _, enc := range []string{EncoderSoftware, EncoderVAAPI, EncoderNVENC, EncoderQSV} {
		name := EncoderName(enc)
		if !tl.Encoders[name] {
			t.Logf("this ffmpeg has no %s: its options are not checked", name)
			continue
		}
		help, err := exec.Command(tl.FFmpeg, "-hide_banner", "-h", "encoder="+name).Output()
		if err != nil {
			t.Fatal(err)
		}
		args := runSpec{Rend: Rendition{Width: 640, Height: 360, Kbps: 1200}, Video: media.Stream{Width: 1280, Height: 720}, Burn: -1, Encoder: enc}.videoEncode()
		for i := 0; i+1 < len(args); i += 2 {
			opt, val := args[i], args[i+1]
			if generic[opt] {
				continue
			}
			if !strings.Contains(string(help), "  "+opt+" ") {
				t.Errorf("%s has no option %s", name, opt)
			}
			// libx264's preset is free text; the hardware encoders list theirs.
			if opt == "-preset" && enc != EncoderSoftware && !strings.Contains(string(help), "     "+val+" ") {
				t.Errorf("%s has no preset %s", name, val)
			}
		}
		for _, f := range strings.Split(args[slices.Index(args, "-vf")+1], ",") {
			fname, _, _ := strings.Cut(f, "=")
			if out, err := exec.Command(tl.FFmpeg, "-hide_banner", "-h", "filter="+fname).Output(); err != nil || !strings.Contains(string(out), "Filter "+fname) {
				t.Errorf("%s: this ffmpeg has no filter %s", name, fname)
			}
		}
	}
}

// TestTrialEncodeSoftware: the trial encode that decides whether a
// hardware encoder works is a valid command: with libx264 it succeeds on
// this machine.
func TestTrialEncodeSoftware(t *testing.T) {
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		t.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	if err := (EncoderProbe{FFmpeg: tl.FFmpeg}).trial(context.Background(), EncoderSoftware); err != nil {
		t.Fatalf("a software trial encode: %v", err)
	}
}
