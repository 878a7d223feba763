package main

import (
	"fmt"
	"strings"
	"time"

	"watchparty/engine/browsertest"
)

// The paths of the mixed scenario: a 20 ms round trip, 80 ms with jitter,
// 200 ms with heavy jitter and 1% loss (stalls), and an asymmetric one
// (10 ms up, 90 ms down). The late joiner comes over the slowest path.
func mixedProfiles() []Profile {
	return []Profile{
		mustProfile("A=10/10,1"),
		mustProfile("B=40/40,10"),
		mustProfile("C=100/100,30,1%"),
		mustProfile("D=10/90,5"),
	}
}

// netChange is what player B's path becomes halfway through the mixed
// scenario (a phone leaving Wi-Fi for a mobile network): slower and
// asymmetric.
func netChange() Profile { return mustProfile("B2=20/120,15") }

// cappedKbps is the capped player's bandwidth: below the test clip's
// bitrate (about 600 kbit/s, VP8 500k + Opus).
const cappedKbps = 400

func mustProfile(s string) Profile {
	p, err := ParseProfile(s)
	if err != nil {
		panic(err)
	}
	return p
}

func quoteProfiles(ps []Profile) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s=%g/%g", p.Name, p.Up.DelayMS, p.Down.DelayMS)+extra(p))
	}
	return strings.Join(out, " ")
}

func extra(p Profile) string {
	var s string
	if p.Down.JitterMS > 0 || p.Down.Loss > 0 || p.Down.RateKbps > 0 {
		s += fmt.Sprintf(",%g", p.Down.JitterMS)
	}
	if p.Down.Loss > 0 || p.Down.RateKbps > 0 {
		s += fmt.Sprintf(",%g%%", p.Down.Loss*100)
	}
	if p.Down.RateKbps > 0 {
		s += fmt.Sprintf(",%g", p.Down.RateKbps)
	}
	return s
}

// Scenario is one measured session: who is in the room over which path,
// and what they do.
type Scenario struct {
	Name  string
	Paths []Profile // one per player there from the start; a zero Profile is loopback
	Late  Profile   // the late joiner's path
	Wait  bool      // the room waits for everyone
	Clip  int       // seconds
	// Container is the clip's: webm (the default) or mp4 (its index at
	// its end, as ffmpeg writes it by default).
	Container string
	Script    func(p *Play)
	Summary   string
	Seed      uint64 // the shapers' (Session.Seed)
}

// Play is a scenario being run: the session, the windows (the late
// joiner's last) and the marks so far.
type Play struct {
	t      *runner
	s      *Session
	ws     []*browsertest.Window
	marks  []Mark
	joinAt []float64
	late   int
}

// Cmd sends a command from player i's window and marks it.
func (p *Play) Cmd(i int, kind string, arg ...float64) {
	m := Mark{Kind: kind, RTT: browsertest.Eval[float64](p.ws[i], `window.watchpartySync.clock.rtt()`), Player: i}
	m.At = command(p.t, p.ws[i], kind, arg...)
	if len(arg) > 0 {
		m.Target = arg[0]
	}
	p.marks = append(p.marks, m)
}

// Mark notes a moment (a network change, a recovery) for the figures.
func (p *Play) Mark(kind string, i int) {
	p.marks = append(p.marks, Mark{Kind: kind, At: machineNow(p.t, p.ws[0]), Player: i})
}

// Join lets the late joiner open the room.
func (p *Play) Join() {
	p.joinAt[p.late] = machineNow(p.t, p.ws[0])
	p.marks = append(p.marks, Mark{Kind: "join", At: p.joinAt[p.late], Player: p.late})
	p.s.Enter(p.t, p.late, p.ws[p.late])
}

// Hold lets the session run for d.
func (p *Play) Hold(d time.Duration) { time.Sleep(d) }

