// Package playback holds the shared-playback arithmetic of a room: where the
// media should be at a given server instant, and how play, pause, seek and
// rate commands move that anchor. It also documents, as code, the correction
// rule clients apply to keep their player on the shared position.
//
// Everything here is pure: no clocks are read and nothing is stored. Callers
// pass the server time explicitly as Unix milliseconds (int64), which keeps
// the arithmetic exact and the tests deterministic.
package playback

import (
	"errors"
	"fmt"
	"math"
)

// Rate limits accepted by SetRate. Browsers play 0.25x to 4x reliably with
// audio; beyond that most mute the sound or refuse the value.
const (
	MinRate = 0.25
	MaxRate = 4.0
)

// MaxLeadMS bounds how far ahead of "now" a start may be scheduled.
const MaxLeadMS = 10_000

// Errors returned by the state transitions. They are wrapped with details;
// test for them with errors.Is.
var (
	ErrInvalidPosition = errors.New("playback: invalid position")
	ErrInvalidRate     = errors.New("playback: invalid rate")
	ErrInvalidDuration = errors.New("playback: invalid duration")
	ErrInvalidTime     = errors.New("playback: invalid time")
	ErrInvalidState    = errors.New("playback: invalid state")
)

// State is the shared playback anchor of a room.
//
// The media is at Position seconds at server instant UpdatedAt (Unix
// milliseconds). When Playing, it advances at Rate media seconds per wall
// second from that instant on. UpdatedAt may lie in the future: that is a
// scheduled start, and until it arrives the position stays at Position, so
// every member can begin at the same moment.
type State struct {
	// Source identifies what is playing (a canonical URL or library path).
	Source string `json:"source"`
	// Kind is the kind of source ("youtube", "file", "hls", "library").
	Kind string `json:"kind"`
	// Playing reports whether the media advances after UpdatedAt.
	Playing bool `json:"playing"`
	// Position is the media time in seconds at UpdatedAt.
	Position float64 `json:"position"`
	// Rate is the playback rate. The zero value means normal speed (1), so a
	// zero State is usable.
	Rate float64 `json:"rate"`
	// UpdatedAt is the server instant of the anchor, in Unix milliseconds.
	UpdatedAt int64 `json:"updatedAt"`
	// Duration is the media length in seconds; 0 means unknown (live streams
	// or not reported yet).
	Duration float64 `json:"duration"`
	// Version increases by one on every change, so clients can drop stale
	// updates and the room can tell whether a command changed anything.
	Version uint64 `json:"version"`
}

// EffectiveRate returns the rate the position advances at: Rate, or 1 when
// Rate is unset.
func (s State) EffectiveRate() float64 {
	if s.Rate == 0 {
		return 1
	}
	return s.Rate
}

// Validate reports whether the state holds only finite, in-range numbers.
func (s State) Validate() error {
	if !finite(s.Position) || s.Position < 0 {
		return fmt.Errorf("%w: position %v", ErrInvalidState, s.Position)
	}
	if !finite(s.Duration) || s.Duration < 0 {
		return fmt.Errorf("%w: duration %v", ErrInvalidState, s.Duration)
	}
	if s.Rate != 0 && !validRate(s.Rate) {
		return fmt.Errorf("%w: rate %v", ErrInvalidState, s.Rate)
	}
	if s.UpdatedAt < 0 {
		return fmt.Errorf("%w: updatedAt %d", ErrInvalidState, s.UpdatedAt)
	}
	return nil
}

// PositionAt returns the media position in seconds at server instant
// serverMS (Unix milliseconds).
//
// A paused state is at Position. A playing state is at Position until
// UpdatedAt (a scheduled start), then advances at EffectiveRate. The result
// is never negative and, when Duration is known, never beyond Duration.
func (s State) PositionAt(serverMS int64) float64 {
	p := s.Position
	if s.Playing && serverMS > s.UpdatedAt {
		p += (float64(serverMS) - float64(s.UpdatedAt)) / 1000 * s.EffectiveRate()
	}
	return s.clamp(p)
}

func (s State) clamp(p float64) float64 {
	if math.IsNaN(p) || p < 0 {
		return 0
	}
	if s.Duration > 0 && p > s.Duration {
		return s.Duration
	}
	return p
}

// Load returns a paused state for a new source starting at start seconds.
// Duration is reset to unknown and the version continues from s.
func Load(s State, source, kind string, start float64, nowMS int64) (State, error) {
	if err := checkTime(nowMS, 0); err != nil {
		return s, err
	}
	if !finite(start) || start < 0 {
		return s, fmt.Errorf("%w: start %v must be a finite number of seconds >= 0", ErrInvalidPosition, start)
	}
	return State{
		Source:    source,
		Kind:      kind,
		Position:  start,
		Rate:      s.Rate,
		UpdatedAt: nowMS,
		Version:   s.Version + 1,
	}, nil
}

