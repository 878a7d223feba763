package app

// Option changes how NewServer builds a server. The command line passes none;
// tests use them (see engine/apptest).
type Option func(*serverOptions)

type serverOptions struct {
	hashTime, hashMemory uint32 // zero: the account package's defaults
	rtcLoopback          bool   // the SFU's loopback test mode (webrtc.go)
}

// WithHashCost sets the argon2id cost of new password hashes: passes and
// memory in KiB. Tests use a low cost so that sign-ups are quick. A hash
// records its own cost, so a store written with one cost works with another.
func WithHashCost(passes, memoryKiB uint32) Option {
	return func(o *serverOptions) { o.hashTime, o.hashMemory = passes, memoryKiB }
}
