package media

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// A real-looking SubRip file: BOM, CRLF, tags, a position hint, a
// multi-line cue, hours past 9 and no blank line at the end.
const sampleSRT = "\ufeff1\r\n" +
	"00:00:01,600 --> 00:00:04,200\r\n" +
	"<i>Previously on the show...</i>\r\n" +
	"\r\n" +
	"2\r\n" +
	"00:00:05,900 --> 00:00:07,999 X1:100 X2:200 Y1:10 Y2:20\r\n" +
	"- Where are you going?\r\n" +
	"- Out. <b>Now.</b>\r\n" +
	"\r\n" +
	"3\r\n" +
	"10:59:59,000 --> 11:00:00,500\r\n" +
	"Fish & chips --> later"

const sampleVTT = "WEBVTT\n" +
	"\n" +
	"00:00:01.600 --> 00:00:04.200\n" +
	"<i>Previously on the show...</i>\n" +
	"\n" +
	"00:00:05.900 --> 00:00:07.999\n" +
	"- Where are you going?\n" +
	"- Out. <b>Now.</b>\n" +
	"\n" +
	"10:59:59.000 --> 11:00:00.500\n" +
	"Fish & chips --&gt; later\n"

func convert(t *testing.T, in string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := SRTToVTT(strings.NewReader(in), &out)
	if err != nil && out.Len() != 0 {
		t.Fatalf("failed conversion wrote %d bytes", out.Len())
	}
	return out.String(), err
}

