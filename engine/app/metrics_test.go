package app

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formClient is a browser-like client: a cookie jar, no redirects followed.
func formClient(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// postLogin loads the log-in page for its CSRF token and posts the form,
// with extra headers on the POST.
func postLogin(t *testing.T, c *http.Client, base, email, password string, hdr map[string]string) *http.Response {
	t.Helper()
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field on the log-in page (%s)", resp.Status)
	}
	form := url.Values{"email": {email}, "password": {password}, "csrf": {string(m[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// scrape returns every sample of a /metrics page: "name{labels}" -> value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsExposedAndMoving(t *testing.T) {
	ts := startServer(t, nil)
	m0 := scrape(t, ts.URL+"/metrics")
	for _, name := range []string{"watchparty_store_lsm_bytes", "watchparty_store_vlog_bytes", "go_goroutines",
		"watchparty_process_open_fds", "watchparty_connections", "watchparty_rooms", "watchparty_webrtc_peers"} {
		if _, ok := m0[name]; !ok {
			t.Errorf("no %s", name)
		}
	}

	c := formClient(t)
	if resp := postLogin(t, c, ts.URL, "nobody@example.org", "wrong password!", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad log-in answered %s", resp.Status)
	}
	resp, _ := http.Get(ts.URL + "/no-such-page")
	resp.Body.Close()
	m := ts.frames.metrics
	ts.rtcMetrics.Peers.Add(2)
	m.Sent.Add(7)

	m1 := scrape(t, ts.URL+"/metrics")
	moved := func(key string, want float64) {
		t.Helper()
		if d := m1[key] - m0[key]; d != want {
			t.Errorf("%s moved by %v, want %v", key, d, want)
		}
	}
	moved(`watchparty_login_failures_total{reason="credentials"}`, 1)
	moved(`watchparty_login_failures_total{reason="rate_limited"}`, 0)
	moved(`watchparty_http_requests_total{code="4xx"}`, 2) // the 401 and the 404
	moved("watchparty_webrtc_peers", 2)
	moved("watchparty_frames_sent_total", 7)
	if m1[`watchparty_http_requests_total{code="2xx"}`] <= m0[`watchparty_http_requests_total{code="2xx"}`] {
		t.Error("2xx requests did not move")
	}
}

func TestMetricsRateLimitedLogins(t *testing.T) {
	ts := startServer(t, map[string]string{"limits.login_per_minute": "1"})
	before := scrape(t, ts.URL+"/metrics")[`watchparty_login_failures_total{reason="rate_limited"}`]
	c := formClient(t)
	postLogin(t, c, ts.URL, "a@example.org", "wrong password!", nil)
	if resp := postLogin(t, c, ts.URL, "a@example.org", "wrong password!", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second attempt %s", resp.Status)
	}
	if got := scrape(t, ts.URL+"/metrics")[`watchparty_login_failures_total{reason="rate_limited"}`] - before; got != 1 {
		t.Errorf("rate_limited moved by %v", got)
	}
}

func TestMetricsDisabled(t *testing.T) {
	ts := startServer(t, map[string]string{"metrics.enabled": "false"})
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with metrics off: %s", resp.Status)
	}
}

func TestMetricsOnSeparateListener(t *testing.T) {
	ts := startServer(t, map[string]string{"metrics.listen": "localhost:0", "base_path": "/watch"})
	addr := <-ts.MetricsAddr
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main listener with metrics.listen set: %s", resp.Status)
	}
	m := scrape(t, "http://"+addr.String()+"/metrics")
	if _, ok := m["watchparty_store_lsm_bytes"]; !ok {
		t.Error("the metrics listener has no store size")
	}
}

func TestPprofOnLoopback(t *testing.T) {
	ts := startServer(t, map[string]string{"debug.pprof_listen": "127.0.0.1:0"})
	addr := <-ts.PprofAddr
	if ip := addr.(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Errorf("the profiler listens on %v", addr)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile:") {
		t.Errorf("goroutine profile: %s %.200q", resp.Status, body)
	}
	// Not on the main listener.
	resp, err = http.Get(ts.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("/debug/pprof/ on the main listener: %s", resp.Status)
	}
}

func TestPprofOffByDefault(t *testing.T) {
	ts := startServer(t, nil)
	select {
	case addr := <-ts.PprofAddr:
		t.Errorf("a profiler listens on %v without debug.pprof_listen", addr)
	default:
	}
}
