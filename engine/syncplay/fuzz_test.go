package syncplay

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeClient feeds arbitrary lines to the decoder: it must never
// panic, and what it accepts must respect the field limits.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{clientHello, clientState, clientSet, `{"List": null}`, `{"Chat": "hi"}`,
		`{"TLS": {"startTLS": "send"}}`, `{"Error": {"message": "bye"}}`, `{"Set": {"playlistChange": {"files": ["a"]}, "playlistIndex": {"index": null}}}`,
		`{"State": {"playstate": {"position": -0.5, "paused": true}}}`, `{"Hello": null}`, `{"Set": null}`, `{"State": null}`, "\xff", `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := DecodeClient(line)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v is not ErrBadMessage", err)
			}
			return
		}
		if h := m.Hello; h != nil && (len(h.Username) > MaxNameLen || len(h.Password) > MaxPasswordLen || len(h.Room) > MaxRoomLen) {
			t.Fatalf("accepted an oversize hello %+v", h)
		}
		if s := m.State; s != nil && (s.Position < 0 || s.Position > maxPosition || !finite(s.LatencyCalculation)) {
			t.Fatalf("accepted state %+v", s)
		}
		if s := m.Set; s != nil && (len(s.PlaylistFiles) > MaxFiles || s.File != nil && len(s.File.Name) > MaxFileNameLen) {
			t.Fatalf("accepted set %+v", s)
		}
		if c := m.Chat; c != nil && len(*c) > MaxChatLen {
			t.Fatal("accepted an oversize chat line")
		}
	})
}

// FuzzLineReader checks that no input makes the reader return a line over
// its limit or panic.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n"), uint8(4))
	f.Add(bytes.Repeat([]byte("x"), 100), uint8(8))
	f.Fuzz(func(t *testing.T, in []byte, limit uint8) {
		lr := NewLineReader(bytes.NewReader(in), int(limit))
		for range len(in) + 1 {
			l, err := lr.ReadLine()
			if err != nil {
				if errors.Is(err, ErrLineTooLong) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				t.Fatal(err)
			}
			if len(l) > int(limit) || bytes.ContainsRune(l, '\n') {
				t.Fatalf("line %q over limit %d", l, limit)
			}
		}
	})
}
