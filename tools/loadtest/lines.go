package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// lineLog is what fanout500 keeps of each line to tell where its tail comes
// from: when the line was sent, and when every member got it. A line late
// for every member (its fastest member late too) is the server stalling; a
// line late for a few members is those members' readers (the generator).
type lineLog struct {
	start time.Time
	sent  []time.Duration // line n's send instant, from start
}

// unseen marks a line a member has not received.
const unseen = -1

func newLineLog(ms []*member, lines int) *lineLog {
	for _, m := range ms {
		m.lines = make([]int32, lines)
		for i := range m.lines {
			m.lines[i] = unseen
		}
	}
	return &lineLog{sent: make([]time.Duration, lines)}
}

// lineStat is one line's latency over the members.
type lineStat struct {
	n             int
	sent          time.Duration // from the run's start
	gap           time.Duration // since the line before (the generator's pace)
	min, p50, max time.Duration
	late          int // members that got it at or after the run's p99
}

// stats is each line's latency over the members ms.
func (l *lineLog) stats(ms []*member, p99 time.Duration) []lineStat {
	out := make([]lineStat, 0, len(l.sent))
	lat := make([]time.Duration, 0, len(ms))
	for n, sent := range l.sent {
		lat = lat[:0]
		for _, m := range ms {
			if us := m.lines[n]; us != unseen {
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		s := lineStat{n: n, sent: sent, gap: sent, min: lat[0], p50: lat[len(lat)/2], max: lat[len(lat)-1]}
		if n > 0 {
			s.gap = sent - l.sent[n-1]
		}
		for _, d := range lat {
			if d >= p99 {
				s.late++
			}
		}
		out = append(out, s)
	}
	return out
}

// report prints the lines that hold most of the samples at or above p99,
// with the server's events of the send phase (garbage collections and ping
// bursts), all as instants from the run's start; the garbage collections
// from a minute before it, to show their pace.
func (l *lineLog) report(ms []*member, p99 time.Duration, events []serverEvent, top int) {
	st := l.stats(ms, p99)
	total, stalled := 0, 0
	for _, s := range st {
		total += s.late
		if s.min >= p99/2 {
			stalled += s.late
		}
	}
	slices.SortFunc(st, func(a, b lineStat) int {
		if a.late != b.late {
			return b.late - a.late
		}
		return int(b.max - a.max)
	})
	fmt.Printf("  samples at or above p99 (%v): %d, of them %d in lines whose fastest member took p99/2 or more (the server late)\n",
		p99.Round(10*time.Microsecond), total, stalled)
	fmt.Printf("  lines with most of them (sent at, from the start; since the line before; min / p50 / max over the members; members at p99+):\n")
	for _, s := range st[:min(top, len(st))] {
		if s.late == 0 {
			break
		}
		fmt.Printf("    line %3d at %7.3fs  +%6.2f ms  %6.2f / %6.2f / %6.2f ms  %3d\n", s.n, s.sent.Seconds(), ms2(s.gap),
			ms2(s.min), ms2(s.p50), ms2(s.max), s.late)
	}
	// A member keeps the instant of the last ping it got: those within
	// the send phase, and the most of them within 10 ms (a burst).
	end := l.sent[len(l.sent)-1] + time.Second
	var pings []time.Duration
	for _, m := range ms {
		if at := m.pingAt.Load(); at != 0 {
			if d := time.Unix(0, at).Sub(l.start); d >= 0 && d <= end {
				pings = append(pings, d)
			}
		}
	}
	if len(pings) > 0 {
		slices.Sort(pings)
		most, at := 0, time.Duration(0)
		for i, d := range pings {
			j, _ := slices.BinarySearch(pings, d+10*time.Millisecond)
			if j-i > most {
				most, at = j-i, d
			}
		}
		fmt.Printf("  members pinged while sending: %d, last pings from %.3fs to %.3fs; most within 10 ms: %d at %.3fs\n",
			len(pings), pings[0].Seconds(), pings[len(pings)-1].Seconds(), most, at.Seconds())
		if most > len(ms)/10 {
			// A burst: the lines sent around it.
			for _, s := range st {
				if s.sent >= at-60*time.Millisecond && s.sent <= at+60*time.Millisecond {
					fmt.Printf("    line %3d at %7.3fs  %6.2f / %6.2f / %6.2f ms  %3d at p99+\n", s.n, s.sent.Seconds(),
						ms2(s.min), ms2(s.p50), ms2(s.max), s.late)
				}
			}
		}
	}
	for _, e := range events {
		if d := e.at.Sub(l.start); d >= -time.Minute && d <= end {
			fmt.Printf("  server at %7.3fs: %s\n", d.Seconds(), e.text)
		}
	}
}

func ms2(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// serverEvent is a line of the server's runtime trace output (GODEBUG
// gctrace) and when the load tool read it.
type serverEvent struct {
	at   time.Time
	text string
}

// eventLog copies the server's standard error to ours, keeping the garbage
// collector's lines (gctrace) aside with the instant each was read.
type eventLog struct {
	mu     sync.Mutex
	events []serverEvent
}

func (e *eventLog) copy(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "gc ") {
			e.mu.Lock()
			e.events = append(e.events, serverEvent{time.Now(), line})
			e.mu.Unlock()
			continue
		}
		fmt.Fprintln(os.Stderr, line)
	}
}

func (e *eventLog) list() []serverEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// runDelay is how long the threads of process pid have waited for a CPU
// while runnable, in all (the kernel's schedstat; threads that have ended
// no longer count): on a pinned core, behind the process's own threads or
// other processes'. Over a run it shows how busy the machine kept the
// server and the generator.
func runDelay(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			var ns int64
			if _, err := fmt.Sscan(f[1], &ns); err == nil {
				sum += time.Duration(ns)
			}
		}
	}
	return sum
}
