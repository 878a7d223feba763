package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"watchparty/engine/browsertest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("synctest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	players := fs.Int("players", 3, "players in the room from the start (2-6); one more joins late")
	verbose := fs.Bool("v", false, "log the server and the browsers")
	raw := fs.String("raw", "", "write the recordings and marks as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *players < 2 || *players > 6 {
		fmt.Fprintln(stderr, "synctest: -players must be 2 to 6")
		return 2
	}
	tmp, err := os.MkdirTemp("", "synctest-")
	if err != nil {
		fmt.Fprintln(stderr, "synctest:", err)
		return 1
	}
	t := &runner{name: "synctest", verbose: *verbose, log: stderr, tmp: tmp}
	defer func() {
		t.cleanup()
		os.RemoveAll(tmp)
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			code = 1
		}
		if t.Failed() && code == 0 {
			code = 1
		}
	}()
	f, recs, marks := scenario(t, *players)
	if *raw != "" {
		b, _ := json.Marshal(map[string]any{"recordings": recs, "marks": marks})
		if err := os.WriteFile(*raw, b, 0o644); err != nil {
			t.Errorf("writing %s: %v", *raw, err)
		}
	}
	f.Print(stdout, *players)
	return 0
}

// scenario runs the measured session: about 60 s with plays, seeks, pauses
// and a late joiner.
func scenario(t *runner, players int) (Figures, []Recording, []Mark) {
	dir := t.TempDir()
	t.Logf("making the test clip")
	clip := MakeClip(t, dir, 120)
	s := NewSession(t, dir, clip, players+1, nil)
	s.Settings(t, false)
	var ws []*browsertest.Window
	for i := range players {
		ws = append(ws, s.Join(t, i))
	}
	late := s.Window(t, players)
	s.Share(t, ws[0])
	// Let the browsers finish starting before the first measured action.
	time.Sleep(4 * time.Second)

	var marks []Mark
	cmd := func(i int, kind string, arg ...float64) {
		m := Mark{Kind: kind, RTT: browsertest.Eval[float64](ws[i], `window.watchpartySync.clock.rtt()`)}
		m.At = command(t, ws[i], kind, arg...)
		if len(arg) > 0 {
			m.Target = arg[0]
		}
		marks = append(marks, m)
	}
	hold := func(d time.Duration) { time.Sleep(d) }

	start := serverNow(t, ws[0])
	cmd(0, "play")
	hold(12 * time.Second)
	cmd(1, "seek", 40)
	hold(10 * time.Second)
	cmd(0, "pause")
	hold(3 * time.Second)
	cmd(1, "play")
	hold(8 * time.Second)
	joinAt := make([]float64, players+1)
	joinAt[players] = serverNow(t, ws[0])
	marks = append(marks, Mark{Kind: "join", At: joinAt[players], Player: players})
	s.Enter(t, players, late)
	hold(12 * time.Second)
	cmd(players-1, "seek", 20)
	hold(8 * time.Second)
	cmd(1, "pause")
	hold(2 * time.Second)
	end := serverNow(t, ws[0])

	all := append(ws, late)
	recs := make([]Recording, len(all))
	for i, w := range all {
		recs[i] = Collect(t, w)
	}
	return Analyze(recs, marks, joinAt, start, end), recs, marks
}

// runner lets the test harnesses (apptest, browsertest), written for
// testing.TB, run in this command. Only the methods they use are
// implemented; Fatal unwinds to run.
type runner struct {
	testing.TB
	name    string
	verbose bool
	log     io.Writer
	tmp     string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	dirs     int
}

type fatal struct{}

func (r *runner) Helper()      {}
func (r *runner) Name() string { return r.name }
func (r *runner) Failed() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

func (r *runner) Log(args ...any) {
	if r.verbose {
		fmt.Fprintln(r.log, args...)
	}
}

func (r *runner) Logf(format string, args ...any) {
	if r.verbose {
		fmt.Fprintf(r.log, format+"\n", args...)
	}
}

func (r *runner) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	fmt.Fprintf(r.log, "synctest: "+format+"\n", args...)
}

func (r *runner) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *runner) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

func (r *runner) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *runner) TempDir() string {
	r.mu.Lock()
	r.dirs++
	d := filepath.Join(r.tmp, fmt.Sprint(r.dirs))
	r.mu.Unlock()
	if err := os.MkdirAll(d, 0o700); err != nil {
		r.Fatal(err)
	}
	return d
}

func (r *runner) ArtifactDir() string { return r.TempDir() }

// cleanup runs the cleanups, last first, as testing does.
func (r *runner) cleanup() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		func() {
			defer func() {
				if p := recover(); p != nil {
					if _, ok := p.(fatal); !ok {
						panic(p)
					}
				}
			}()
			f()
		}()
	}
}
