package room

import (
	"crypto/rand"
	"strings"
)

// CodeAlphabet holds the characters of room codes: digits and upper-case
// letters without the look-alikes 0/O, 1/I/L (and U, which reads as V).
const CodeAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

// CodeLen is the number of characters in a room code. 10 characters of a
// 30-character alphabet carry about 49 bits.
const CodeLen = 10

// NewCode returns a fresh random room code (without the display dash).
func NewCode() string {
	var b [CodeLen]byte
	// Rejection sampling keeps every character equally likely.
	const limit = 256 - 256%len(CodeAlphabet)
	var buf [32]byte
	n := 0
	for n < CodeLen {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails on supported systems
		for _, x := range buf {
			if int(x) >= limit {
				continue
			}
			b[n] = CodeAlphabet[int(x)%len(CodeAlphabet)]
			n++
			if n == CodeLen {
				break
			}
		}
	}
	return string(b[:])
}

// FormatCode groups a code for display: ABCDE-FGHJK.
func FormatCode(code string) string {
	if len(code) != CodeLen {
		return code
	}
	return code[:CodeLen/2] + "-" + code[CodeLen/2:]
}

// NormalizeCode accepts a code as a person may type it (any case, with or
// without the dash or spaces) and returns its canonical form.
func NormalizeCode(raw string) (string, bool) {
	if len(raw) > 64 {
		return "", false
	}
	var b strings.Builder
	b.Grow(CodeLen)
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case ch == '-' || ch == ' ' || ch == '\t':
			continue
		case ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		}
		if strings.IndexByte(CodeAlphabet, ch) < 0 {
			return "", false
		}
		b.WriteByte(ch)
	}
	if b.Len() != CodeLen {
		return "", false
	}
	return b.String(), true
}
