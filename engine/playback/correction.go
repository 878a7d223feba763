package playback

import "math"

// Action is what a client does to its player after comparing it with the
// shared position.
type Action int

// Correction actions.
const (
	// ActionNone: the player is close enough; run at the base rate.
	ActionNone Action = iota
	// ActionNudge: run at a slightly different rate until the drift is gone.
	ActionNudge
	// ActionSeek: jump to the expected position.
	ActionSeek
)

// String returns the action's name as used in logs and the client code.
func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionNudge:
		return "nudge"
	case ActionSeek:
		return "seek"
	}
	return "unknown"
}

// Tuning holds the thresholds of the correction rule.
type Tuning struct {
	// DeadZoneMS: drifts with |drift| <= DeadZoneMS are left alone.
	DeadZoneMS float64
	// SeekThresholdMS: drifts with |drift| >= SeekThresholdMS are fixed by
	// seeking; smaller ones outside the dead zone by a rate nudge.
	SeekThresholdMS float64
	// CatchUpMS is the wall time a nudge aims to remove the drift in.
	CatchUpMS float64
	// MaxNudge caps the rate change as a fraction of the base rate (0.1 means
	// at most ±10%). 0 disables nudging: the player only seeks.
	MaxNudge float64
}

// DefaultTuning suits players with a fine-grained playbackRate (HTML video,
// HLS). With these values a drift up to MaxNudge*CatchUpMS = 150 ms is removed
// in 1.5 s; a larger one (up to the 1 s seek threshold) at the ±10% cap, that
// is 100 ms of drift per second.
var DefaultTuning = Tuning{
	DeadZoneMS:      40,
	SeekThresholdMS: 1000,
	CatchUpMS:       1500,
	MaxNudge:        0.10,
}

// CoarseTuning suits players whose rate cannot be nudged finely (the
// YouTube IFrame player only offers steps such as 0.75, 1 and 1.25): no
// nudges, a wider dead zone because every seek costs a rebuffer, and a lower
// seek threshold because seeking is the only tool.
var CoarseTuning = Tuning{
	DeadZoneMS:      150,
	SeekThresholdMS: 400,
	CatchUpMS:       1500,
	MaxNudge:        0,
}

// Correction is the outcome of Tuning.Correct.
type Correction struct {
	// Action is what to do.
	Action Action
	// Rate is the playbackRate the player should run at now: the nudged rate
	// for ActionNudge, the base rate otherwise (which also ends an earlier
	// nudge once the drift is back inside the dead zone).
	Rate float64
}

// Correct decides how to steer a player. driftMS is the player's position
// minus the expected shared position, in milliseconds: positive means the
// player is ahead and must slow down. baseRate is the shared State's rate
// (0 means 1).
//
// A nudge changes the rate by -driftMS/CatchUpMS, which removes the drift in
// CatchUpMS of wall time, capped at MaxNudge*baseRate. A NaN or infinite
// drift (a player that reports no time yet) asks for nothing.
func (t Tuning) Correct(driftMS, baseRate float64) Correction {
	if !finite(baseRate) || baseRate <= 0 {
		baseRate = 1
	}
	none := Correction{Action: ActionNone, Rate: baseRate}
	if !finite(driftMS) {
		return none
	}
	mag := math.Abs(driftMS)
	if mag <= t.DeadZoneMS {
		return none
	}
	if t.SeekThresholdMS > 0 && mag >= t.SeekThresholdMS {
		return Correction{Action: ActionSeek, Rate: baseRate}
	}
	if t.MaxNudge <= 0 || t.CatchUpMS <= 0 {
		return none
	}
	delta := -driftMS / t.CatchUpMS
	limit := t.MaxNudge * baseRate
	delta = math.Max(-limit, math.Min(limit, delta))
	return Correction{Action: ActionNudge, Rate: baseRate + delta}
}
