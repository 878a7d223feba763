package media_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"watchparty/engine/media"
)

// repoBackends are the media.Repo implementations TestRepo runs on; a
// second backend adds its line here and passes the same test.
var repoBackends = []struct {
	name string
	open func(t *testing.T) media.Repo
}{
	{"badger", func(t *testing.T) media.Repo { return media.NewBadger(openStore(t)) }},
}

// TestRepo is what the resume positions and the probe catalog need of
// where they are kept.
func TestRepo(t *testing.T) {
	for _, b := range repoBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("resume", func(t *testing.T) { repoResume(t, b.open(t)) })
			t.Run("catalog", func(t *testing.T) { repoCatalog(t, b.open(t)) })
		})
	}
}

func resumes(t *testing.T, r media.ResumeRepo, room string, limit int) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	if err := r.Resumes(room, func(rel string, pos float64) bool { out[rel] = pos; return len(out) < limit }); err != nil {
		t.Fatal(err)
	}
	return out
}

func repoResume(t *testing.T, r media.Repo) {
	for _, p := range []struct {
		room, rel string
		pos       float64
	}{{"abc", "films/a.mkv", 100}, {"abc", "b.mp4", 200}, {"abcd", "c.mp4", 300}, {"abc", "films/a.mkv", 150}} {
		if err := r.PutResume(p.room, p.rel, p.pos, 3600, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// One room's positions only, not those of a room whose code starts alike.
	if got, want := resumes(t, r, "abc", 100), map[string]float64{"films/a.mkv": 150, "b.mp4": 200}; !maps.Equal(got, want) {
		t.Errorf("Resumes(abc) = %v, want %v", got, want)
	}
	if got := resumes(t, r, "abc", 1); len(got) != 1 {
		t.Errorf("Resumes did not stop when asked: %v", got)
	}
	if err := r.DeleteResume("abc", "films/a.mkv"); err != nil {
		t.Fatal(err)
	}
	if got := resumes(t, r, "abc", 100); !maps.Equal(got, map[string]float64{"b.mp4": 200}) {
		t.Errorf("after DeleteResume: %v", got)
	}
	if got := resumes(t, r, "nobody", 100); len(got) != 0 {
		t.Errorf("Resumes of an unknown room = %v", got)
	}
}

func repoCatalog(t *testing.T, r media.Repo) {
	if _, ok := r.Probe("a.mkv"); ok {
		t.Error("Probe of an unknown file reports a result")
	}
	if _, ok := r.Keyframes("a.mkv"); ok {
		t.Error("Keyframes of an unknown file reports a result")
	}
	p := media.Probed{Size: 1234, ModTime: time.Now().UnixNano(), Info: &media.Info{}, Decision: media.Decision{}}
	bad := media.Probed{Size: 5, ModTime: 6, Err: "not a video"}
	k := media.Keyframes{Size: 1234, ModTime: p.ModTime, Times: []float64{0, 2.5, 5}}
	for rel, pr := range map[string]media.Probed{"a.mkv": p, "b.mkv": bad} {
		if err := r.PutProbe(rel, pr); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.PutKeyframes("a.mkv", k); err != nil {
		t.Fatal(err)
	}
	got, ok := r.Probe("a.mkv")
	if !ok || got.Size != p.Size || got.ModTime != p.ModTime || got.Info == nil || got.Err != "" {
		t.Errorf("Probe(a.mkv) = %+v, %v", got, ok)
	}
	if got, ok := r.Probe("b.mkv"); !ok || fmt.Sprint(got) != fmt.Sprint(bad) {
		t.Errorf("Probe(b.mkv) = %+v, %v; want %+v", got, ok, bad)
	}
	gk, ok := r.Keyframes("a.mkv")
	if !ok || gk.Size != k.Size || gk.ModTime != k.ModTime || !slices.Equal(gk.Times, k.Times) {
		t.Errorf("Keyframes(a.mkv) = %+v, %v", gk, ok)
	}
	if _, ok := r.Keyframes("b.mkv"); ok {
		t.Error("Keyframes of a file with only a probe reports a result")
	}
}
