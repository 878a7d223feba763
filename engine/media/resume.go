package media

import (
	"strconv"
	"strings"
	"time"
)

// Resume remembers, per room, where the room was in each library file it
// left unfinished ("continue where we left off").
type Resume struct{ repo ResumeRepo }

// NewResume keeps positions in repo.
func NewResume(repo ResumeRepo) *Resume { return &Resume{repo: repo} }

// resumeTTL forgets positions after a while.
const resumeTTL = 180 * 24 * time.Hour

// Save records that room left library file rel at pos of dur seconds. A
// position in the first half minute or the last minute (finished) clears
// what was recorded.
func (r *Resume) Save(room, rel string, pos, dur float64) error {
	if pos < 30 || (dur > 0 && pos > dur-60) {
		return r.repo.DeleteResume(room, rel)
	}
	return r.repo.PutResume(room, rel, pos, dur, resumeTTL)
}

// Positions returns room's recorded positions by library path.
func (r *Resume) Positions(room string) (map[string]float64, error) {
	out := map[string]float64{}
	err := r.repo.Resumes(room, func(rel string, pos float64) bool {
		out[rel] = pos
		return len(out) < 10000
	})
	return out, err
}

// langNames names the languages ffprobe reports by ISO 639-2 code.
var langNames = map[string]string{
	"eng": "English", "en": "English", "ger": "Deutsch", "deu": "Deutsch", "de": "Deutsch", "fre": "Français", "fra": "Français", "fr": "Français",
	"spa": "Español", "es": "Español", "ita": "Italiano", "it": "Italiano", "por": "Português", "pt": "Português", "nld": "Nederlands", "dut": "Nederlands",
	"jpn": "日本語", "ja": "日本語", "kor": "한국어", "ko": "한국어", "chi": "中文", "zho": "中文", "zh": "中文", "rus": "Русский", "ru": "Русский",
	"pol": "Polski", "pl": "Polski", "swe": "Svenska", "sv": "Svenska", "dan": "Dansk", "da": "Dansk", "nor": "Norsk", "no": "Norsk",
	"fin": "Suomi", "fi": "Suomi", "tur": "Türkçe", "tr": "Türkçe", "ara": "العربية", "ar": "العربية", "hin": "हिन्दी", "hi": "हिन्दी",
}

// TrackLabel names an audio or subtitle stream for people: its title, or
// its language's name, or "Track N".
func TrackLabel(s Stream, n int) string {
	switch {
	case s.Title != "":
		return s.Title
	case langNames[strings.ToLower(s.Language)] != "":
		return langNames[strings.ToLower(s.Language)]
	case s.Language != "":
		return s.Language
	}
	return "Track " + strconv.Itoa(n)
}
