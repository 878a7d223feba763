package account

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeEmailAndName: the sign-up field cleaners never panic, and
// what they accept is valid UTF-8, trimmed, and stable when cleaned again.
func FuzzNormalizeEmailAndName(f *testing.F) {
	for _, s := range []string{"ann@example.org", " Ann@Example.ORG ", "a@b", "@", "a@@b", "<script>@x.y", "\xff@x.y",
		"Ann", "  ", "\u202eevil", "a\x00b", strings.Repeat("é", 200), "Bob\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if e, err := NormalizeEmail(raw); err == nil {
			if !utf8.ValidString(e) || e != strings.TrimSpace(e) || !strings.Contains(e, "@") {
				t.Fatalf("NormalizeEmail(%q) = %q", raw, e)
			}
			if again, err := NormalizeEmail(e); err != nil || again != e {
				t.Fatalf("NormalizeEmail is not stable: %q -> %q -> %q, %v", raw, e, again, err)
			}
		}
		if n, err := CleanName(raw); err == nil {
			if !utf8.ValidString(n) || n != strings.TrimSpace(n) {
				t.Fatalf("CleanName(%q) = %q", raw, n)
			}
			if again, err := CleanName(n); err != nil || again != n {
				t.Fatalf("CleanName is not stable: %q -> %q -> %q, %v", raw, n, again, err)
			}
		}
	})
}
