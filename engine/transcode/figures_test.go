package transcode_test

import (
	"context"
	"testing"
	"time"

	"watchparty/engine/media/mediatest"
	"watchparty/engine/procstat"
	"watchparty/engine/transcode"
)

// BenchmarkMediaFiguresTranscodeSpeed converts a 30 s 720p25 HEVC + AAC
// Matroska file to the 720p H.264 rendition with libx264 at the default
// preset (veryfast), ffmpeg held to one thread (-threads 1 for decoder
// and encoder), through the manager as a room would (every segment asked
// for in turn). It reports the speed factor (seconds of video made per
// second of wall time) and, less moved by the machine's load, seconds of
// video per CPU second of ffmpeg (the speed on one whole core), with the
// load average. docs/media.md gives the command:
//
//	go test ./engine/transcode -run '^$' -bench MediaFigures -benchtime 1x
func BenchmarkMediaFiguresTranscodeSpeed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		transcodeSpeed(b)
	}
}

func transcodeSpeed(b *testing.B) {
	r := newRig(b, transcode.Config{Heights: []int{720}, Threads: 1, Preset: "veryfast", Wait: 5 * time.Minute}, 1<<30)
	const seconds = 30
	mediatest.MakeSpec(b, r.dir, mediatest.HEVC, "film.mkv", mediatest.Spec{Seconds: seconds, Width: 1280, Height: 720, FPS: 25})
	ctx := context.Background()
	st, err := r.m.Describe(ctx, "film.mkv", -1)
	if err != nil {
		b.Fatal(err)
	}
	if len(st.Renditions) != 1 || st.Renditions[0].Name != "720" || st.Renditions[0].Copy {
		b.Fatalf("renditions %+v", st.Renditions)
	}
	key := transcode.Key{Path: "film.mkv", Rendition: "720", Burn: -1}
	plan, _ := transcode.EvenPlan(seconds)
	n := plan.Len()
	before := procstat.ChildrenCPU()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i++ {
		for track := 0; track < 2; track++ {
			if _, err := r.segment(ctx, "R", key, track, i); err != nil {
				b.Fatalf("segment %d: %v", i, err)
			}
		}
	}
	wall := time.Since(start)
	b.StopTimer()
	r.m.Close() // every ffmpeg waited for: its CPU time is counted
	cpu := procstat.ChildrenCPU() - before
	b.ReportMetric(seconds/wall.Seconds(), "speed_x")
	b.ReportMetric(seconds/cpu.Seconds(), "speed_per_cpu_x")
	b.ReportMetric(float64(r.m.Runs()), "ffmpeg_runs")
	b.ReportMetric(procstat.LoadAvg(), "load1")
	b.Logf("720p HEVC -> 720p H.264 libx264 veryfast, -threads 1: %d s of video in %v wall, %v ffmpeg CPU (load %.2f)",
		seconds, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), procstat.LoadAvg())
}