// Run runs the scenario and returns its figures.
func (sc Scenario) Run(t *runner) (Figures, []Recording, []Mark) {
	dir := t.TempDir()
	t.Logf("making the test clip")
	container := sc.Container
	if container == "" {
		container = "webm"
	}
	clip := MakeClipIn(t, dir, sc.Clip, container)
	n := len(sc.Paths)
	s := NewSession(t, dir, clip, n+1, nil)
	s.Settings(t, sc.Wait)
	s.Seed = sc.Seed
	paths := append(append([]Profile(nil), sc.Paths...), sc.Late)
	for i, pr := range paths {
		if pr != (Profile{}) {
			s.Shape(t, i, pr)
		}
	}
	p := &Play{t: t, s: s, joinAt: make([]float64, n+1), late: n}
	for i := range n {
		p.ws = append(p.ws, s.Join(t, i))
	}
	p.ws = append(p.ws, s.Window(t, n))
	mlog := WatchMedia(t, p.ws[n])
	s.Share(t, p.ws[0])
	// Let the browsers finish starting before the first measured action.
	time.Sleep(4 * time.Second)

	start := machineNow(t, p.ws[0])
	sc.Script(p)
	end := machineNow(t, p.ws[0])

	recs := make([]Recording, len(p.ws))
	for i, w := range p.ws {
		recs[i] = Collect(t, w)
		if sh := s.Shapers[i]; sh != nil {
			recs[i].Wire = sh.Wire()
		}
		if i == n {
			recs[i].Media = mlog.Notes()
		}
	}
	f := Analyze(recs, p.marks, p.joinAt, start, end)
	f.Scenario = sc.Summary
	if sc.Seed != 0 {
		f.Scenario += fmt.Sprintf(" (shaper seed %d)", sc.Seed)
	}
	f.Paths = paths
	return f, recs, p.marks
}

// opening is how the loopback and mixed scenarios start, about 45 s: a
// play, a seek, a pause, a play by player resumer, and the late joiner.
func (p *Play) opening(resumer int) {
	p.Cmd(0, "play")
	p.Hold(12 * time.Second)
	p.Cmd(1, "seek", 40)
	p.Hold(10 * time.Second)
	p.Cmd(0, "pause")
	p.Hold(3 * time.Second)
	p.Cmd(resumer, "play")
	p.Hold(8 * time.Second)
	p.Join()
	p.Hold(12 * time.Second)
}

// closing is how they end: a seek by player seeker, then a pause.
func (p *Play) closing(seeker int) {
	p.Cmd(seeker, "seek", 20)
	p.Hold(8 * time.Second)
	p.Cmd(1, "pause")
	p.Hold(2 * time.Second)
}

// loopbackScenario: players on loopback and a late joiner, about 60 s of
// plays, seeks and pauses.
func loopbackScenario(players int) Scenario {
	return Scenario{
		Name:    "loopback",
		Paths:   make([]Profile, players),
		Clip:    120,
		Summary: fmt.Sprintf("loopback: %d players + 1 late joiner, all on loopback", players),
		Script: func(p *Play) {
			p.opening(1)
			p.closing(players - 1)
		},
	}
}

// mixedScenario: each player on its own path, the late joiner on the
// slowest; halfway through, the second player's path changes.
func mixedScenario(paths []Profile) Scenario {
	slow := paths[0]
	for _, p := range paths {
		if p.RTT() > slow.RTT() {
			slow = p
		}
	}
	late := slow
	late.Name = "late (" + slow.Name + ")"
	last := len(paths) - 1
	return Scenario{
		Name:    "mixed",
		Paths:   paths,
		Late:    late,
		Clip:    120,
		Summary: fmt.Sprintf("mixed: %d players on shaped paths + 1 late joiner on the slowest; player 2's path changes to %s halfway", len(paths), netChange().Name),
		Script: func(p *Play) {
			p.opening(last)
			p.s.Shapers[1].Set(netChange())
			p.Mark("net", 1)
			p.Hold(10 * time.Second)
			p.closing(2 % len(paths))
		},
	}
}

// cappedScenario: the third player's link carries less than the video's
// bitrate for the first 20 s of play, then recovers.
func cappedScenario(wait bool) Scenario {
	capped := mustProfile(fmt.Sprintf("C=10/10,1,0,%d", cappedKbps))
	free := mustProfile("C=10/10,1")
	setting := "continues without it"
	if wait {
		setting = "waits for everyone"
	}
	return Scenario{
		Name:    "capped",
		Paths:   []Profile{mustProfile("A=10/10,1"), mustProfile("B=40/40,5"), capped},
		Late:    mustProfile("late=10/10,1"),
		Wait:    wait,
		Clip:    120,
		Summary: fmt.Sprintf("capped: player 3's link carries %d kbit/s (the clip needs about 600) for 20 s of play, then recovers; the room %s", cappedKbps, setting),
		Script: func(p *Play) {
			p.Cmd(0, "play")
			p.Mark("capped", 2)
			p.Hold(20 * time.Second)
			p.s.Shapers[2].Set(free)
			p.Mark("recover", 2)
			p.Hold(12 * time.Second)
			p.Cmd(1, "seek", 60)
			p.Hold(8 * time.Second)
			p.Join()
			p.Hold(8 * time.Second)
			p.Cmd(0, "pause")
			p.Hold(2 * time.Second)
		},
	}
}
