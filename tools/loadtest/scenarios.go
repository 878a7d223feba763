package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"watchparty/engine/procstat"
	"watchparty/tools/internal/visitor"
	"watchparty/tools/latency"
)

// connectRoom connects members r<room>-m0 .. m<n-1> to code.
func connectRoom(t target, code string, roomIdx, n int, h *latency.Histogram) ([]*member, error) {
	var ms []*member
	for j := range n {
		m, err := t.dial(code, fmt.Sprintf("r%d-m%d", roomIdx, j))
		if err != nil {
			closeAll(ms)
			return nil, fmt.Errorf("member %d of room %d: %w", j, roomIdx, err)
		}
		go m.receive(h)
		ms = append(ms, m)
	}
	return ms, nil
}

// result is what a latency scenario measured.
type result struct {
	delivered, want int64
	p50, p99, max   time.Duration
	cpu             float64 // the server's CPU use while the lines were sent, % of one core
	server          string  // the server-side figure, if the target has one
	rate            float64 // rising: the most delivered/s within the bounds
	rss3, rssWait   float64 // idle1000: RSS per connection, KB, 3 s and the wait after connecting
}

// cpuSince is the server's CPU use since cpu0 was read at t0, in % of one
// core.
func cpuSince(t target, cpu0 time.Duration, t0 time.Time) float64 {
	return 100 * float64(procstat.CPUTime(t.pid())-cpu0) / float64(time.Since(t0))
}

func (r result) loss() float64 { return 100 * float64(r.want-r.delivered) / float64(r.want) }

// onServer runs a scenario for d against a server of its own.
func onServer(run func(t target, d time.Duration) (result, error), d time.Duration, pin bool) error {
	s, err := startServer(pin)
	if err != nil {
		return err
	}
	defer s.stop()
	_, err = run(s, d)
	return err
}

func fanout500(d time.Duration, pin bool) error { return onServer(fanout500On, d, pin) }

func fanout500On(t target, d time.Duration) (result, error) {
	const members, rate = 500, 20
	codes, err := t.setup(1, members)
	if err != nil {
		return result{}, err
	}
	h := &latency.Histogram{}
	ms, err := connectRoom(t, codes[0], 0, members, h)
	if err != nil {
		return result{}, err
	}
	settle(ms)
	h.Reset()
	for _, m := range ms {
		m.recv.Store(0)
	}
	total := int(d.Seconds() * rate)
	lines := newLineLog(ms, total)
	tick := time.NewTicker(time.Second / rate)
	start := time.Now()
	lines.start = start
	cpu0 := procstat.CPUTime(t.pid())
	gc0, alloc0 := goStats(t)
	wait0, selfWait0 := runDelay(t.pid()), runDelay(os.Getpid())
	profiled := profile(t, "fanout500", d)
	for n := range total {
		<-tick.C
		lines.sent[n] = time.Since(start)
		if err := t.send(ms[0], 0, n); err != nil {
			closeAll(ms)
			return result{}, err
		}
	}
	tick.Stop()
	profiled()
	elapsed := time.Since(start)
	waitDelivered(ms, func(int) int64 { return int64(total) }, 10*time.Second)
	wait, selfWait := runDelay(t.pid())-wait0, runDelay(os.Getpid())-selfWait0
	r := result{delivered: sum(ms), want: int64(total) * members, p50: h.Quantile(0.5), p99: h.Quantile(0.99), max: h.Quantile(1),
		cpu: cpuSince(t, cpu0, start)}
	if s, ok := t.(*server); ok {
		gc1, alloc1 := goStats(t)
		r.server = fmt.Sprintf("dropped members %.0f, %.0f GC cycles while sending, %.1f KB allocated per line",
			s.memory().dropped, gc1-gc0, (alloc1-alloc0)/float64(total)/1000)
	}
	closeAll(ms)
	fmt.Printf("fanout500 [%s]: 1 room x %d members, 1 sender at %d msg/s for %.1fs: %d lines, %d/%d delivered (loss %.3f%%)\n",
		t.name(), members, rate, elapsed.Seconds(), total, r.delivered, r.want, r.loss())
	fmt.Printf("  send-to-receive latency: p50 %v  p99 %v  max %v; server CPU %.1f%% of one core\n", r.p50, r.p99, r.max, r.cpu)
	if r.server != "" {
		fmt.Printf("  server: %s\n", r.server)
	}
	var events []serverEvent
	if s, ok := t.(*server); ok {
		events = s.events.list()
	}
	fmt.Printf("  threads runnable but not running while sending (their core busy with other threads or processes): server %v, load generator %v\n",
		wait.Round(100*time.Microsecond), selfWait.Round(100*time.Microsecond))
	lines.report(ms, r.p99, events, 8)
	return r, nil
}

