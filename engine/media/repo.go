package media

import "time"

// Repo keeps what the media package remembers between runs: the rooms'
// resume positions and the probe catalog. badger.go keeps both in the
// store (NewBadger); repo_test.go is the test every Repo passes.
type Repo interface {
	ResumeRepo
	CatalogRepo
}

// ResumeRepo keeps, per room and library file, where the room left it.
type ResumeRepo interface {
	// PutResume records a position (and the file's duration, 0 when
	// unknown) that is forgotten after ttl.
	PutResume(room, rel string, pos, dur float64, ttl time.Duration) error
	DeleteResume(room, rel string) error
	// Resumes calls fn for room's positions in path order until fn returns
	// false. A record that cannot be read is left out.
	Resumes(room string, fn func(rel string, pos float64) bool) error
}

// CatalogRepo keeps probe results and keyframe times by library path.
// Getters report false when there is nothing (readable) kept.
type CatalogRepo interface {
	Probe(rel string) (Probed, bool)
	PutProbe(rel string, p Probed) error
	Keyframes(rel string) (Keyframes, bool)
	PutKeyframes(rel string, k Keyframes) error
}

// Keyframes are a library file's video keyframe times as kept: valid while
// the file keeps its size and modification time.
type Keyframes struct {
	Size    int64     `json:"size"`
	ModTime int64     `json:"mtime"` // unix nanoseconds
	Times   []float64 `json:"t"`
}
