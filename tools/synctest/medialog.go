package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/media"
	"github.com/chromedp/chromedp"
	"golang.org/x/sys/unix"

	"watchparty/engine/browsertest"
)

// MediaNote is one line of Chromium's own media log for a page's players
// (the DevTools protocol's Media domain): a pipeline event with its own
// instant, or a property or message at the instant it reached this program
// (Chromium sends those in batches, so they can be late by up to a
// second). At is machine ms.
type MediaNote struct {
	At     float64 `json:"at"`
	Player string  `json:"player"`
	Kind   string  `json:"kind"` // event, property, message, error
	Text   string  `json:"text"`
	Exact  bool    `json:"exact"` // At is Chromium's own instant (events), not the arrival
}

// maxMediaNotes bounds a page's media log.
const maxMediaNotes = 20000

// MediaLog collects a window's media log.
type MediaLog struct {
	mu    sync.Mutex
	notes []MediaNote
	// mono is the machine's wall clock minus its monotonic clock, ms:
	// Chromium stamps media events with its monotonic clock (TimeTicks).
	mono float64
}

// monoOffset is the wall clock minus CLOCK_MONOTONIC, in ms.
func monoOffset() float64 {
	var ts unix.Timespec
	wall := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return msOf(wall) - (float64(ts.Sec)*1000 + float64(ts.Nsec)/1e6)
}

// WatchMedia turns on window w's media log (call it before the page
// loads) and returns it.
func WatchMedia(t testing.TB, w *browsertest.Window) *MediaLog {
	t.Helper()
	l := &MediaLog{mono: monoOffset()}
	if err := chromedp.Listen(w.Context(), l.onEvent); err != nil {
		t.Fatalf("synctest: media log: %v", err)
	}
	w.Do("enable the media log", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, media.Enable, cdp.Empty{})
		return err
	}))
	return l
}

func (l *MediaLog) add(n MediaNote) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.notes) < maxMediaNotes {
		l.notes = append(l.notes, n)
	}
}

// onEvent runs on chromedp's reader goroutine.
func (l *MediaLog) onEvent(ev any) {
	now := msOf(time.Now())
	switch e := ev.(type) {
	case *media.EventPlayerEventsAdded:
		for _, x := range e.Events {
			l.add(MediaNote{At: x.Timestamp.Float64()*1000 + l.mono, Player: string(e.PlayerID), Kind: "event", Text: x.Value, Exact: true})
		}
	case *media.EventPlayerPropertiesChanged:
		for _, p := range e.Properties {
			l.add(MediaNote{At: now, Player: string(e.PlayerID), Kind: "property", Text: p.Name + "=" + p.Value})
		}
	case *media.EventPlayerMessagesLogged:
		for _, m := range e.Messages {
			l.add(MediaNote{At: now, Player: string(e.PlayerID), Kind: "message", Text: string(m.Level) + ": " + m.Message})
		}
	case *media.EventPlayerErrorsRaised:
		for _, x := range e.Errors {
			l.add(MediaNote{At: now, Player: string(e.PlayerID), Kind: "error", Text: fmt.Sprintf("%s %d", x.ErrorType, x.Code)})
		}
	}
}

// Notes returns the log, in the order of At.
func (l *MediaLog) Notes() []MediaNote {
	l.mu.Lock()
	out := append([]MediaNote(nil), l.notes...)
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// printMedia writes a late joiner's media log and player events from from
// (machine ms: its page began loading) to until, in ms after from.
func printMedia(w io.Writer, notes []MediaNote, events []Event, from, until float64) {
	type line struct {
		at   float64
		text string
	}
	var lines []line
	for _, n := range notes {
		if n.At < from || n.At > until {
			continue
		}
		mark := "~" // arrived then (batched)
		if n.Exact {
			mark = " "
		}
		lines = append(lines, line{n.At, fmt.Sprintf("%s%6.0f  media %-8s %s", mark, n.At-from, n.Kind, abbrevText(n.Text))})
	}
	for _, e := range events {
		if e.T < from || e.T > until {
			continue
		}
		lines = append(lines, line{e.T, fmt.Sprintf(" %6.0f  element  %s", e.T-from, e.Type)})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at < lines[j].at })
	fmt.Fprintln(w, "  its player until the first play (ms after the page started loading; ~ marks a media-log line stamped when it arrived, not when it happened):")
	for _, x := range lines {
		fmt.Fprintln(w, "   "+x.text)
	}
}

func abbrevText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
