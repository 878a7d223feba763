// Package i18n holds the catalogues of every string the web pages show, one
// JSON file per language (en.json is the reference: every other language has
// the same keys), and picks a page's language from a per-user choice or the
// browser's Accept-Language header.
//
// A string may hold placeholders in braces, {name}, filled by Format.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

//go:embed *.json
var files embed.FS

// Default is the language used when nothing else matches.
const Default = "en"

// Language is one language the pages are available in.
type Language struct {
	Code string // BCP 47, e.g. "de"
	Name string // the language's name for itself, e.g. "Deutsch"
}

// Catalogue maps keys to the strings of one language.
type Catalogue map[string]string

// The catalogues, read once from the embedded files.
var catalogues, languages, matcher = load() //nolint:gochecknoglobals // read once from the embedded files and only read

func load() (map[string]Catalogue, []Language, language.Matcher) {
	catalogues := map[string]Catalogue{}
	var languages []Language
	ents, err := files.ReadDir(".")
	if err != nil {
		panic(err) // embedded files: cannot fail
	}
	for _, e := range ents {
		code := strings.TrimSuffix(e.Name(), ".json")
		b, _ := files.ReadFile(e.Name())
		c := Catalogue{}
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", e.Name(), err)) // caught by the package's tests
		}
		catalogues[code] = c
		languages = append(languages, Language{Code: code, Name: c["lang_name"]})
	}
	sort.Slice(languages, func(i, j int) bool {
		// The default first, then by code: the matcher prefers earlier tags on ties.
		if (languages[i].Code == Default) != (languages[j].Code == Default) {
			return languages[i].Code == Default
		}
		return languages[i].Code < languages[j].Code
	})
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = language.Make(l.Code)
	}
	return catalogues, languages, language.NewMatcher(tags)
}

// Languages lists the available languages, the default first.
func Languages() []Language { return append([]Language(nil), languages...) }

// Supported reports whether code names an available language.
func Supported(code string) bool {
	_, ok := catalogues[code]
	return ok
}

// Get returns the catalogue of a language (the default's for an unknown code).
func Get(code string) Catalogue {
	if c, ok := catalogues[code]; ok {
		return c
	}
	return catalogues[Default]
}

// Pick chooses a language: the user's own choice when it names an available
// language, else the best match for the Accept-Language header, else the
// default.
func Pick(choice, acceptLanguage string) string {
	if Supported(choice) {
		return choice
	}
	if len(acceptLanguage) > 1024 {
		acceptLanguage = acceptLanguage[:1024]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return languages[idx].Code
}

// T returns the string for key; a key the catalogue lacks falls back to
// English, then to the key itself (a test keeps every key in every file).
func (c Catalogue) T(key string) string {
	if s, ok := c[key]; ok {
		return s
	}
	if s, ok := catalogues[Default][key]; ok {
		return s
	}
	return key
}

// Format returns the string for key with its placeholders filled from
// name/value pairs: Format("room_join_title", "room", "Film club").
func (c Catalogue) Format(key string, pairs ...any) string {
	s := c.T(key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}
