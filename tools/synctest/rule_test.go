//go:build browser

package main

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"watchparty/engine/browsertest"
)

// ruleCases is testdata/correction.json.
type ruleCases struct {
	Tuning map[string]float64 `json:"tuning"`
	Cases  []struct {
		Name string         `json:"name"`
		In   map[string]any `json:"in"`
		Want ruleOutcome    `json:"want"`
	} `json:"cases"`
}

type ruleOutcome struct {
	Action   string  `json:"action"`
	Rate     float64 `json:"rate"`
	Nudging  bool    `json:"nudging"`
	Trimming bool    `json:"trimming"`
	Pitch    bool    `json:"pitch"`
}

// TestBrowserCorrectionRule runs the correction rule of sync.js over the
// cases of testdata/correction.json in a real room page, with the tuning
// that page got from the server in hello: the sync.* defaults of the
// configuration reach the page, and the rule does what the cases say.
func TestBrowserCorrectionRule(t *testing.T) {
	b, err := os.ReadFile("testdata/correction.json")
	if err != nil {
		t.Fatal(err)
	}
	var rc ruleCases
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatalf("testdata/correction.json: %v", err)
	}
	s := NewSession(t, t.TempDir(), "", 1, nil)
	w := s.Join(t, 0)
	w.WaitJS(`window.watchpartySync.cfg.deadZoneMs > 0`)

	got := browsertest.Eval[map[string]float64](w, `window.watchpartySync.cfg`)
	for k, v := range rc.Tuning {
		if got[k] != v {
			t.Errorf("the page's %s is %v; the cases assume %v (config/options.go's sync.* defaults, sent in hello)", k, got[k], v)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ins := make([]map[string]any, len(rc.Cases))
	for i, c := range rc.Cases {
		ins[i] = c.In
	}
	arg, _ := json.Marshal(ins)
	outs := browsertest.EvalAsync[[]ruleOutcome](w, `import("/static/js/sync.js").then((m) =>
		`+string(arg)+`.map((p) => m.correction(window.watchpartySync.cfg, { ...p, drift: p.drift === null ? NaN : p.drift })))`)
	if len(outs) != len(rc.Cases) {
		t.Fatalf("%d outcomes for %d cases", len(outs), len(rc.Cases))
	}
	for i, c := range rc.Cases {
		o := outs[i]
		if o.Action != c.Want.Action || math.Abs(o.Rate-c.Want.Rate) > 1e-9 || o.Nudging != c.Want.Nudging || o.Trimming != c.Want.Trimming || o.Pitch != c.Want.Pitch {
			t.Errorf("%s: correction(%v) = %+v, want %+v", c.Name, c.In, o, c.Want)
		}
	}
}
