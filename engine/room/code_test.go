package room

import (
	"strings"
	"testing"
)

func TestNewCodeAlphabetAndLength(t *testing.T) {
	for _, bad := range "01OIL" {
		if strings.ContainsRune(CodeAlphabet, bad) {
			t.Fatalf("alphabet contains the ambiguous %q", bad)
		}
	}
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 20000
	for range n {
		c := NewCode()
		if len(c) != CodeLen {
			t.Fatalf("code %q has length %d, want %d", c, len(c), CodeLen)
		}
		for _, r := range c {
			if !strings.ContainsRune(CodeAlphabet, r) {
				t.Fatalf("code %q has %q outside the alphabet", c, r)
			}
			counts[r]++
		}
		if seen[c] {
			t.Fatalf("code %q generated twice in %d", c, n)
		}
		seen[c] = true
	}
	// Every character is used, and none is wildly over- or under-used.
	want := float64(n*CodeLen) / float64(len(CodeAlphabet))
	for _, r := range CodeAlphabet {
		got := float64(counts[r])
		if got < want*0.85 || got > want*1.15 {
			t.Errorf("character %q used %v times, expected about %v", r, got, want)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{"canonical", "ABCDEFGHJK", "ABCDEFGHJK", true},
		{"grouped", "ABCDE-FGHJK", "ABCDEFGHJK", true},
		{"lower case", "abcde-fghjk", "ABCDEFGHJK", true},
		{"spaces", " abcde fghjk ", "ABCDEFGHJK", true},
		{"ambiguous letter", "ABCDE-FGHJO", "", false},
		{"digit one", "ABCDE-FGH1K", "", false},
		{"too short", "ABCDE-FGHJ", "", false},
		{"too long", "ABCDE-FGHJKM", "", false},
		{"empty", "", "", false},
		{"unicode", "ÀBCDE-FGHJK", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	c := NewCode()
	if got, ok := NormalizeCode(FormatCode(c)); !ok || got != c {
		t.Fatalf("round trip of %q through %q gave %q", c, FormatCode(c), got)
	}
}
