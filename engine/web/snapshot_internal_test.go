package web

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	assets "watchparty/embed"
)

// TestEarlyAimFollowsSyncJS: the early load's aim is made of sync.js's
// first guesses; when one of them changes there, the aim must follow.
func TestEarlyAimFollowsSyncJS(t *testing.T) {
	src, err := fs.ReadFile(assets.Static, "static/js/sync.js")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{
		"jumpLatencyMs":  syncJumpLatencyMs,
		"startLatencyMs": syncStartLatencyMs,
	} {
		m := regexp.MustCompile(`(?m)^\s*` + name + `:\s*(\d+),`).FindSubmatch(src)
		if m == nil {
			t.Errorf("sync.js has no mechanics.%s", name)
			continue
		}
		if got, _ := strconv.Atoi(string(m[1])); got != want {
			t.Errorf("sync.js mechanics.%s is %d; the early aim takes %d", name, got, want)
		}
	}
}

// TestEarlyJoinCostFollowsPlayerJS: the early script reads what player.js
// keeps of this device's joins, under the same key and the same bounds.
func TestEarlyJoinCostFollowsPlayerJS(t *testing.T) {
	src, err := fs.ReadFile(assets.Static, "static/js/player.js")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"joinKey":     `localStorage.getItem(%s)`,
		"joinSamples": `j.length <= %s`,
		"joinMinMs":   `x >= %s`,
		"joinMaxMs":   `x <= %s`,
	} {
		m := regexp.MustCompile(`(?m)^const ` + name + ` = ([^;]+);`).FindSubmatch(src)
		if m == nil {
			t.Errorf("player.js has no %s", name)
			continue
		}
		if w := strings.Replace(want, "%s", string(m[1]), 1); !strings.Contains(earlyPlayer, w) {
			t.Errorf("player.js %s is %s; the early script has no %s", name, m[1], w)
		}
	}
}
