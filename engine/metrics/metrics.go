// Package metrics holds watchparty's Prometheus instruments and builds the
// registry that /metrics serves.
//
// The instruments are package variables so that any package can move them
// without plumbing: the room hub calls Rooms.Set, a connection handler calls
// Connections.Inc and Connections.Dec, the frame hub calls FramesSent.Add, and
// so on. They are registered only in the registry that New builds (never in
// Prometheus' global default registry), so a build without metrics, or a test
// that never calls New, pays one atomic add per event and nothing else.
//
// Gauges are process-wide: one watchparty process runs one server. Tests that
// start several servers in one process should compare deltas, not absolute
// values.
//
// Every name is prefixed with watchparty_. Counters end in _total; sizes are
// in bytes.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "watchparty"

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
}

// Rooms, members and the room websocket. The room package owns these.
var (
	// Connections is the number of open room websockets (Inc on upgrade, Dec on close).
	Connections = gauge("connections", "Open room websocket connections.")
	// Rooms is the number of rooms loaded in memory (Set by the room hub).
	Rooms = gauge("rooms", "Rooms live in memory.")
	// Members is the number of members connected across all rooms.
	Members = gauge("members", "Members connected across all rooms.")
	// MessagesIn counts websocket messages received from clients.
	MessagesIn = counter("messages_in_total", "Room websocket messages received from clients.")
	// MessagesOut counts websocket messages queued to clients (one per recipient).
	MessagesOut = counter("messages_out_total", "Room websocket messages sent to clients, one per recipient.")
	// Drops counts members disconnected because their outbox was full.
	Drops = counter("drops_total", "Members dropped because their outbox was full.")
)

// Frame streaming. The frames package owns these.
var (
	// FramesEncoded counts frames encoded (once per frame, not per viewer).
	FramesEncoded = counter("frames_encoded_total", "Frames encoded by the frame hub.")
	// FramesSent counts frames written to viewers (one per viewer).
	FramesSent = counter("frames_sent_total", "Frames written to viewers, one per viewer.")
	// FramesDropped counts frames a slow viewer's queue discarded.
	FramesDropped = counter("frames_dropped_total", "Frames dropped from slow viewers' queues.")
	// FrameViewers is the number of connected frame viewers.
	FrameViewers = gauge("frame_viewers", "Connected frame viewers (TCP and websocket relay).")
)

// WebRTC. The rtc package owns these.
var (
	// WebRTCPeers is the number of connected WebRTC peer connections.
	WebRTCPeers = gauge("webrtc_peers", "Connected WebRTC peer connections.")
	// WebRTCBytesIn counts RTP payload bytes received from publishers.
	WebRTCBytesIn = counter("webrtc_received_bytes_total", "RTP bytes received from WebRTC publishers.")
	// WebRTCBytesOut counts RTP payload bytes forwarded to subscribers.
	WebRTCBytesOut = counter("webrtc_sent_bytes_total", "RTP bytes forwarded to WebRTC subscribers.")
)

// HTTP and accounts. The web package owns these.
var (
	// LoginFailures counts refused log-ins, by reason: "credentials" (wrong
	// e-mail or password) or "rate_limited".
	LoginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "login_failures_total", Help: "Refused log-in attempts by reason.",
	}, []string{"reason"})
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests answered, by status class (2xx, 3xx, 4xx, 5xx).",
	}, []string{"code"})
	classes = func() [6]prometheus.Counter {
		var c [6]prometheus.Counter
		for i := 1; i <= 5; i++ {
			c[i] = httpRequests.WithLabelValues(strconv.Itoa(i) + "xx")
		}
		return c
	}()
)

// HTTPRequest counts one answered HTTP request with the given status code.
func HTTPRequest(status int) {
	i := status / 100
	if i < 1 || i > 5 {
		i = 5
	}
	classes[i].Inc()
}

// Sizer reports the on-disk size of the store; *store.Store implements it.
type Sizer interface {
	Size() (lsm, vlog int64)
}

// Options says what a registry exposes besides the package instruments.
type Options struct {
	// Store, when set, is asked for its size at every scrape.
	Store Sizer
	// Version is exported as watchparty_build_info{version=...} 1.
	Version string
}

// New builds a fresh registry with the Go runtime and process collectors,
// every package instrument, and the store size.
func New(o Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: namespace}),
		Connections, Rooms, Members, MessagesIn, MessagesOut, Drops,
		FramesEncoded, FramesSent, FramesDropped, FrameViewers,
		WebRTCPeers, WebRTCBytesIn, WebRTCBytesOut,
		LoginFailures, httpRequests,
	)
	for _, r := range []string{"credentials", "rate_limited"} {
		LoginFailures.WithLabelValues(r)
	}
	if o.Store != nil {
		reg.MustRegister(storeCollector{s: o.Store})
	}
	if o.Version != "" {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info", Help: "Always 1; the version label names the running build.",
			ConstLabels: prometheus.Labels{"version": o.Version},
		})
		info.Set(1)
		reg.MustRegister(info)
	}
	return reg
}

// Handler serves reg in the Prometheus text (or OpenMetrics) format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}

var (
	lsmDesc  = prometheus.NewDesc(namespace+"_store_lsm_bytes", "Size of the Badger LSM tree on disk.", nil, nil)
	vlogDesc = prometheus.NewDesc(namespace+"_store_vlog_bytes", "Size of the Badger value log on disk.", nil, nil)
)

// storeCollector asks the store for its size at scrape time.
type storeCollector struct{ s Sizer }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lsmDesc
	ch <- vlogDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	lsm, vlog := c.s.Size()
	ch <- prometheus.MustNewConstMetric(lsmDesc, prometheus.GaugeValue, float64(lsm))
	ch <- prometheus.MustNewConstMetric(vlogDesc, prometheus.GaugeValue, float64(vlog))
}
