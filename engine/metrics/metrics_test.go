package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

type fakeStore struct{ lsm, vlog int64 }

func (f fakeStore) Size() (int64, int64) { return f.lsm, f.vlog }

func TestRegistryExposesEveryInstrument(t *testing.T) {
	m := New()
	reg := m.Registry(Options{Store: fakeStore{lsm: 1234, vlog: 5678}, Version: "v1.2.3"})
	m.Room.Rooms.Set(3)
	m.HTTP.Request(204)
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		"watchparty_connections ", "watchparty_rooms 3", "watchparty_members ",
		"watchparty_messages_in_total ", "watchparty_messages_out_total ", "watchparty_drops_total ",
		"watchparty_frames_encoded_total ", "watchparty_frames_sent_total ", "watchparty_frames_dropped_total ",
		"watchparty_frame_viewers ", "watchparty_webrtc_peers ", "watchparty_webrtc_received_bytes_total ",
		"watchparty_webrtc_sent_bytes_total ", `watchparty_login_failures_total{reason="credentials"}`,
		`watchparty_login_failures_total{reason="rate_limited"}`, `watchparty_http_requests_total{code="2xx"}`,
		"watchparty_store_lsm_bytes 1234", "watchparty_store_vlog_bytes 5678",
		`watchparty_build_info{version="v1.2.3"} 1`, "go_goroutines ", "watchparty_process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in /metrics", want)
		}
	}
}

func TestRegistriesAreIndependentOfTheGlobalOne(t *testing.T) {
	// Two servers in one process (two test servers) must not collide, and
	// one's instruments never move the other's.
	a, b := New(), New()
	a.Registry(Options{})
	b.Registry(Options{Store: fakeStore{}})
	a.Socket.MessagesIn.Add(3)
	if got := value(t, b.Socket.MessagesIn); got != 0 {
		t.Errorf("the second set's messages_in moved to %v", got)
	}
}

func TestHTTPRequestClasses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		class  string
	}{
		{"ok", 200, "2xx"}, {"redirect", 303, "3xx"}, {"not found", 404, "4xx"},
		{"server error", 503, "5xx"}, {"switching protocols", 101, "1xx"}, {"nonsense", 999, "5xx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New().HTTP
			c := h.requests.WithLabelValues(tt.class)
			before := value(t, c)
			h.Request(tt.status)
			if got := value(t, c) - before; got != 1 {
				t.Errorf("class %s moved by %v", tt.class, got)
			}
		})
	}
}
