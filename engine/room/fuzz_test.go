package room

import (
	"strings"
	"testing"
)

// FuzzNormalizeCode: codes typed by people (and attackers) never panic;
// an accepted code is canonical, in the alphabet, and formats back to itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"ABCDE-FGHJK", "abcde fghjk", "ABCDEFGHJK", "0OIL1", "", "../../etc", strings.Repeat("A", 65), "ABCDE-FGHJ\u00c9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		code, ok := NormalizeCode(raw)
		if !ok {
			return
		}
		if len(code) != CodeLen {
			t.Fatalf("NormalizeCode(%q) = %q, not %d characters", raw, code, CodeLen)
		}
		for i := 0; i < len(code); i++ {
			if strings.IndexByte(CodeAlphabet, code[i]) < 0 {
				t.Fatalf("NormalizeCode(%q) = %q has %q", raw, code, code[i])
			}
		}
		if again, ok := NormalizeCode(FormatCode(code)); !ok || again != code {
			t.Fatalf("%q does not survive FormatCode: %q %v", code, again, ok)
		}
	})
}
