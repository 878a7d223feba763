package transcode_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/store"
	"watchparty/engine/transcode"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mediatest.Cleanup()
	if code == 0 {
		// A job's goroutines end shortly after its process does: give them
		// a few seconds (a loaded machine), then a goroutine left fails.
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err = goleak.Find(goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
				goleak.IgnoreAnyFunction("github.com/dgraph-io/badger/v4.(*DB).monitorCache"))
			if err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type rig struct {
	t     testing.TB
	dir   string // the library
	cache *transcode.Cache
	m     *transcode.Manager
	cat   *media.Catalog
}

func newRig(t testing.TB, cfg transcode.Config, cacheMax int64) *rig {
	t.Helper()
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		t.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	dir := t.TempDir()
	lib, err := media.NewLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), slog.New(slog.DiscardHandler), store.Options{MinFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cache, err := transcode.OpenCache(filepath.Join(t.TempDir(), "cache"), cacheMax, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := media.NewCatalog(lib, tl.FFprobe, media.NewBadger(st))
	cfg.FFmpeg = tl.FFmpeg
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	m := transcode.New(cfg, cat, cache)
	t.Cleanup(func() {
		m.Close()
		if n := ffmpegsIn(cache.Dir()); n != 0 {
			t.Errorf("%d ffmpeg processes outlive the manager", n)
		}
	})
	return &rig{t: t, dir: dir, cache: cache, m: m, cat: cat}
}

// ffmpegsIn counts the live ffmpeg processes writing under dir.
func ffmpegsIn(dir string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmd) == 0 {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if filepath.Base(args[0]) == "ffmpeg" && strings.Contains(string(cmd), dir) {
			n++
		}
	}
	return n
}

func (r *rig) segment(ctx context.Context, room string, key transcode.Key, track, i int) ([]byte, error) {
	f, err := r.m.Segment(ctx, room, key, track, i)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// probeTS describes a segment: its streams' codecs and its first timestamp.
func probeTS(t *testing.T, data []byte) (codecs string, start float64) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=start_time", "-of", "csv=p=0", "-i", "pipe:0")
	cmd.Stdin = strings.NewReader(string(data))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe of a segment: %v", err)
	}
	var names []string
	for _, l := range strings.Fields(strings.TrimSpace(string(out))) {
		l = strings.TrimSuffix(l, ",")
		if f, err := strconv.ParseFloat(l, 64); err == nil {
			start = f
		} else if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	return strings.Join(names, " "), start
}

func TestTranscodeSharedByMembersAndRooms(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "film.mkv", mediatest.Spec{Seconds: 12, Width: 160, Height: 90})
	ctx := context.Background()
	st, err := r.m.Describe(ctx, "film.mkv", -1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Probed.Decision.Mode != media.Transcode || len(st.Renditions) != 1 || st.Renditions[0].Name != "90" || st.Renditions[0].Copy {
		t.Fatalf("stream %+v", st)
	}
	key := transcode.Key{Path: "film.mkv", Rendition: "90", Burn: -1}
	pl, err := r.m.Playlist(ctx, key, 0, func(i int) string { return fmt.Sprintf("v/%d.ts", i) })
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := transcode.EvenPlan(12)
	last := plan.Len() - 1
	if strings.Count(string(pl), "#EXTINF:1.0") != 4 || strings.Count(string(pl), "#EXTINF:2.0") != 4 || !strings.Contains(string(pl), "#EXT-X-TARGETDURATION:2\n") ||
		!strings.HasSuffix(string(pl), fmt.Sprintf("v/%d.ts\n#EXT-X-ENDLIST\n", last)) {
		t.Fatalf("playlist:\n%s", pl)
	}

	// Three members of one room and one member of another fetch every
	// segment of the video and the audio at once; the most ffmpeg
	// processes seen at any time is one.
	var most int
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				most = max(most, ffmpegsIn(r.cache.Dir()))
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for member := 0; member < 4; member++ {
		room := "ROOM1"
		if member == 3 {
			room = "ROOM2"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i <= last; i++ {
				for track := 0; track < 2; track++ {
					data, err := r.segment(ctx, room, key, track, i)
					if err != nil {
						errs <- fmt.Errorf("member %d segment %d/%d: %w", member, track, i, err)
						return
					}
					if member == 0 {
						codecs, start := probeTS(t, data)
						want := map[int]string{0: "h264", 1: "aac"}[track]
						if codecs != want || start < plan.Starts[i]-0.1 || start > plan.Starts[i]+0.15 {
							errs <- fmt.Errorf("segment %d/%d holds %q from %.3f s", track, i, codecs, start)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if most != 1 {
		t.Errorf("at most %d ffmpeg processes ran for one file and rendition (want 1)", most)
	}
	if n := r.m.Runs(); n != 1 {
		t.Errorf("%d ffmpeg runs for one pass over the file", n)
	}
}

func TestFarSeekRestartsAndRoomStopEndsJob(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}, Realtime: true, Wait: 30 * time.Second}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "long.mkv", mediatest.Spec{Seconds: 24, Width: 160, Height: 90})
	ctx := context.Background()
	key := transcode.Key{Path: "long.mkv", Rendition: "90", Burn: -1}
	if _, err := r.segment(ctx, "R", key, 0, 0); err != nil {
		t.Fatal(err)
	}
	// Reading at playback speed, the run is nowhere near the end: a seek
	// there restarts production at that point.
	plan, _ := transcode.EvenPlan(24)
	far := plan.Find(20)
	data, err := r.segment(ctx, "R", key, 0, far)
	if err != nil {
		t.Fatal(err)
	}
	if _, start := probeTS(t, data); start < 19.9 || start > 20.15 {
		t.Fatalf("segment %d starts at %.3f", far, start)
	}
	if n := r.m.Runs(); n != 2 {
		t.Fatalf("%d runs after a far seek (want 2)", n)
	}
	if n := r.m.Processes(); n > 1 {
		t.Fatalf("%d processes for the room after the seek", n)
	}
	// The room stops: its job ends.
	r.m.Release("R")
	waitFor(t, "the job to end", func() bool { return ffmpegsIn(r.cache.Dir()) == 0 && r.m.Processes() == 0 })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRemuxCopiesVideoAtKeyframes(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{120}}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.H264AC3, "show.mkv", mediatest.Spec{Seconds: 9, GOP: 75}) // a keyframe every 3 s
	ctx := context.Background()
	st, err := r.m.Describe(ctx, "show.mkv", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Renditions) != 2 || st.Renditions[0].Name != "src" || !st.Renditions[0].Copy || st.Renditions[1].Name != "120" {
		t.Fatalf("renditions %+v", st.Renditions)
	}
	key := transcode.Key{Path: "show.mkv", Rendition: "src", Burn: -1}
	pl, err := r.m.Playlist(ctx, key, 1, func(i int) string { return strconv.Itoa(i) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(pl), "#EXTINF:3.0") != 3 {
		t.Fatalf("a copied video is not cut at its keyframes:\n%s", pl)
	}
	// From the middle first, then the start: both line up with the plan.
	for _, i := range []int{1, 0, 2} {
		data, err := r.segment(ctx, "R", key, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		codecs, start := probeTS(t, data)
		if codecs != "h264" || start < float64(3*i)-0.1 || start > float64(3*i)+0.15 {
			t.Fatalf("video segment %d holds %q from %.3f", i, codecs, start)
		}
		data, err = r.segment(ctx, "R", key, 1, i)
		if err != nil {
			t.Fatal(err)
		}
		if codecs, _ := probeTS(t, data); codecs != "aac" {
			t.Fatalf("audio segment %d holds %q (AC-3 should become AAC)", i, codecs)
		}
	}
}

func TestCacheObeysItsCap(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}}, 300<<10)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "film.mkv", mediatest.Spec{Seconds: 12, Width: 160, Height: 90})
	ctx := context.Background()
	key := transcode.Key{Path: "film.mkv", Rendition: "90", Burn: -1}
	total := 0
	plan, _ := transcode.EvenPlan(12)
	for i := 0; i < plan.Len(); i++ {
		data, err := r.segment(ctx, "R", key, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		total += len(data)
		if got := r.cache.Size(); got > 300<<10 {
			t.Fatalf("the cache holds %d bytes, over its cap of %d", got, 300<<10)
		}
	}
	if total <= 300<<10 || r.cache.Evicted() == 0 {
		t.Fatalf("the test made %d bytes and evicted %d files: the cap was never reached", total, r.cache.Evicted())
	}
	// What the cache holds on disk agrees with its count, and a reopened
	// cache finds the same.
	var onDisk int64
	filepath.Walk(r.cache.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && !strings.Contains(p, "/run-") {
			onDisk += info.Size()
		}
		return nil
	})
	if onDisk > 300<<10 {
		t.Fatalf("%d bytes on disk", onDisk)
	}
	r.m.Close()
	again, err := transcode.OpenCache(r.cache.Dir(), 200<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Size() > 200<<10 {
		t.Fatalf("a reopened cache with a smaller cap holds %d bytes", again.Size())
	}
}

func TestCorruptFileAndQueue(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}, MaxJobs: 1, Realtime: true}, 1<<30)
	mediatest.Make(t, r.dir, mediatest.Corrupt, "broken.mkv")
	small := mediatest.Spec{Seconds: 24, Width: 160, Height: 90}
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "a.mkv", small)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "b.mkv", small)
	ctx := context.Background()
	_, err := r.m.Segment(ctx, "R", transcode.Key{Path: "broken.mkv", Rendition: "90", Burn: -1}, 0, 0)
	if !errors.Is(err, media.ErrUnreadable) || !strings.Contains(err.Error(), "Invalid data") {
		t.Fatalf("corrupt file: %v", err)
	}
	// One transcoder: room A holds it; room B waits in the queue, and is
	// told so.
	a := transcode.Key{Path: "a.mkv", Rendition: "90", Burn: -1}
	b := transcode.Key{Path: "b.mkv", Rendition: "90", Burn: -1}
	if _, err := r.segment(ctx, "A", a, 0, 0); err != nil {
		t.Fatal(err)
	}
	// B's file is read first, so that the second below is all queue wait
	// (on a busy machine probing alone may take longer).
	if _, err := r.m.Describe(ctx, b.Path, b.Burn); err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = r.segment(bctx, "B", b, 0, 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || r.m.Status("B", b) != 1 {
		t.Fatalf("second job with one transcoder: %v, queued at %d", err, r.m.Status("B", b))
	}
	if msg := (&transcode.BusyError{Queued: 1}).Error(); !strings.Contains(msg, "number 1 in the queue") {
		t.Fatalf("queue message %q", msg)
	}
	if n := ffmpegsIn(r.cache.Dir()); n != 1 {
		t.Fatalf("%d ffmpeg processes with max_jobs 1", n)
	}
	// Room A stops: B's job starts.
	r.m.Release("A")
	if _, err := r.segment(ctx, "B", b, 0, 0); err != nil {
		t.Fatal(err)
	}
	if q := r.m.Status("B", b); q != 0 {
		t.Fatalf("B still queued at %d", q)
	}
}