func TestSRTToVTT(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "real-looking file", in: sampleSRT, want: sampleVTT},
		{name: "empty input", in: "", want: "WEBVTT\n"},
		{name: "only blank lines", in: "\n\r\n  \n", want: "WEBVTT\n"},
		{name: "LF and trailing blank lines",
			in:   "1\n00:00:00,000 --> 00:00:01,000\nA\n\n\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA\n"},
		{name: "old Mac CR line ends",
			in:   "1\r00:00:00,000 --> 00:00:01,000\rA\r\r2\r00:00:02,000 --> 00:00:03,000\rB\r",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA\n\n00:00:02.000 --> 00:00:03.000\nB\n"},
		{name: "no cue numbers",
			in:   "00:00:00,000 --> 00:00:01,000\nA\n\n00:00:02,000 --> 00:00:03,000\nB\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA\n\n00:00:02.000 --> 00:00:03.000\nB\n"},
		{name: "dots already", in: "1\n00:00:00.250 --> 00:00:01.000\nA\n",
			want: "WEBVTT\n\n00:00:00.250 --> 00:00:01.000\nA\n"},
		{name: "short fraction", in: "1\n0:0:1,5 --> 0:0:2,25\nA\n",
			want: "WEBVTT\n\n00:00:01.500 --> 00:00:02.250\nA\n"},
		{name: "no hours", in: "1\n01:02,003 --> 01:03,000\nA\n",
			want: "WEBVTT\n\n00:01:02.003 --> 00:01:03.000\nA\n"},
		{name: "long hours", in: "1\n123:00:00,000 --> 123:00:01,000\nA\n",
			want: "WEBVTT\n\n123:00:00.000 --> 123:00:01.000\nA\n"},
		{name: "spaces around timing", in: "  1  \n  00:00:00,000-->00:00:01,000  \nA  \n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA\n"},
		{name: "empty cue", in: "1\n00:00:00,000 --> 00:00:01,000\n\n2\n00:00:01,000 --> 00:00:02,000\nB\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n\n00:00:01.000 --> 00:00:02.000\nB\n"},
		{name: "zero-length cue", in: "1\n00:00:05,000 --> 00:00:05,000\nA\n",
			want: "WEBVTT\n\n00:00:05.000 --> 00:00:05.000\nA\n"},
		{name: "stray blank line inside a cue",
			in:   "1\n00:00:00,000 --> 00:00:01,000\nFirst\n\nSecond\n\n2\n00:00:02,000 --> 00:00:03,000\nB\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nFirst\nSecond\n\n00:00:02.000 --> 00:00:03.000\nB\n"},
		{name: "number-only text after a stray blank line",
			in:   "1\n00:00:00,000 --> 00:00:01,000\nThe year was\n\n1984\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nThe year was\n1984\n"},
		{name: "number-only cue text", in: "1\n00:00:00,000 --> 00:00:01,000\n42\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n42\n"},
		{name: "font tags kept", in: "1\n00:00:00,000 --> 00:00:01,000\n<font color=\"#ff0000\">Red</font>\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<font color=\"#ff0000\">Red</font>\n"},
		{name: "arrow in text escaped", in: "1\n00:00:00,000 --> 00:00:01,000\na --> b --> c\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\na --&gt; b --&gt; c\n"},
		{name: "windows-1252 text", in: "1\n00:00:00,000 --> 00:00:01,000\nCaf\xe9 \x93quoted\x94 \x80\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nCafé “quoted” €\n"},
		{name: "NUL replaced", in: "1\n00:00:00,000 --> 00:00:01,000\na\x00b\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\na\ufffdb\n"},
		{name: "UTF-8 kept", in: "1\n00:00:00,000 --> 00:00:01,000\n日本語 ñ\n",
			want: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n日本語 ñ\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convert(t, tt.in)
			if err != nil {
				t.Fatalf("SRTToVTT: %v", err)
			}
			if got != tt.want {
				t.Fatalf("SRTToVTT =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestSRTToVTTMalformed(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{"text before any cue", "hello\n", "line 1: expected a cue number or a timing line"},
		{"already VTT", "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n", "line 1:"},
		{"number without timing", "1\nHello\n", "line 2: expected a timing line after cue number 1"},
		{"letters in time", "1\n00:00:0a,000 --> 00:00:01,000\nA\n", "line 2: start time"},
		{"minutes too big", "1\n00:61:00,000 --> 01:00:00,000\nA\n", "line 2: start time"},
		{"seconds too big", "1\n00:00:00,000 --> 00:00:60,000\nA\n", "line 2: end time"},
		{"missing milliseconds", "1\n00:00:01 --> 00:00:02\nA\n", "line 2: start time"},
		{"four-digit milliseconds", "1\n00:00:01,0000 --> 00:00:02,000\nA\n", "line 2: start time"},
		{"missing end", "1\n00:00:01,000 -->\nA\n", "line 2: end time"},
		{"missing start", "1\n --> 00:00:01,000\nA\n", "line 2: start time"},
		{"negative", "1\n-00:00:01,000 --> 00:00:02,000\nA\n", "line 2: start time"},
		{"too many fields", "1\n1:00:00:01,000 --> 00:00:02,000\nA\n", "line 2: start time"},
		{"ends before start", "1\n00:00:02,000 --> 00:00:01,000\nA\n", "line 2: cue ends"},
		{"bad second cue counts lines", "1\r\n00:00:00,000 --> 00:00:01,000\r\nA\r\n\r\n2\r\n00:00:01,000 -> 00:00:02,000\r\nB\r\n", "line 6: expected a timing line after cue number 2"},
		{"bad timing after blank", "1\n00:00:00,000 --> 00:00:01,000\nA\n\n00:00:xx,000 --> 00:00:02,000\n", "line 5: start time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convert(t, tt.in)
			if !errors.Is(err, ErrMalformedSubtitle) {
				t.Fatalf("error = %v, want ErrMalformedSubtitle", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSRTToVTTTooLarge(t *testing.T) {
	cue := "1\n00:00:00,000 --> 00:00:01,000\n" + strings.Repeat("x", 1000) + "\n\n"
	big := strings.Repeat(cue, MaxSubtitleBytes/len(cue)+1)
	_, err := convert(t, big)
	if !errors.Is(err, ErrSubtitleTooLarge) {
		t.Fatalf("error = %v, want ErrSubtitleTooLarge", err)
	}
	// Just under the limit converts.
	fits := strings.Repeat(cue, MaxSubtitleBytes/len(cue))
	if _, err := convert(t, fits); err != nil {
		t.Fatalf("input of %d bytes: %v", len(fits), err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestSRTToVTTIOErrors(t *testing.T) {
	if err := SRTToVTT(failingReader{}, io.Discard); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read error = %v", err)
	}
	if err := SRTToVTT(strings.NewReader(sampleSRT), failingWriter{}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("write error = %v", err)
	}
}
