package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("synctest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scen := fs.String("scenario", "loopback", "loopback, mixed (shaped paths per player) or capped (one player's link below the video's bitrate)")
	players := fs.Int("players", 3, "loopback: players in the room from the start (2-6); one more joins late")
	profiles := fs.String("profiles", "", "mixed: the players' paths, space-separated name=up/down[,jitter][,loss%][,capKbps] (default "+quoteProfiles(mixedProfiles())+")")
	wait := fs.Bool("wait", false, "capped: the room waits for everyone")
	verbose := fs.Bool("v", false, "log the server and the browsers")
	raw := fs.String("raw", "", "write the recordings and marks as JSON to this file")
	container := fs.String("container", "webm", "the test clip's container: webm (VP8/Opus) or mp4 (H.264/AAC, its index at its end, no faststart)")
	seed := fs.Uint64("seed", 0, "the shapers' losses and jitter (0: a new one each run, printed with the figures)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sc, err := pickScenario(*scen, *players, *profiles, *wait, *container)
	if err != nil {
		fmt.Fprintln(stderr, "synctest:", err)
		return 2
	}
	sc.Seed = pickSeed(*seed)
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
	f, recs, marks := sc.Run(t)
	if *raw != "" {
		b, _ := json.Marshal(map[string]any{"recordings": recs, "marks": marks})
		if err := os.WriteFile(*raw, b, 0o644); err != nil {
			t.Errorf("writing %s: %v", *raw, err)
		}
	}
	f.Print(stdout)
	return 0
}

// pickScenario is the scenario the flags name: name with its players (loopback),
// its paths (mixed: profiles, space-separated; empty for the defaults) or its
// wait (capped), on a clip in container (webm or mp4).
func pickScenario(name string, players int, profiles string, wait bool, container string) (Scenario, error) {
	var sc Scenario
	switch name {
	case "loopback":
		if players < 2 || players > 6 {
			return sc, errors.New("-players must be 2 to 6")
		}
		sc = loopbackScenario(players)
	case "mixed":
		ps := mixedProfiles()
		if profiles != "" {
			ps = nil
			for _, f := range strings.Fields(profiles) {
				p, err := ParseProfile(f)
				if err != nil {
					return sc, err
				}
				ps = append(ps, p)
			}
			if len(ps) < 2 || len(ps) > 6 {
				return sc, errors.New("-profiles needs 2 to 6 paths")
			}
		}
		sc = mixedScenario(ps)
	case "capped":
		sc = cappedScenario(wait)
	default:
		return sc, fmt.Errorf("unknown -scenario %q", name)
	}
	if container != "webm" && container != "mp4" {
		return sc, fmt.Errorf("unknown -container %q (webm or mp4)", container)
	}
	sc.Container = container
	if container != "webm" {
		sc.Summary += "; the clip in " + container
	}
	return sc, nil
}

// pickSeed is the shapers' seed for a run: seed, or a new one when it is 0.
func pickSeed(seed uint64) uint64 {
	if seed != 0 {
		return seed
	}
	return uint64(time.Now().UnixNano()%1e6) + 1
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
