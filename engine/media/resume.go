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

// langName names a language ffprobe reports by ISO 639-2 code.
func langName(code string) string {
	switch code {
	case "eng", "en":
		return "English"
	case "ger", "deu", "de":
		return "Deutsch"
	case "fre", "fra", "fr":
		return "Français"
	case "spa", "es":
		return "Español"
	case "ita", "it":
		return "Italiano"
	case "por", "pt":
		return "Português"
	case "nld", "dut":
		return "Nederlands"
	case "jpn", "ja":
		return "日本語"
	case "kor", "ko":
		return "한국어"
	case "chi", "zho", "zh":
		return "中文"
	case "rus", "ru":
		return "Русский"
	case "pol", "pl":
		return "Polski"
	case "swe", "sv":
		return "Svenska"
	case "dan", "da":
		return "Dansk"
	case "nor", "no":
		return "Norsk"
	case "fin", "fi":
		return "Suomi"
	case "tur", "tr":
		return "Türkçe"
	case "ara", "ar":
		return "العربية"
	case "hin", "hi":
		return "हिन्दी"
	}
	return ""
}

// TrackLabel names an audio or subtitle stream for people: its title, or
// its language's name, or "Track N".
func TrackLabel(s Stream, n int) string {
	switch {
	case s.Title != "":
		return s.Title
	case langName(strings.ToLower(s.Language)) != "":
		return langName(strings.ToLower(s.Language))
	case s.Language != "":
		return s.Language
	}
	return "Track " + strconv.Itoa(n)
}
