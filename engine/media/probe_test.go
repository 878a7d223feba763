package media_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mediatest.Cleanup()
	os.Exit(code)
}

func tools(t *testing.T) *media.Tools {
	t.Helper()
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		t.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	return tl
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil, store.Options{MinFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// countingProbe is ffprobe behind a script that notes each run in a file.
func countingProbe(t testing.TB, real string) (path, log string) {
	dir := t.TempDir()
	log = filepath.Join(dir, "runs")
	path = filepath.Join(dir, "ffprobe")
	script := "#!/bin/sh\necho run >> " + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func runs(t testing.TB, log string) int {
	data, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run")
}

func TestProbeAndDecide(t *testing.T) {
	tl := tools(t)
	dir := t.TempDir()
	for _, k := range []mediatest.Kind{mediatest.MP4, mediatest.H264AC3, mediatest.HEVC, mediatest.Tracks, mediatest.PGS, mediatest.Corrupt} {
		mediatest.Make(t, dir, k, "")
	}
	lib, err := media.NewLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat := media.NewCatalog(lib, tl.FFprobe, media.NewBadger(openStore(t)))
	tests := []struct {
		name    string
		file    mediatest.Kind
		mode    media.Mode
		reasons string
		check   func(t *testing.T, in *media.Info)
	}{
		{name: "mp4 h264 aac plays as it is", file: mediatest.MP4, mode: media.Direct,
			check: func(t *testing.T, in *media.Info) {
				if v := in.Video(); v.Codec != "h264" || v.Width != 320 || v.Height != 180 || v.FrameRate != 25 {
					t.Errorf("video %+v", *v)
				}
				if in.Duration < 3.9 || in.Duration > 4.2 || !strings.Contains(in.Container, "mp4") {
					t.Errorf("duration %v container %q", in.Duration, in.Container)
				}
			}},
		{name: "mkv h264 ac3 is remuxed with its audio converted", file: mediatest.H264AC3, mode: media.Remux, reasons: "AC-3 audio"},
		{name: "mkv hevc is transcoded", file: mediatest.HEVC, mode: media.Transcode, reasons: "HEVC video"},
		{name: "two audio languages need segments", file: mediatest.Tracks, mode: media.Remux, reasons: "H.264 video in Matroska, 2 audio tracks",
			check: func(t *testing.T, in *media.Info) {
				a, s := in.Audio(), in.Subtitles()
				if len(a) != 2 || a[0].Language != "eng" || a[1].Language != "ger" || !a[0].Default || a[1].Default || a[1].Title != "Deutsch" {
					t.Errorf("audio %+v", a)
				}
				if len(s) != 2 || s[0].Codec != "subrip" || s[0].Language != "eng" || s[1].Codec != "ass" || s[1].Language != "fre" {
					t.Errorf("subtitles %+v", s)
				}
			}},
		{name: "picture subtitles are listed", file: mediatest.PGS, mode: media.Remux, reasons: "H.264 video in Matroska",
			check: func(t *testing.T, in *media.Info) {
				if s := in.Subtitles(); len(s) != 1 || s[0].Codec != "hdmv_pgs_subtitle" {
					t.Errorf("subtitles %+v", s)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := cat.Describe(context.Background(), string(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if p.Decision.Mode != tc.mode || p.Decision.Reason() != tc.reasons {
				t.Errorf("decision %s (%q), want %s (%q)", p.Decision.Mode, p.Decision.Reason(), tc.mode, tc.reasons)
			}
			if tc.check != nil {
				tc.check(t, p.Info)
			}
		})
	}
	t.Run("corrupt file", func(t *testing.T) {
		_, err := cat.Describe(context.Background(), string(mediatest.Corrupt))
		if !errors.Is(err, media.ErrUnreadable) || !strings.Contains(err.Error(), "Invalid data") {
			t.Fatalf("corrupt file: %v", err)
		}
		// The others still describe.
		if _, err := cat.Describe(context.Background(), string(mediatest.MP4)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCatalogProbesOnce(t *testing.T) {
	tl := tools(t)
	dir := t.TempDir()
	file := mediatest.Make(t, dir, mediatest.HEVC, "film.mkv")
	mediatest.Make(t, dir, mediatest.Corrupt, "broken.mkv")
	probe, log := countingProbe(t, tl.FFprobe)
	lib, _ := media.NewLibrary(dir)
	st := openStore(t)
	cat := media.NewCatalog(lib, probe, media.NewBadger(st))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := cat.Describe(ctx, "film.mkv"); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.Describe(ctx, "broken.mkv"); !errors.Is(err, media.ErrUnreadable) {
			t.Fatalf("broken: %v", err)
		}
	}
	if n := runs(t, log); n != 2 {
		t.Fatalf("ffprobe ran %d times for two files asked three times each", n)
	}
	// A new catalog on the same store (a restart) probes nothing.
	cat2 := media.NewCatalog(lib, probe, media.NewBadger(st))
	if p, err := cat2.Describe(ctx, "film.mkv"); err != nil || p.Decision.Mode != media.Transcode {
		t.Fatalf("after restart: %+v %v", p, err)
	}
	if n := runs(t, log); n != 2 {
		t.Fatalf("ffprobe ran again after a restart (%d runs)", n)
	}
	// A changed file is probed again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := cat2.Describe(ctx, "film.mkv"); err != nil {
		t.Fatal(err)
	}
	if n := runs(t, log); n != 3 {
		t.Fatalf("a changed file was not probed again (%d runs)", n)
	}
}

func TestKeyframes(t *testing.T) {
	tl := tools(t)
	dir := t.TempDir()
	mediatest.MakeSpec(t, dir, mediatest.H264AC3, "", mediatest.Spec{Seconds: 6, GOP: 25})
	lib, _ := media.NewLibrary(dir)
	cat := media.NewCatalog(lib, tl.FFprobe, media.NewBadger(openStore(t)))
	kf, err := cat.Keyframes(context.Background(), string(mediatest.H264AC3))
	if err != nil {
		t.Fatal(err)
	}
	if len(kf) != 6 {
		t.Fatalf("keyframes %v, want one a second", kf)
	}
	for i, x := range kf {
		if x < float64(i)-0.05 || x > float64(i)+0.05 {
			t.Fatalf("keyframe %d at %v", i, x)
		}
	}
}

// TestCatalogSharesKeyframeScans: members starting one video at once ask
// for its keyframes together, and one ffprobe scan answers them all; a
// member who goes away while the scan runs does not fail the others.
func TestCatalogSharesKeyframeScans(t *testing.T) {
	tl := tools(t)
	dir := t.TempDir()
	mediatest.MakeSpec(t, dir, mediatest.H264AC3, "film.mkv", mediatest.Spec{Seconds: 6, GOP: 25})
	// Scans wait for the gate file, so that every caller arrives while
	// one runs (at most 30 s, should the test stop early).
	gate := filepath.Join(t.TempDir(), "gate")
	log := filepath.Join(t.TempDir(), "scans")
	probe := filepath.Join(t.TempDir(), "ffprobe")
	script := "#!/bin/sh\ncase \"$*\" in *packet=*)\n  echo run >> " + log + "\n  i=0; while [ ! -e " + gate + " ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done;;\nesac\nexec " + tl.FFprobe + " \"$@\"\n"
	if err := os.WriteFile(probe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lib, _ := media.NewLibrary(dir)
	cat := media.NewCatalog(lib, probe, media.NewBadger(openStore(t)))
	if _, err := cat.Describe(context.Background(), "film.mkv"); err != nil {
		t.Fatal(err)
	}
	scans := func(n int) {
		t.Helper()
		for i := 0; runs(t, log) < n; i++ {
			if i > 3000 {
				t.Fatalf("%d keyframe scans started, want %d", runs(t, log), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The first caller goes away while its scan runs; three others wait.
	first, leave := context.WithCancel(context.Background())
	type answer struct {
		kf  []float64
		err error
	}
	answers := make(chan answer, 4)
	ask := func(ctx context.Context) {
		kf, err := cat.Keyframes(ctx, "film.mkv")
		answers <- answer{kf, err}
	}
	go ask(first)
	scans(1)
	for range 3 {
		go ask(context.Background())
	}
	// The three join the running scan (a second caller that found no run
	// would start its own scan, and the log would show it).
	time.Sleep(100 * time.Millisecond)
	if n := runs(t, log); n != 1 {
		t.Fatalf("%d keyframe scans for one file asked by four callers at once", n)
	}
	leave()
	if a := <-answers; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("the caller who left got %v, %v", a.kf, a.err)
	}
	// One of the three scans again, for them all.
	scans(2)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if a := <-answers; a.err != nil || len(a.kf) != 6 {
			t.Fatalf("a waiting caller got %v, %v", a.kf, a.err)
		}
	}
	if n := runs(t, log); n != 2 {
		t.Fatalf("%d keyframe scans, want the one left and one more", n)
	}
	// Now stored: asking again scans nothing.
	if _, err := cat.Keyframes(context.Background(), "film.mkv"); err != nil || runs(t, log) != 2 {
		t.Fatalf("asking again: %v, %d scans", err, runs(t, log))
	}
}

func TestFindTools(t *testing.T) {
	tl := tools(t)
	if !tl.Encoders["libx264"] || !tl.Encoders["aac"] || !strings.HasPrefix(tl.Version, "ffmpeg version") || tl.Missing() != "" {
		t.Fatalf("tools %+v", tl)
	}
	missing := media.FindTools(context.Background(), "/nonexistent/ffmpeg", "no-such-ffprobe-here")
	if missing.Available() || !strings.Contains(missing.Missing(), "ffmpeg (/nonexistent/ffmpeg)") || !strings.Contains(missing.Missing(), "ffprobe (no-such-ffprobe-here)") {
		t.Fatalf("missing tools: %q", missing.Missing())
	}
	if _, err := exec.LookPath(tl.FFmpeg); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeWithoutFFprobe(t *testing.T) {
	dir := t.TempDir()
	mediatest.Make(t, dir, mediatest.MP4, "")
	lib, _ := media.NewLibrary(dir)
	cat := media.NewCatalog(lib, "", media.NewBadger(openStore(t)))
	if _, err := cat.Describe(context.Background(), string(mediatest.MP4)); !errors.Is(err, media.ErrNoFFmpeg) {
		t.Fatalf("without ffprobe: %v", err)
	}
}
