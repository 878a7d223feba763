package playback

import (
	"errors"
	"math"
	"testing"
)

const t0 = int64(1_700_000_000_000) // an arbitrary server instant

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPositionAt(t *testing.T) {
	tests := []struct {
		name  string
		state State
		at    int64
		want  float64
	}{
		{name: "zero state", state: State{}, at: t0, want: 0},
		{name: "paused ignores time", state: State{Position: 12.5, UpdatedAt: t0}, at: t0 + 60_000, want: 12.5},
		{name: "paused before anchor", state: State{Position: 12.5, UpdatedAt: t0}, at: t0 - 60_000, want: 12.5},
		{name: "playing at anchor", state: State{Playing: true, Position: 10, Rate: 1, UpdatedAt: t0}, at: t0, want: 10},
		{name: "playing one second later", state: State{Playing: true, Position: 10, Rate: 1, UpdatedAt: t0}, at: t0 + 1000, want: 11},
		{name: "playing millisecond step", state: State{Playing: true, Position: 10, Rate: 1, UpdatedAt: t0}, at: t0 + 1, want: 10.001},
		{name: "unset rate means normal speed", state: State{Playing: true, Position: 10, UpdatedAt: t0}, at: t0 + 2500, want: 12.5},
		{name: "double rate", state: State{Playing: true, Position: 10, Rate: 2, UpdatedAt: t0}, at: t0 + 1500, want: 13},
		{name: "quarter rate", state: State{Playing: true, Position: 0, Rate: 0.25, UpdatedAt: t0}, at: t0 + 4000, want: 1},
		{name: "scheduled start holds position", state: State{Playing: true, Position: 30, Rate: 1, UpdatedAt: t0 + 300}, at: t0, want: 30},
		{name: "scheduled start just reached", state: State{Playing: true, Position: 30, Rate: 1, UpdatedAt: t0 + 300}, at: t0 + 300, want: 30},
		{name: "scheduled start then runs", state: State{Playing: true, Position: 30, Rate: 1, UpdatedAt: t0 + 300}, at: t0 + 1300, want: 31},
		{name: "clamped at duration", state: State{Playing: true, Position: 59, Rate: 1, UpdatedAt: t0, Duration: 60}, at: t0 + 5000, want: 60},
		{name: "unknown duration not clamped", state: State{Playing: true, Position: 59, Rate: 1, UpdatedAt: t0}, at: t0 + 5000, want: 64},
		{name: "paused beyond duration clamped", state: State{Position: 99, Duration: 60}, at: t0, want: 60},
		{name: "negative position clamped to zero", state: State{Position: -5}, at: t0, want: 0},
		{name: "NaN position reads as zero", state: State{Position: math.NaN()}, at: t0, want: 0},
		{name: "far future does not overflow", state: State{Playing: true, Rate: 1, UpdatedAt: 0, Duration: 10}, at: math.MaxInt64, want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.state.PositionAt(tt.at); !near(got, tt.want) {
				t.Fatalf("PositionAt(%d) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// step is one command applied in a sequence.
type step struct {
	op    string // play, pause, seek, rate, duration
	at    int64  // offset from t0 in ms
	lead  int64
	value float64
}

func apply(s State, st step) (State, error) {
	now := t0 + st.at
	switch st.op {
	case "play":
		return Play(s, now, st.lead)
	case "pause":
		return Pause(s, now)
	case "seek":
		return Seek(s, st.value, now, st.lead)
	case "rate":
		return SetRate(s, st.value, now)
	case "duration":
		return SetDuration(s, st.value)
	}
	panic("unknown op " + st.op)
}

func TestSequences(t *testing.T) {
	type check struct {
		at   int64 // offset from t0
		want float64
	}
	tests := []struct {
		name        string
		start       State
		steps       []step
		checks      []check
		wantPlaying bool
		wantVersion uint64
	}{
		{
			name:        "play with lead then run",
			start:       State{Position: 5, UpdatedAt: t0},
			steps:       []step{{op: "play", at: 0, lead: 500}},
			checks:      []check{{0, 5}, {499, 5}, {500, 5}, {1500, 6}, {10_500, 15}},
			wantPlaying: true, wantVersion: 1,
		},
		{
			name:        "play then pause keeps elapsed time",
			steps:       []step{{op: "play", lead: 200}, {op: "pause", at: 3200}},
			checks:      []check{{3200, 3}, {99_999, 3}},
			wantVersion: 2,
		},
		{
			name:        "pause before scheduled start stays at start position",
			start:       State{Position: 42, UpdatedAt: t0},
			steps:       []step{{op: "play", lead: 1000}, {op: "pause", at: 400}},
			checks:      []check{{400, 42}, {5000, 42}},
			wantVersion: 2,
		},
		{
			name:        "resume after pause",
			steps:       []step{{op: "play"}, {op: "pause", at: 2000}, {op: "play", at: 10_000, lead: 250}},
			checks:      []check{{10_000, 2}, {10_250, 2}, {11_250, 3}},
			wantPlaying: true, wantVersion: 3,
		},
		{
			name:        "seek while playing schedules from new position",
			steps:       []step{{op: "play"}, {op: "seek", at: 5000, value: 120, lead: 300}},
			checks:      []check{{5000, 120}, {5300, 120}, {6300, 121}},
			wantPlaying: true, wantVersion: 2,
		},
		{
			name:        "seek while paused stays paused",
			steps:       []step{{op: "seek", at: 1000, value: 60, lead: 300}},
			checks:      []check{{1000, 60}, {50_000, 60}},
			wantVersion: 1,
		},
		{
			name:        "rate change mid-play preserves position",
			steps:       []step{{op: "play"}, {op: "rate", at: 4000, value: 2}},
			checks:      []check{{4000, 4}, {5000, 6}, {6000, 8}},
			wantPlaying: true, wantVersion: 2,
		},
		{
			name:        "slow down then speed up",
			steps:       []step{{op: "play"}, {op: "rate", at: 2000, value: 0.5}, {op: "rate", at: 6000, value: 1.5}},
			checks:      []check{{6000, 4}, {7000, 5.5}, {8000, 7}},
			wantPlaying: true, wantVersion: 3,
		},
		{
			name:        "rate change before scheduled start keeps schedule",
			start:       State{Position: 10, UpdatedAt: t0},
			steps:       []step{{op: "play", lead: 1000}, {op: "rate", at: 200, value: 2}},
			checks:      []check{{200, 10}, {1000, 10}, {2000, 12}},
			wantPlaying: true, wantVersion: 2,
		},
		{
			name:        "rate change while paused",
			start:       State{Position: 7, UpdatedAt: t0},
			steps:       []step{{op: "rate", at: 1000, value: 2}, {op: "play", at: 2000}},
			checks:      []check{{2000, 7}, {3000, 9}},
			wantPlaying: true, wantVersion: 2,
		},
		{
			name:        "clamped at duration while playing",
			start:       State{Position: 55, UpdatedAt: t0, Duration: 60},
			steps:       []step{{op: "play"}},
			checks:      []check{{4000, 59}, {5000, 60}, {30_000, 60}},
			wantPlaying: true, wantVersion: 1,
		},
		{
			name:        "seek beyond duration clamps",
			start:       State{Duration: 60},
			steps:       []step{{op: "seek", value: 75}},
			checks:      []check{{0, 60}},
			wantVersion: 1,
		},
		{
			name:        "play at end restarts",
			start:       State{Position: 60, Duration: 60},
			steps:       []step{{op: "play", lead: 100}},
			checks:      []check{{100, 0}, {1100, 1}},
			wantPlaying: true, wantVersion: 1,
		},
		{
			name:        "duration learned later clamps position",
			start:       State{Position: 90},
			steps:       []step{{op: "duration", value: 80}},
			checks:      []check{{0, 80}},
			wantVersion: 1,
		},
		{
			name:        "play twice is a no-op",
			steps:       []step{{op: "play", lead: 100}, {op: "play", at: 5000, lead: 100}},
			checks:      []check{{5000, 4.9}},
			wantPlaying: true, wantVersion: 1,
		},
		{
			name:        "pause twice is a no-op",
			steps:       []step{{op: "play"}, {op: "pause", at: 1000}, {op: "pause", at: 9000}},
			checks:      []check{{9000, 1}},
			wantVersion: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start
			for i, st := range tt.steps {
				next, err := apply(s, st)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, st.op, err)
				}
				s = next
			}
			for _, c := range tt.checks {
				if got := s.PositionAt(t0 + c.at); !near(got, c.want) {
					t.Errorf("PositionAt(t0+%d) = %v, want %v (state %+v)", c.at, got, c.want, s)
				}
			}
			if s.Playing != tt.wantPlaying {
				t.Errorf("Playing = %v, want %v", s.Playing, tt.wantPlaying)
			}
			if s.Version != tt.wantVersion {
				t.Errorf("Version = %d, want %d", s.Version, tt.wantVersion)
			}
		})
	}
}

func TestTransitionsIncrementVersionAndKeepSource(t *testing.T) {
	s := State{Source: "https://example.com/a.mp4", Kind: "file", Version: 41, UpdatedAt: t0}
	steps := []step{
		{op: "play", lead: 100}, {op: "rate", at: 500, value: 1.25}, {op: "seek", at: 800, value: 3, lead: 100},
		{op: "pause", at: 2000}, {op: "duration", value: 100},
	}
	for i, st := range steps {
		next, err := apply(s, st)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if next.Version != s.Version+1 {
			t.Fatalf("step %d (%s): version %d -> %d, want +1", i, st.op, s.Version, next.Version)
		}
		if next.Source != s.Source || next.Kind != s.Kind {
			t.Fatalf("step %d (%s): source changed to %q/%q", i, st.op, next.Source, next.Kind)
		}
		s = next
	}
}

func TestLoad(t *testing.T) {
	prev := State{Source: "old", Kind: "file", Playing: true, Position: 50, Rate: 1.5, UpdatedAt: t0, Duration: 90, Version: 7}
	s, err := Load(prev, "media:films/a.mp4", "library", 12, t0+1000)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Source: "media:films/a.mp4", Kind: "library", Position: 12, Rate: 1.5, UpdatedAt: t0 + 1000, Version: 8}
	if s != want {
		t.Fatalf("Load = %+v, want %+v", s, want)
	}
	if _, err := Load(prev, "x", "file", math.NaN(), t0); !errors.Is(err, ErrInvalidPosition) {
		t.Fatalf("Load(NaN) error = %v, want ErrInvalidPosition", err)
	}
}

func TestInvalidInputs(t *testing.T) {
	good := State{Position: 1, UpdatedAt: t0}
	tests := []struct {
		name    string
		run     func() (State, error)
		wantErr error
	}{
		{"seek NaN", func() (State, error) { return Seek(good, math.NaN(), t0, 0) }, ErrInvalidPosition},
		{"seek +Inf", func() (State, error) { return Seek(good, math.Inf(1), t0, 0) }, ErrInvalidPosition},
		{"seek -Inf", func() (State, error) { return Seek(good, math.Inf(-1), t0, 0) }, ErrInvalidPosition},
		{"seek negative", func() (State, error) { return Seek(good, -0.5, t0, 0) }, ErrInvalidPosition},
		{"rate too low", func() (State, error) { return SetRate(good, 0.2, t0) }, ErrInvalidRate},
		{"rate too high", func() (State, error) { return SetRate(good, 4.01, t0) }, ErrInvalidRate},
		{"rate zero", func() (State, error) { return SetRate(good, 0, t0) }, ErrInvalidRate},
		{"rate negative", func() (State, error) { return SetRate(good, -1, t0) }, ErrInvalidRate},
		{"rate NaN", func() (State, error) { return SetRate(good, math.NaN(), t0) }, ErrInvalidRate},
		{"rate Inf", func() (State, error) { return SetRate(good, math.Inf(1), t0) }, ErrInvalidRate},
		{"duration NaN", func() (State, error) { return SetDuration(good, math.NaN()) }, ErrInvalidDuration},
		{"duration negative", func() (State, error) { return SetDuration(good, -1) }, ErrInvalidDuration},
		{"negative now", func() (State, error) { return Pause(State{Playing: true}, -1) }, ErrInvalidTime},
		{"overflowing now", func() (State, error) { return Play(good, math.MaxInt64, 0) }, ErrInvalidTime},
		{"negative lead", func() (State, error) { return Play(good, t0, -1) }, ErrInvalidTime},
		{"lead too long", func() (State, error) { return Seek(good, 1, t0, MaxLeadMS+1) }, ErrInvalidTime},
		{"state with NaN position", func() (State, error) { return Play(State{Position: math.NaN()}, t0, 0) }, ErrInvalidState},
		{"state with negative position", func() (State, error) { return Play(State{Position: -1}, t0, 0) }, ErrInvalidState},
		{"state with bad rate", func() (State, error) { return Pause(State{Playing: true, Rate: 9}, t0) }, ErrInvalidState},
		{"state with Inf duration", func() (State, error) { return Seek(State{Duration: math.Inf(1)}, 1, t0, 0) }, ErrInvalidState},
		{"state with negative time", func() (State, error) { return SetRate(State{UpdatedAt: -5}, 1, t0) }, ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.run()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRateBoundsAccepted(t *testing.T) {
	for _, r := range []float64{MinRate, 0.5, 1, 1.75, MaxRate} {
		s, err := SetRate(State{}, r, t0)
		if err != nil || s.Rate != r {
			t.Fatalf("SetRate(%v) = %+v, %v", r, s, err)
		}
	}
}

func TestErrorLeavesStateUnchanged(t *testing.T) {
	s := State{Playing: true, Position: 3, Rate: 1, UpdatedAt: t0, Version: 5}
	got, err := SetRate(s, 10, t0+1000)
	if err == nil || got != s {
		t.Fatalf("SetRate(10) = %+v, %v; want unchanged state and an error", got, err)
	}
}

func TestEnded(t *testing.T) {
	tests := []struct {
		name  string
		state State
		at    int64
		want  bool
	}{
		{"unknown duration never ends", State{Playing: true, Position: 1e6, UpdatedAt: t0}, t0 + 1e9, false},
		{"playing before end", State{Playing: true, Position: 50, Rate: 1, UpdatedAt: t0, Duration: 60}, t0 + 9_999, false},
		{"playing reaches end", State{Playing: true, Position: 50, Rate: 1, UpdatedAt: t0, Duration: 60}, t0 + 10_000, true},
		{"playing past end", State{Playing: true, Position: 50, Rate: 1, UpdatedAt: t0, Duration: 60}, t0 + 60_000, true},
		{"double rate reaches end sooner", State{Playing: true, Position: 50, Rate: 2, UpdatedAt: t0, Duration: 60}, t0 + 5_000, true},
		{"paused mid-way", State{Position: 30, UpdatedAt: t0, Duration: 60}, t0 + 60_000, false},
		{"paused at end", State{Position: 60, UpdatedAt: t0, Duration: 60}, t0, true},
		{"scheduled start not ended", State{Playing: true, Position: 59.5, Rate: 1, UpdatedAt: t0 + 1000, Duration: 60}, t0 + 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Ended(tt.state, tt.at); got != tt.want {
				t.Fatalf("Ended = %v, want %v", got, tt.want)
			}
		})
	}
}
