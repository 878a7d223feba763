package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSubtitleBytes bounds the SubRip input SRTToVTT reads.
const MaxSubtitleBytes = 8 << 20

// Subtitle conversion errors.
var (
	// ErrSubtitleTooLarge means the input exceeds MaxSubtitleBytes.
	ErrSubtitleTooLarge = errors.New("subtitle file too large")
	// ErrMalformedSubtitle means the input is not readable SubRip; the
	// wrapping message names the line.
	ErrMalformedSubtitle = errors.New("malformed subtitle file")
)

// SRTToVTT converts SubRip (.srt) subtitles read from r into WebVTT written
// to w. It reads at most MaxSubtitleBytes and writes nothing unless the whole
// input converts.
//
// It accepts a byte-order mark, CRLF or CR line ends, cue numbers or none,
// commas or dots before the milliseconds, hour-less timestamps (01:02,500),
// SubRip position hints after the timing (dropped), and a missing final
// blank line. Text after a stray blank line inside a cue joins that cue,
// unless it is a number followed by what looks like a broken timing line.
// Input that is not UTF-8 is read as Windows-1252, the usual encoding of
// older SubRip files. Cue text keeps its tags (<i>, <b>, ...); browsers show
// VTT cue text as text, never as HTML. A "-->" inside text is escaped so it
// cannot start a cue. A timing line that does not parse, or ends before it
// starts, is an error naming its line number.
func SRTToVTT(r io.Reader, w io.Writer) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxSubtitleBytes+1))
	if err != nil {
		return fmt.Errorf("reading subtitles: %w", err)
	}
	if len(data) > MaxSubtitleBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrSubtitleTooLarge, MaxSubtitleBytes)
	}
	text := decodeSubtitleText(data)
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")

	var out bytes.Buffer
	out.Grow(len(text) + len(text)/8 + 16)
	out.WriteString("WEBVTT\n")
	inCue := false // a cue is open and its text may continue
	for i := 0; i < len(lines); {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			i++
			continue
		}
		timing := i
		if !strings.Contains(line, "-->") {
			isNumber := allDigits(line) && i+1 < len(lines) && strings.Contains(lines[i+1], "-->")
			brokenCue := allDigits(line) && (!inCue || i+1 < len(lines) && timingLike(lines[i+1]))
			switch {
			case isNumber:
				timing = i + 1
			case brokenCue:
				return fmt.Errorf("%w: line %d: expected a timing line after cue number %s", ErrMalformedSubtitle, i+2, line)
			case inCue:
				// Text after a blank line inside a cue: keep it in that cue.
				i = writeCueText(&out, lines, i)
				continue
			default:
				return fmt.Errorf("%w: line %d: expected a cue number or a timing line", ErrMalformedSubtitle, i+1)
			}
		}
		start, end, err := parseSRTTiming(lines[timing])
		if err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrMalformedSubtitle, timing+1, err)
		}
		out.WriteString("\n")
		out.WriteString(formatVTTTime(start))
		out.WriteString(" --> ")
		out.WriteString(formatVTTTime(end))
		out.WriteString("\n")
		i = writeCueText(&out, lines, timing+1)
		inCue = true
	}
	_, err = w.Write(out.Bytes())
	return err
}

// timingLike reports whether a line looks like a timing line gone wrong
// ("00:00:01,000 -> 00:00:02,000"): it starts with a digit and has a colon.
// After a cue number such a line is an error, not cue text.
func timingLike(line string) bool {
	line = strings.TrimSpace(line)
	return line != "" && line[0] >= '0' && line[0] <= '9' && strings.Contains(line, ":")
}

// writeCueText copies cue text lines from lines[i] up to the next blank
// line and returns the index after them.
func writeCueText(out *bytes.Buffer, lines []string, i int) int {
	for ; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		if strings.TrimSpace(line) == "" {
			break
		}
		out.WriteString(strings.ReplaceAll(line, "-->", "--&gt;"))
		out.WriteString("\n")
	}
	return i
}

// decodeSubtitleText returns data as UTF-8 text without a byte-order mark.
// Invalid UTF-8 is taken as Windows-1252. NUL becomes U+FFFD, as WebVTT
// requires.
func decodeSubtitleText(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var s string
	if utf8.Valid(data) {
		s = string(data)
	} else {
		var b strings.Builder
		b.Grow(len(data) + len(data)/4)
		for _, c := range data {
			b.WriteRune(windows1252(c))
		}
		s = b.String()
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// windows1252 decodes a Windows-1252 byte: 0x80–0x9F are the
// characters below, the other bytes equal their Unicode code points.
// Unassigned bytes map to U+FFFD.
func windows1252(c byte) rune {
	cp1252 := [32]rune{
		'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
		'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
	}
	if c >= 0x80 && c < 0xA0 {
		return cp1252[c-0x80]
	}
	return rune(c)
}

// parseSRTTiming reads "00:01:02,500 --> 00:01:04,000" with optional
// trailing position hints, returning milliseconds.
func parseSRTTiming(line string) (start, end int64, err error) {
	left, right, _ := strings.Cut(line, "-->")
	left = strings.TrimSpace(left)
	right = strings.TrimSpace(right)
	if f := strings.Fields(right); len(f) > 0 {
		right = f[0] // drop "X1:... X2:..." position hints
	}
	if start, err = parseSRTTime(left); err != nil {
		return 0, 0, fmt.Errorf("start time %q: %w", left, err)
	}
	if end, err = parseSRTTime(right); err != nil {
		return 0, 0, fmt.Errorf("end time %q: %w", right, err)
	}
	if end < start {
		return 0, 0, fmt.Errorf("cue ends (%s) before it starts (%s)", right, left)
	}
	return start, end, nil
}

var errTimeFormat = errors.New("want hh:mm:ss,mmm")

// parseSRTTime reads [h]h:mm:ss[,.]mmm (hours optional, 1–4 digits;
// 1–3 fraction digits) into milliseconds.
func parseSRTTime(s string) (int64, error) {
	clock, frac, ok := strings.Cut(s, ",")
	if !ok {
		clock, frac, ok = strings.Cut(s, ".")
	}
	if !ok || len(frac) == 0 || len(frac) > 3 || !allDigits(frac) {
		return 0, errTimeFormat
	}
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, errTimeFormat
	}
	var hours int64
	if len(parts) == 3 {
		h := parts[0]
		if len(h) > 4 || !allDigits(h) {
			return 0, errTimeFormat
		}
		hours, _ = strconv.ParseInt(h, 10, 64)
		parts = parts[1:]
	}
	mins, okM := twoDigits(parts[0])
	secs, okS := twoDigits(parts[1])
	if !okM || !okS || mins >= 60 || secs >= 60 {
		return 0, errTimeFormat
	}
	ms, _ := strconv.ParseInt(frac, 10, 64)
	for n := len(frac); n < 3; n++ {
		ms *= 10 // ",5" is half a second
	}
	return ((hours*60+mins)*60+secs)*1000 + ms, nil
}

func twoDigits(s string) (int64, bool) {
	if len(s) < 1 || len(s) > 2 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n, true
}

// formatVTTTime writes milliseconds as hh:mm:ss.mmm (hours grow past two
// digits when needed).
func formatVTTTime(ms int64) string {
	h := ms / 3_600_000
	m := ms / 60_000 % 60
	s := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d.%03d", h, m, s, ms%1000)
}
