package transcode_test

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"testing"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/transcode"
)

// pixelAt decodes the frame at t seconds of an MPEG-TS video segment and
// returns the colour at x, y.
func pixelAt(t *testing.T, seg []byte, at string, x, y int) (r, g, b byte) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "pipe:0", "-ss", at, "-frames:v", "1",
		"-vf", "format=rgb24,crop=1:1:"+strconv.Itoa(x)+":"+strconv.Itoa(y), "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1")
	cmd.Stdin = bytes.NewReader(seg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) != 3 {
		t.Fatalf("decoding a frame of a segment: %v (%d bytes): %s", err, len(out), stderr.String())
	}
	return out[0], out[1], out[2]
}

func yellow(r, g, b byte) bool { return r > 180 && g > 180 && b < 100 }

// TestBurnInPictureSubtitle: a Matroska file with H.264 video and a PGS
// subtitle track plays remuxed (its video copied) as it is; with the PGS
// track burnt in it becomes a conversion of its own (another job and cache
// folder), and the subtitle's picture (a yellow box in the lower middle)
// is in the video.
func TestBurnInPictureSubtitle(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{180}}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.PGS, "film.mkv", mediatest.Spec{Seconds: 6, Width: 320, Height: 180})
	ctx := context.Background()
	plain, err := r.m.Describe(ctx, "film.mkv", -1)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Probed.Decision.Mode != media.Remux || len(plain.Renditions) != 1 || !plain.Renditions[0].Copy {
		t.Fatalf("without burn-in: %s, renditions %+v", plain.Probed.Decision.Mode, plain.Renditions)
	}
	subs := plain.Probed.Info.Subtitles()
	if len(subs) != 1 || subs[0].Codec != "hdmv_pgs_subtitle" || !transcode.PictureSubtitle(subs[0].Codec) {
		t.Fatalf("subtitle streams %+v, want one PGS", subs)
	}
	burn := subs[0].Index
	burnt, err := r.m.Describe(ctx, "film.mkv", burn)
	if err != nil {
		t.Fatal(err)
	}
	if len(burnt.Renditions) != 1 || burnt.Renditions[0].Copy || burnt.Renditions[0].Name != "180" {
		t.Fatalf("with burn-in, renditions %+v, want one conversion at 180", burnt.Renditions)
	}
	// Asking to burn in something that is not a picture subtitle fails.
	if _, err := r.m.Describe(ctx, "film.mkv", plain.Probed.Info.Video().Index); err == nil {
		t.Fatal("burning in the video stream was accepted")
	}

	src, err := r.segment(ctx, "R", transcode.Key{Path: "film.mkv", Rendition: "src", Burn: -1}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	drawn, err := r.segment(ctx, "R", transcode.Key{Path: "film.mkv", Rendition: "180", Burn: burn}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if codecs, _ := probeTS(t, drawn); codecs != "h264" {
		t.Fatalf("burnt-in video segment holds %q", codecs)
	}
	// The box covers x 80..240, y 135..165 from 0.5 s; at 200,150 (0.8 s) the
	// test picture is blue.
	if cr, cg, cb := pixelAt(t, src, "0.8", 200, 150); yellow(cr, cg, cb) {
		t.Fatalf("the copied video is already yellow at the box (%d,%d,%d)", cr, cg, cb)
	}
	if cr, cg, cb := pixelAt(t, drawn, "0.8", 200, 150); !yellow(cr, cg, cb) {
		t.Fatalf("the burnt-in video is (%d,%d,%d) where the subtitle's yellow box is", cr, cg, cb)
	}
}
