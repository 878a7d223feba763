package app_test

// Figures: start-up time, idle memory, binary size and log-in throughput of
// the real binary. They report numbers and assert none. Run them with
//
//	go test ./engine/app -run '^$' -bench . -benchtime 10x
//
// BenchmarkStartup reports ms-to-healthz (median cold start of the binary on
// an empty data directory until /healthz answers), idle-RSS-MB (VmRSS two
// seconds after start) and binary-MB (CGO_ENABLED=0, -ldflags "-s -w").
// BenchmarkLogin reports logins/s with the production argon2id cost
// (19 MiB, 2 passes, 1 lane), four clients at once, the RSS right after and
// the RSS eight seconds later.

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"watchparty/engine/apptest"
	"watchparty/engine/procstat"
)

// vmRSS is a process's resident set size in MiB.
func vmRSS(tb testing.TB, pid int) float64 {
	rss := procstat.RSS(pid)
	if rss == 0 {
		tb.Fatalf("no VmRSS for process %d", pid)
	}
	return float64(rss) / (1 << 20)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func BenchmarkStartup(b *testing.B) {
	bin := apptest.Binary(b)
	fi, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	// One start: exec until the first 200 from /healthz, in ms.
	start := func(dir string) (float64, *exec.Cmd) {
		addr := apptest.FreePort(b)
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		cmd := exec.Command(bin, "serve")
		cmd.Env = binEnv(dir, "WATCHPARTY_LISTEN="+addr)
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for range 20000 {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return float64(time.Since(t0).Microseconds()) / 1000, cmd
				}
			}
			time.Sleep(500 * time.Microsecond)
		}
		_ = cmd.Process.Kill()
		b.Fatal("the server never answered /healthz")
		return 0, nil
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	var cold, warm, rss []float64
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		ms, cmd := start(dir) // a new, empty data directory
		cold = append(cold, ms)
		b.StopTimer()
		time.Sleep(2 * time.Second) // idle
		rss = append(rss, vmRSS(b, cmd.Process.Pid))
		stop(cmd)
		ms, cmd = start(dir) // the same directory again
		warm = append(warm, ms)
		stop(cmd)
		b.StartTimer()
	}
	b.ReportMetric(median(cold), "ms-to-healthz")
	b.ReportMetric(median(warm), "ms-to-healthz-existing-dir")
	b.ReportMetric(median(rss), "idle-RSS-MB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	b.Logf("cold starts (ms): %v", cold)
	b.Logf("starts on an existing directory (ms): %v", warm)
	b.Logf("idle RSS (MB): %v", rss)
}

func BenchmarkLogin(b *testing.B) {
	bin := apptest.Binary(b)
	dir := b.TempDir()
	p := apptest.StartBinary(b, bin, binEnv(dir, "WATCHPARTY_LIMITS_LOGIN_PER_MINUTE=10000"))
	const email, password = "bench@example.test", "bench-password"
	resp, body := apptest.NewClient(b, p.URL).PostForm(b, "/signup", url.Values{"email": {email}, "name": {"Bench"}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("creating the account: %s\n%s", resp.Status, body)
	}

	const workers = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	next := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			c := apptest.NewClient(b, p.URL)
			tok, ok := csrfToken(c)
			if !ok {
				mu.Lock()
				failures++
				mu.Unlock()
				return
			}
			form := url.Values{"csrf": {tok}, "email": {email}, "password": {password}}.Encode()
			for range next {
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/login", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.HTTP.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		})
	}
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failures > 0 {
		b.Fatalf("%d log-ins failed", failures)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "logins/s")
	b.ReportMetric(vmRSS(b, p.Cmd.Process.Pid), "RSS-after-MB")
	// The account service hands hash memory back 5 s after the last hash.
	time.Sleep(8 * time.Second)
	b.ReportMetric(vmRSS(b, p.Cmd.Process.Pid), "RSS-8s-later-MB")
}