// Play starts playback leadMS milliseconds after nowMS, from the position
// the media has at nowMS. Scheduling the start slightly ahead lets every
// member receive the command before it takes effect.
//
// Playing from the end of known-length media restarts it from 0. Play on a
// state that is already playing changes nothing and returns s unchanged
// (same Version), so callers can skip the broadcast.
func Play(s State, nowMS, leadMS int64) (State, error) {
	if err := check(s, nowMS, leadMS); err != nil {
		return s, err
	}
	if s.Playing {
		return s, nil
	}
	next := s
	next.Position = s.PositionAt(nowMS)
	if s.Duration > 0 && next.Position >= s.Duration {
		next.Position = 0
	}
	next.Playing = true
	next.UpdatedAt = nowMS + leadMS
	next.Version++
	return next, nil
}

// Pause stops playback at the position the media has at nowMS. If a start
// was scheduled after nowMS, the media never moved and stays at its start
// position. Pause on a paused state returns s unchanged (same Version).
func Pause(s State, nowMS int64) (State, error) {
	if err := check(s, nowMS, 0); err != nil {
		return s, err
	}
	if !s.Playing {
		return s, nil
	}
	next := s
	next.Position = s.PositionAt(nowMS)
	next.Playing = false
	next.UpdatedAt = nowMS
	next.Version++
	return next, nil
}

// Seek moves to pos seconds. A paused state stays paused at pos from nowMS;
// a playing state resumes from pos leadMS milliseconds after nowMS so every
// member starts the new position together. A pos beyond a known Duration is
// clamped to it.
func Seek(s State, pos float64, nowMS, leadMS int64) (State, error) {
	if err := check(s, nowMS, leadMS); err != nil {
		return s, err
	}
	if !finite(pos) || pos < 0 {
		return s, fmt.Errorf("%w: %v must be a finite number of seconds >= 0", ErrInvalidPosition, pos)
	}
	next := s
	next.Position = s.clamp(pos)
	next.UpdatedAt = nowMS
	if s.Playing {
		next.UpdatedAt = nowMS + leadMS
	}
	next.Version++
	return next, nil
}

// SetRate changes the playback rate at nowMS without moving the position:
// the media is re-anchored at PositionAt(nowMS) and advances at the new rate
// from there. A start scheduled after nowMS keeps its instant and position.
// Rates outside [MinRate, MaxRate] are rejected.
func SetRate(s State, rate float64, nowMS int64) (State, error) {
	if err := check(s, nowMS, 0); err != nil {
		return s, err
	}
	if !validRate(rate) {
		return s, fmt.Errorf("%w: %v is outside %v..%v", ErrInvalidRate, rate, MinRate, MaxRate)
	}
	next := s
	if nowMS > s.UpdatedAt || !s.Playing {
		next.Position = s.PositionAt(nowMS)
		next.UpdatedAt = nowMS
	}
	next.Rate = rate
	next.Version++
	return next, nil
}

// SetDuration records the media length once a player reports it. The
// anchor is kept; a position beyond the new duration is clamped.
func SetDuration(s State, duration float64) (State, error) {
	if err := s.Validate(); err != nil {
		return s, err
	}
	if !finite(duration) || duration < 0 {
		return s, fmt.Errorf("%w: %v must be a finite number of seconds >= 0", ErrInvalidDuration, duration)
	}
	next := s
	next.Duration = duration
	next.Position = next.clamp(s.Position)
	next.Version++
	return next, nil
}

// Ended reports whether media of known length has reached its end at nowMS.
// Media of unknown length (Duration 0) never ends by this rule.
func Ended(s State, nowMS int64) bool {
	return s.Duration > 0 && s.PositionAt(nowMS) >= s.Duration
}

func check(s State, nowMS, leadMS int64) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return checkTime(nowMS, leadMS)
}

func checkTime(nowMS, leadMS int64) error {
	if nowMS < 0 || nowMS > math.MaxInt64-MaxLeadMS {
		return fmt.Errorf("%w: now %d ms is out of range", ErrInvalidTime, nowMS)
	}
	if leadMS < 0 || leadMS > MaxLeadMS {
		return fmt.Errorf("%w: lead %d ms is outside 0..%d", ErrInvalidTime, leadMS, MaxLeadMS)
	}
	return nil
}

func validRate(r float64) bool {
	return r >= MinRate && r <= MaxRate // false for NaN
}

func finite(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}
