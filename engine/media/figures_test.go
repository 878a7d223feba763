package media_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"watchparty/engine/media"
	"watchparty/engine/media/mediatest"
	"watchparty/engine/procstat"
)

// BenchmarkMediaFiguresKeyframeScans: four members start a remuxed video
// (a 10 minute H.264 + AC3 Matroska file, already probed) at once, and
// each member's request needs its keyframe times. It reports the time until
// all four have them, the ffprobe scans run, and the load average.
// docs/media.md gives the command:
//
//	go test ./engine/media -run '^$' -bench MediaFigures -benchtime 1x
func BenchmarkMediaFiguresKeyframeScans(b *testing.B) {
	tl := media.FindTools(context.Background(), "", "")
	if !tl.Available() {
		b.Fatalf("ffmpeg is needed (make test installs it): %s", tl.Missing())
	}
	dir := b.TempDir()
	mediatest.MakeSpec(b, dir, mediatest.H264AC3, "film.mkv", mediatest.Spec{Seconds: 600})
	lib, err := media.NewLibrary(dir)
	if err != nil {
		b.Fatal(err)
	}
	var wall time.Duration
	var scans int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		probe, log := countingProbe(b, tl.FFprobe)
		cat := media.NewCatalog(lib, probe, media.NewBadger(openStore(b)))
		if _, err := cat.Describe(context.Background(), "film.mkv"); err != nil {
			b.Fatal(err)
		}
		before := runs(b, log)
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := cat.Keyframes(context.Background(), "film.mkv"); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		wall += time.Since(start)
		scans += runs(b, log) - before
	}
	b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms_until_4_members_have_keyframes")
	b.ReportMetric(float64(scans)/float64(b.N), "ffprobe_scans")
	b.ReportMetric(procstat.LoadAvg(), "load1")
}
