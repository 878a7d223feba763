package room

import (
	"strings"
	"testing"

	"watchparty/engine/room/proto"
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

// FuzzParsePath: a drift report's path, whatever a member sends, never
// panics; an accepted one has figures within 0..maxPathMS and at most
// proto.MaxLoadedRanges ranges, each within 0..maxMediaSeconds and not
// empty.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		`{"type":"drift","t":1,"down":100,"start":80,"seek":300}`,
		`{"type":"drift","t":1,"down":100,"start":80,"seek":300,"far":700,"ranges":[[0,10.5],[50,60]]}`,
		`{"type":"drift","down":-1,"start":1e300,"seek":0,"far":-1e300,"ranges":[[-5,1e300],[30,10],[1],[1,2,3],[]]}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"ranges":"everything"}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"ranges":[["0","1"],{"from":0}]}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"far":"far"}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"ranges":[[0,1],[2,3],[4,5],[6,7],[8,9],[10,11],[12,13],[14,15],[16,17]]}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"ranges":[[0,1]],"version":12}`,
		`{"type":"drift","down":1,"start":1,"seek":1,"ranges":[[0,1]],"version":"12"}`,
		`{"down":1e999}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, ok := parsePath(raw)
		if !ok {
			return
		}
		for _, v := range []int64{p.down, p.start, p.seek, p.far} {
			if v < 0 || v > maxPathMS {
				t.Fatalf("figure %d out of range in %+v", v, p)
			}
		}
		if p.nLoaded < 0 || p.nLoaded > proto.MaxLoadedRanges || (!p.ranges && p.nLoaded > 0) {
			t.Fatalf("%d ranges (said: %v)", p.nLoaded, p.ranges)
		}
		for _, r := range p.loaded[:p.nLoaded] {
			if !(r.from >= 0 && r.from < r.to && r.to <= maxMediaSeconds) {
				t.Fatalf("range %+v", r)
			}
		}
	})
}
