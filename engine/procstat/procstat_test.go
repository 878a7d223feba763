package procstat

import (
	"os"
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		want time.Duration
	}{
		{"plain", "1234 (watchparty) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0", 1750 * time.Millisecond},
		{"spaces and parentheses in the name", "99 (a) b (c)) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0", 100 * time.Millisecond},
		{"cut short", "99 (x) R 1 99", 0},
		{"no name", "garbage", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statCPU([]byte(tc.stat)); got != tc.want {
				t.Fatalf("statCPU(%q) = %v, want %v", tc.stat, got, tc.want)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\twatchparty\nVmPeak:\t  900000 kB\nVmRSS:\t   51234 kB\nRssAnon:\t   40000 kB\n"
	for field, want := range map[string]int64{"VmRSS:": 51234, "RssAnon:": 40000, "VmSwap:": 0} {
		if got := statusKB([]byte(status), field); got != want {
			t.Errorf("statusKB(%s) = %d, want %d", field, got, want)
		}
	}
}

// This process is alive and holds memory; a process that does not exist
// has no figures.
func TestLiveProcess(t *testing.T) {
	if rss := RSS(os.Getpid()); rss <= 0 {
		t.Fatalf("RSS of this process = %d", rss)
	}
	if anon := RSSAnon(os.Getpid()); anon <= 0 {
		t.Fatalf("RSSAnon of this process = %d", anon)
	}
	const gone = 1 << 30 // above Linux's pid_max
	if RSS(gone) != 0 || CPUTime(gone) != 0 {
		t.Fatal("figures for a process that does not exist")
	}
	if LoadAvg() < 0 {
		t.Fatal("negative load average")
	}
}
