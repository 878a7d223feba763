package rtc

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"watchparty/engine/procstat"
)

// 2 Mbit/s of 1200-byte packets is about 208 packets a second.
const (
	benchPayload  = 1200
	benchInterval = time.Second * benchPayload * 8 / 2_000_000
)

// BenchmarkPublishToFirstPacket measures, on loopback, the time from a
// connected member's publish intent to the first forwarded RTP packet at a
// connected subscriber, and from a new member's join to its first packet of
// a track being shared.
func BenchmarkPublishToFirstPacket(b *testing.B) {
	var publish, join time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := newHarness(b, testConfig())
		h.allow("ann")
		ann := h.join("ann")
		bob := h.join("bob")
		waitFor(b, waitLong, "ann and bob connected", func() bool { return ann.connected() && bob.connected() })
		ann.addVideo()
		ann.startWriter(5*time.Millisecond, 1000, 0)
		b.StartTimer()

		start := time.Now()
		if err := h.handle("ann", Signal{Type: TypePublish, Tracks: []TrackInfo{{Kind: "video", Source: SourceScreen}}}); err != nil {
			b.Fatal(err)
		}
		waitFor(b, waitLong, "bob's first packet", func() bool { return len(bob.liveTracks()) > 0 && bob.liveTracks()[0].packets.Load() > 0 })
		publish += time.Duration(bob.liveTracks()[0].firstAt.Load() - start.UnixNano())

		start = time.Now()
		cat := h.join("cat")
		waitFor(b, waitLong, "cat's first packet", func() bool { return len(cat.liveTracks()) > 0 && cat.liveTracks()[0].packets.Load() > 0 })
		join += time.Duration(cat.liveTracks()[0].firstAt.Load() - start.UnixNano())
		b.StopTimer()
		h.close()
		b.StartTimer()
	}
	b.ReportMetric(float64(publish.Microseconds())/1000/float64(b.N), "ms-publish-to-first-packet")
	b.ReportMetric(float64(join.Microseconds())/1000/float64(b.N), "ms-join-to-first-packet")
}

// BenchmarkForwardCPU forwards a 2 Mbit/s video track to 1, 10 and 20
// subscribers for 2 s of media and reports the process CPU used. The
// subscribers are pion peers in the same process, so the figure includes
// their receiving (decryption) work as well as the server's.
func BenchmarkForwardCPU(b *testing.B) {
	for _, subs := range []int{1, 10, 20} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			var cpuPct float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cfg := testConfig()
				cfg.MaxPeersPerRoom = subs + 1
				h := newHarness(b, cfg)
				h.allow("ann")
				ann := h.join("ann")
				var clients []*client
				for j := 0; j < subs; j++ {
					clients = append(clients, h.join(fmt.Sprintf("sub%d", j)))
				}
				ann.publishVideo(benchInterval, benchPayload)
				for _, c := range clients {
					waitFor(b, waitLong, c.id+" receiving", func() bool {
						tr := c.trackFrom("ann", SourceCamera)
						return tr != nil && tr.packets.Load() > 10
					})
				}
				b.StartTimer()
				from := ann.counter.Load()
				cpu0, wall0 := procstat.SelfCPU(), time.Now()
				const packets = 2 * 2_000_000 / 8 / benchPayload
				waitFor(b, waitLong, "2 s of media", func() bool { return ann.counter.Load() >= from+packets })
				cpu := procstat.SelfCPU() - cpu0
				wall := time.Since(wall0)
				b.StopTimer()
				cpuPct += 100 * cpu.Seconds() / wall.Seconds()
				h.close()
				b.StartTimer()
			}
			cpuPct /= float64(b.N)
			b.ReportMetric(cpuPct, "cpu-%")
			b.ReportMetric(cpuPct/float64(subs), "cpu-%/subscriber")
		})
	}
}

// BenchmarkTwentySubscribers sends a window of packets of a 2 Mbit/s track
// to 20 subscribers and reports how many each received.
func BenchmarkTwentySubscribers(b *testing.B) {
	const subs, window = 20, 1000
	var worst float64 = 1
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := testConfig()
		cfg.MaxPeersPerRoom = subs + 1
		h := newHarness(b, cfg)
		h.allow("ann")
		ann := h.join("ann")
		var win [2]atomic.Uint32
		win[0].Store(1 << 31)
		var clients []*client
		for j := 0; j < subs; j++ {
			c := h.newClient(fmt.Sprintf("sub%d", j), false)
			c.window = &win
			if err := h.handle(c.id, Signal{Type: TypeJoin}); err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
		ann.publishVideo(benchInterval, benchPayload)
		for _, c := range clients {
			waitFor(b, waitLong, c.id+" receiving", func() bool {
				tr := c.trackFrom("ann", SourceCamera)
				return tr != nil && tr.packets.Load() > 10
			})
		}
		b.StartTimer()
		lo := ann.counter.Load() + 20
		win[1].Store(lo + window - 1)
		win[0].Store(lo)
		waitFor(b, time.Minute, "the window sent", func() bool { return ann.counter.Load() > lo+window+50 })
		b.StopTimer()
		minGot := int64(window)
		for _, c := range clients {
			tr := c.trackFrom("ann", SourceCamera)
			if got := tr.inWindow.Load(); got < minGot {
				minGot = got
			}
		}
		if r := float64(minGot) / window; r < worst {
			worst = r
		}
		b.Logf("%d subscribers, %d packets each sent, worst subscriber received %d", subs, window, minGot)
		h.close()
		b.StartTimer()
	}
	b.ReportMetric(100*worst, "%-delivered-worst-subscriber")
}