// goStats is how many garbage collections our server has run and how many
// bytes it has allocated (0 for another server).
func goStats(t target) (gcs, alloc float64) {
	if s, ok := t.(*server); ok {
		return visitor.Metric(s.base, "go_gc_duration_seconds_count"), visitor.Metric(s.base, "go_memstats_alloc_bytes_total")
	}
	return 0, 0
}

// profile takes a CPU profile of t for d when it is our server and
// -cpuprofile is set; the returned function waits for it.
func profile(t target, scenario string, d time.Duration) (wait func()) {
	if s, ok := t.(*server); ok {
		return s.profile(scenario, d)
	}
	return func() {}
}

func rooms200(d time.Duration, pin bool) error { return onServer(rooms200On, d, pin) }

func rooms200On(t target, d time.Duration) (result, error) {
	const rooms, members = 200, 5
	codes, err := t.setup(rooms, members)
	if err != nil {
		return result{}, err
	}
	h := &latency.Histogram{}
	var all []*member
	for i, code := range codes {
		ms, err := connectRoom(t, code, i, members, h)
		if err != nil {
			closeAll(all)
			return result{}, err
		}
		all = append(all, ms...)
	}
	settle(all)
	h.Reset()
	for _, m := range all {
		m.recv.Store(0)
	}
	// Every member sends 1 msg/s; spread the senders evenly over each second.
	seconds := int(d.Seconds())
	tick := time.NewTicker(time.Second / time.Duration(len(all)))
	start := time.Now()
	cpu0 := procstat.CPUTime(t.pid())
	profiled := profile(t, "rooms200", d)
	for sec := range seconds {
		for i, m := range all {
			<-tick.C
			if err := t.send(m, i, sec); err != nil {
				closeAll(all)
				return result{}, err
			}
		}
	}
	tick.Stop()
	profiled()
	elapsed := time.Since(start)
	perMember := int64(seconds * members) // lines each member should see, its own included
	waitDelivered(all, func(int) int64 { return perMember }, 10*time.Second)
	r := result{delivered: sum(all), want: perMember * int64(len(all)), p50: h.Quantile(0.5), p99: h.Quantile(0.99), max: h.Quantile(1),
		cpu: cpuSince(t, cpu0, start)}
	dropped := any("-")
	if s, ok := t.(*server); ok {
		dropped = s.memory().dropped
	}
	closeAll(all)
	fmt.Printf("rooms200 [%s]: %d rooms x %d members, each sending 1 msg/s for %.1fs: %d lines, %d/%d delivered (loss %.3f%%, dropped conns %v)\n",
		t.name(), rooms, members, elapsed.Seconds(), seconds*len(all), r.delivered, r.want, r.loss(), dropped)
	fmt.Printf("  send-to-receive latency: p50 %v  p99 %v  max %v; server CPU %.1f%% of one core\n", r.p50, r.p99, r.max, r.cpu)
	return r, nil
}

func rising(step time.Duration, pin bool) error { return onServer(risingOn, step, pin) }

// risingOn raises the rate of five senders in a room of 200, step by step,
// until the p99 passes 500 ms, a line is lost or the server cuts a sender
// off. The result's rate is the most delivered/s of a step within those
// bounds.
func risingOn(t target, step time.Duration) (result, error) {
	const members, senders = 200, 5
	codes, err := t.setup(1, members)
	if err != nil {
		return result{}, err
	}
	h := &latency.Histogram{}
	ms, err := connectRoom(t, codes[0], 0, members, h)
	if err != nil {
		return result{}, err
	}
	defer closeAll(ms)
	settle(ms)
	var r result
	fmt.Printf("rising [%s]: 1 room x %d members, %d senders; each step %v\n", t.name(), members, senders, step)
	fmt.Printf("  %-14s %-16s %-16s %-10s %-10s %-8s\n", "lines/s", "delivered/s", "target/s", "p50", "p99", "loss")
	next := make([]int, senders) // next line number per sender
	for _, perSender := range []int{100, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 10000} {
		h.Reset()
		for _, m := range ms {
			m.recv.Store(0)
		}
		// Each sender sends in 100 bursts per second.
		const ticks = 100
		per := perSender / ticks
		var wg sync.WaitGroup
		var sendErr error
		var errOnce sync.Once
		start := time.Now()
		sent := make([]int, senders)
		for si := range senders {
			wg.Add(1)
			go func(si int) {
				defer wg.Done()
				tick := time.NewTicker(time.Second / ticks)
				defer tick.Stop()
				for range int(step.Seconds() * ticks) {
					<-tick.C
					for range per {
						if err := t.send(ms[si], si, next[si]); err != nil {
							errOnce.Do(func() { sendErr = err })
							return
						}
						next[si]++
						sent[si]++
					}
				}
			}(si)
		}
		wg.Wait()
		if sendErr != nil {
			// The server closing a sender (its chat limit, or falling
			// behind) ends the climb; the steps before it stand.
			fmt.Printf("  %-14d a sender was cut off: %v\n", perSender*senders, sendErr)
			break
		}
		var lines int64
		for _, n := range sent {
			lines += int64(n)
		}
		waitDelivered(ms, func(int) int64 { return lines }, 30*time.Second)
		elapsed := time.Since(start)
		got := sum(ms)
		want := lines * members
		rate := float64(got) / elapsed.Seconds()
		fmt.Printf("  %-14d %-16.0f %-16d %-10v %-10v %.3f%%\n", perSender*senders, rate, perSender*senders*members,
			h.Quantile(0.5).Round(10*time.Microsecond), h.Quantile(0.99).Round(10*time.Microsecond), 100*float64(want-got)/float64(want))
		if h.Quantile(0.99) > 500*time.Millisecond || got < want {
			break
		}
		if rate > r.rate {
			r.rate, r.p50, r.p99 = rate, h.Quantile(0.5), h.Quantile(0.99)
		}
	}
	if s, ok := t.(*server); ok {
		fmt.Printf("  connections dropped for falling behind: %.0f\n", s.memory().dropped)
	}
	return r, nil
}