func TestCloseKillsEveryJob(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}, Realtime: true}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "a.mkv", mediatest.Spec{Seconds: 24, Width: 160, Height: 90})
	mediatest.MakeSpec(t, r.dir, mediatest.H264AC3, "b.mkv", mediatest.Spec{Seconds: 9, GOP: 75})
	ctx := context.Background()
	if _, err := r.segment(ctx, "A", transcode.Key{Path: "a.mkv", Rendition: "90", Burn: -1}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.segment(ctx, "B", transcode.Key{Path: "b.mkv", Rendition: "src", Burn: -1}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := ffmpegsIn(r.cache.Dir()); n != 2 {
		t.Fatalf("%d processes for two jobs", n)
	}
	r.m.Close()
	if n := ffmpegsIn(r.cache.Dir()); n != 0 {
		t.Fatalf("%d processes after Close", n)
	}
}

func TestSubtitlesAndPosters(t *testing.T) {
	r := newRig(t, transcode.Config{}, 1<<30)
	mediatest.Make(t, r.dir, mediatest.Tracks, "films/tracks.mkv")
	mediatest.Make(t, r.dir, mediatest.PGS, "films/pgs.mkv")
	mediatest.Make(t, r.dir, mediatest.MP4, "shows/ep.mp4")
	ctx := context.Background()
	// Embedded SubRip and ASS become WebVTT; the ASS override tags go.
	vtt, err := r.m.SubtitleVTT(ctx, "films/tracks.mkv", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(vtt), "WEBVTT") || !strings.Contains(string(vtt), "English line 2") || !strings.Contains(string(vtt), "01.9") {
		t.Fatalf("SRT track as WebVTT:\n%s", vtt)
	}
	vtt, err = r.m.SubtitleVTT(ctx, "films/tracks.mkv", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(vtt), "Ligne française 3") || strings.Contains(string(vtt), `\i1`) {
		t.Fatalf("ASS track as WebVTT:\n%s", vtt)
	}
	// A picture subtitle, an audio stream and a missing stream are refused.
	for _, s := range []int{1, 9} {
		if _, err := r.m.SubtitleVTT(ctx, "films/tracks.mkv", s); !errors.Is(err, transcode.ErrNoSubtitle) {
			t.Errorf("stream %d: %v", s, err)
		}
	}
	if _, err := r.m.SubtitleVTT(ctx, "films/pgs.mkv", 2); !errors.Is(err, transcode.ErrNoSubtitle) {
		t.Errorf("picture subtitle as text: %v", err)
	}
	// A sidecar ASS file.
	if err := os.WriteFile(filepath.Join(r.dir, "films", "tracks.de.ass"), []byte(strings.ReplaceAll(assSample, "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	vtt, err = r.m.SidecarVTT(ctx, "films/tracks.de.ass")
	if err != nil || !strings.Contains(string(vtt), "Hallo Welt") {
		t.Fatalf("sidecar ASS: %v\n%s", err, vtt)
	}

	// Posters: a frame grabbed from the video, or a picture beside it.
	jpg, ctype, err := r.m.Poster(ctx, "films/tracks.mkv")
	if err != nil || ctype != "image/jpeg" || len(jpg) < 500 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		t.Fatalf("grabbed poster: %v %s %d bytes", err, ctype, len(jpg))
	}
	if err := os.WriteFile(filepath.Join(r.dir, "shows", "folder.jpg"), []byte("\xff\xd8folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _, err := r.m.Poster(ctx, "shows/ep.mp4"); err != nil || string(data) != "\xff\xd8folder" {
		t.Fatalf("folder.jpg poster: %v %q", err, data)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "shows", "ep.jpg"), []byte("\xff\xd8ep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _, err := r.m.Poster(ctx, "shows/ep.mp4"); err != nil || string(data) != "\xff\xd8ep" {
		t.Fatalf("a poster named like the video comes first: %v %q", err, data)
	}
}

const assSample = `[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\b1}Hallo Welt
`

// TestWarmStartsProductionBeforeRequests: Warm starts the one ffmpeg run
// at the segment asked for before any member asks for a segment; the
// requests that follow are served by that run, and a second Warm, or one
// for a room whose production is elsewhere, moves nothing.
func TestWarmStartsProductionBeforeRequests(t *testing.T) {
	r := newRig(t, transcode.Config{Heights: []int{90}, Realtime: true, Wait: 30 * time.Second}, 1<<30)
	mediatest.MakeSpec(t, r.dir, mediatest.HEVC, "film.mkv", mediatest.Spec{Seconds: 24, Width: 160, Height: 90})
	ctx := context.Background()
	key := transcode.Key{Path: "film.mkv", Rendition: "90", Burn: -1}
	if err := r.m.Warm(ctx, "R", key, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a run to start", func() bool { return ffmpegsIn(r.cache.Dir()) == 1 })
	if err := r.m.Warm(ctx, "R", key, 20); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		data, err := r.segment(ctx, "R", key, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		plan, _ := transcode.EvenPlan(24)
		if _, start := probeTS(t, data); start < plan.Starts[i]-0.1 || start > plan.Starts[i]+0.15 {
			t.Fatalf("segment %d starts at %.3f", i, start)
		}
	}
	if n := r.m.Runs(); n != 1 {
		t.Fatalf("%d runs (want the warm one only)", n)
	}
	if err := r.m.Warm(ctx, "R", transcode.Key{Path: "film.mkv", Rendition: "720", Burn: -1}, 0); !errors.Is(err, transcode.ErrNoRendition) {
		t.Fatalf("warming a rendition the file does not have: %v", err)
	}
	r.m.Release("R")
	waitFor(t, "the job to end", func() bool { return ffmpegsIn(r.cache.Dir()) == 0 && r.m.Processes() == 0 })
}
