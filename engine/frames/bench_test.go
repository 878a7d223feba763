package frames

import (
	"errors"
	"image"
	"image/jpeg"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"watchparty/engine/frames/source"
	"watchparty/engine/frames/wire"
)

// fanoutViewer counts what one TCP viewer receives.
type fanoutViewer struct {
	frames uint64
	first  time.Time
	last   time.Time
	maxGap time.Duration
}

// runFanout publishes b.N 640x360 pattern JPEGs to viewers TCP viewers on
// loopback, one every interval (0: as fast as possible), and reports per
// viewer frame rates and the hub's publish-to-write latency.
func runFanout(b *testing.B, viewers int, interval time.Duration) {
	const distinct = 30
	pics := make([][]byte, distinct)
	for i := range pics {
		pics[i] = patternJPEG(b, 640, 360, uint64(i))
	}
	env := newTestEnv(b, HubOptions{MaxViewers: viewers}, ServerOptions{})
	results := make([]fanoutViewer, viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		c := env.dial(b, "BENCH", wire.RoleViewer, "viewer", 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			r := &results[i]
			var m wire.Message
			for {
				err := c.Recv(&m)
				if err != nil {
					var ce *CloseError
					if !errors.As(err, &ce) && !errors.Is(err, io.EOF) {
						b.Errorf("viewer %d: %v", i, err)
					}
					return
				}
				if m.Type != wire.TypeFrame {
					continue
				}
				now := time.Now()
				if r.frames > 0 {
					r.maxGap = max(r.maxGap, now.Sub(r.last))
				} else {
					r.first = now
				}
				r.frames++
				r.last = now
			}
		}()
	}
	pub, err := env.hub.Start("BENCH", SourceInfo{Description: "pattern 640x360"})
	if err != nil {
		b.Fatal(err)
	}
	var tick *time.Ticker
	if interval > 0 {
		tick = time.NewTicker(interval)
		defer tick.Stop()
	}
	b.SetBytes(int64(len(pics[0]) * viewers))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if tick != nil {
			<-tick.C
		}
		if err := pub.Publish(Frame{Width: 640, Height: 360, Payload: pics[i%distinct]}); err != nil {
			b.Fatal(err)
		}
	}
	publishing := time.Since(start)
	pub.Stop()
	wg.Wait()
	b.StopTimer()

	st := env.hub.Stats()
	fps := make([]float64, viewers)
	var maxGap time.Duration
	for i, r := range results {
		// the rate a viewer saw between its first and last frame
		if r.frames > 1 {
			fps[i] = float64(r.frames-1) / r.last.Sub(r.first).Seconds()
		}
		maxGap = max(maxGap, r.maxGap)
	}
	b.ReportMetric(float64(b.N)/publishing.Seconds(), "published-frames/s")
	sort.Float64s(fps)
	var sum float64
	for _, f := range fps {
		sum += f
	}
	b.ReportMetric(sum/float64(viewers), "frames/s/viewer")
	b.ReportMetric(fps[0], "min-frames/s/viewer")
	b.ReportMetric(float64(st.Latency.P99.Microseconds()), "p99-publish-to-write-µs")
	b.ReportMetric(float64(st.FramesDropped)/float64(max(st.FramesSent+st.FramesDropped, 1)), "drop-ratio")
	b.ReportMetric(float64(maxGap.Milliseconds()), "max-gap-ms")
	b.ReportMetric(float64(st.FramesEncoded)/float64(b.N), "encodes/frame")
}

// BenchmarkFanout64 publishes 640x360 JPEG frames as fast as possible to 64
// TCP viewers on loopback.
//
//	go test -run '^$' -bench Fanout64 -benchtime 2000x ./engine/frames/
func BenchmarkFanout64(b *testing.B) { runFanout(b, 64, 0) }

// BenchmarkFanout64At30fps publishes at 30 frames per second (use
// -benchtime 300x for ten seconds): every viewer should get about 30 fps.
//
//	go test -run '^$' -bench Fanout64At30fps -benchtime 300x ./engine/frames/
func BenchmarkFanout64At30fps(b *testing.B) { runFanout(b, 64, time.Second/30) }

// BenchmarkJPEGBytesPerFrame encodes the 640x360 test pattern at the default
// quality and reports its size against raw 24-bit pixels.
func BenchmarkJPEGBytesPerFrame(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 640, 360))
	var total int
	b.ResetTimer()
	for i := range b.N {
		source.DrawPattern(img, uint64(i))
		var cw countWriter
		if err := jpeg.Encode(&cw, img, &jpeg.Options{Quality: source.DefaultQuality}); err != nil {
			b.Fatal(err)
		}
		total += cw.n
	}
	perFrame := float64(total) / float64(b.N)
	raw := float64(640 * 360 * 3)
	b.ReportMetric(perFrame, "bytes/frame")
	b.ReportMetric(raw, "raw-bytes/frame")
	b.ReportMetric(raw/perFrame, "raw/jpeg")
	b.ReportMetric(perFrame*8*30/1e6, "Mbit/s@30fps")
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}