func idle1000(pin bool, wait time.Duration) error { return onServer(idle1000On, wait, pin) }

// idle1000On connects 1000 members to 100 rooms and measures the server's
// memory per connection 3 s after, and again after wait. The result's
// rss3 and rssWait are the RSS per connection, in KB.
func idle1000On(t target, wait time.Duration) (result, error) {
	const rooms, members = 100, 10
	codes, err := t.setup(rooms, members)
	if err != nil {
		return result{}, err
	}
	s, ours := t.(*server)
	if ours {
		// A fresh process on the same data: what setting up the guests
		// cost over HTTP is not counted per connection.
		if err := s.restart(); err != nil {
			return result{}, err
		}
	}
	h := &latency.Histogram{}
	// Warm up: connect everyone and close once, so that lazily made pools
	// and caches that do not grow with the members (the store's block and
	// index caches, 12 MiB at most, fill with the sessions and memberships
	// read on connecting) are not counted per connection.
	for i, code := range codes {
		warm, err := connectRoom(t, code, i, members, h)
		if err != nil {
			return result{}, err
		}
		closeAll(warm)
	}
	time.Sleep(time.Second)
	before := memoryOf(t)
	var all []*member
	for i, code := range codes {
		ms, err := connectRoom(t, code, i, members, h)
		if err != nil {
			closeAll(all)
			return result{}, err
		}
		all = append(all, ms...)
	}
	defer closeAll(all)
	n := float64(len(all))
	fmt.Printf("idle1000 [%s]: %d idle members in %d rooms\n", t.name(), len(all), rooms)
	var r result
	report := func(after memory, at time.Duration) float64 {
		perConn := float64(after.rss-before.rss) / n / 1000
		fmt.Printf("  %v after connecting: server RSS %.1f MiB -> %.1f MiB: %.1f KB per connection\n",
			at, float64(before.rss)/(1<<20), float64(after.rss)/(1<<20), perConn)
		fmt.Printf("    of which anonymous (not the store's mapped files): %.1f MiB -> %.1f MiB: %.1f KB per connection\n",
			float64(before.anon)/(1<<20), float64(after.anon)/(1<<20), float64(after.anon-before.anon)/n/1000)
		if ours {
			fmt.Printf("    goroutines %.0f -> %.0f; Go heap in use + stacks (/metrics): %.1f KB per connection, of which stacks %.1f KB\n",
				before.goroutines, after.goroutines, (after.goInUse-before.goInUse)/n/1000, (after.stacks-before.stacks)/n/1000)
		}
		return perConn
	}
	time.Sleep(3 * time.Second)
	r.rss3 = report(memoryOf(t), 3*time.Second)
	r.rssWait = r.rss3
	if wait > 3*time.Second {
		// The Go runtime collects at least every two minutes: after that,
		// the heap holds what the connections keep, not the garbage of
		// their handshakes.
		time.Sleep(wait - 3*time.Second)
		r.rssWait = report(memoryOf(t), wait)
	}
	return r, nil
}

// memoryOf is the target's memory: from /proc for any server, with the Go
// runtime's figures for ours.
func memoryOf(t target) memory {
	if s, ok := t.(*server); ok {
		return s.memory()
	}
	return memory{rss: procstat.RSS(t.pid()), anon: procstat.RSSAnon(t.pid())}
}
