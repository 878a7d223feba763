// Package metrics holds watchparty's Prometheus instruments and builds the
// registry that /metrics serves.
//
// New builds one set of instruments; the app builds it once and hands each
// package the group it records into (Room to the room service, Socket to
// the websocket endpoint, HTTP to the web server, Frames and WebRTC to the
// loops that copy those services' counters). The instruments are registered
// only in the registry that Registry builds (never in Prometheus' global
// default registry), so two servers in one process, or a test and its
// server, never share a value.
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

// Room is what the room service records: rooms live in memory and members
// connected across them.
type Room struct {
	Rooms   prometheus.Gauge
	Members prometheus.Gauge
}

// Socket is what the room websocket endpoint records.
type Socket struct {
	// Connections is the number of open room websockets (Inc on upgrade, Dec on close).
	Connections prometheus.Gauge
	// MessagesIn counts websocket messages received from clients.
	MessagesIn prometheus.Counter
	// MessagesOut counts websocket messages queued to clients (one per recipient).
	MessagesOut prometheus.Counter
	// Drops counts members disconnected because their outbox was full.
	Drops prometheus.Counter
}

// Frames is what the frame streams record, copied from the hub's counters.
type Frames struct {
	Encoded prometheus.Counter // frames encoded (once per frame, not per viewer)
	Sent    prometheus.Counter // frames written to viewers (one per viewer)
	Dropped prometheus.Counter // frames a slow viewer's queue discarded
	Viewers prometheus.Gauge   // connected frame viewers
}

// WebRTC is what the SFU records, copied from its counters.
type WebRTC struct {
	Peers    prometheus.Gauge   // connected peer connections
	BytesIn  prometheus.Counter // RTP payload bytes received from publishers
	BytesOut prometheus.Counter // RTP payload bytes forwarded to subscribers
}

// HTTP is what the web server records: answered requests by status class
// and refused log-ins by reason.
type HTTP struct {
	requests *prometheus.CounterVec
	classes  [6]prometheus.Counter
	logins   *prometheus.CounterVec
}

// Login-failure reasons.
const (
	LoginCredentials = "credentials"  // wrong e-mail or password
	LoginRateLimited = "rate_limited" // too many attempts
)

// Request counts one answered HTTP request with the given status code.
func (h *HTTP) Request(status int) {
	i := status / 100
	if i < 1 || i > 5 {
		i = 5
	}
	h.classes[i].Inc()
}

// LoginFailure counts one refused log-in (LoginCredentials or
// LoginRateLimited).
func (h *HTTP) LoginFailure(reason string) {
	h.logins.WithLabelValues(reason).Inc()
}

// Metrics is one server's set of instruments.
type Metrics struct {
	Room   Room
	Socket Socket
	Frames Frames
	WebRTC WebRTC
	HTTP   *HTTP
}

// New builds a fresh set of instruments, at zero.
func New() *Metrics {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests answered, by status class (2xx, 3xx, 4xx, 5xx).",
		}, []string{"code"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "login_failures_total", Help: "Refused log-in attempts by reason.",
		}, []string{"reason"}),
	}
	for i := 1; i <= 5; i++ {
		h.classes[i] = h.requests.WithLabelValues(strconv.Itoa(i) + "xx")
	}
	for _, r := range []string{LoginCredentials, LoginRateLimited} {
		h.logins.WithLabelValues(r)
	}
	return &Metrics{
		Room: Room{
			Rooms:   gauge("rooms", "Rooms live in memory."),
			Members: gauge("members", "Members connected across all rooms."),
		},
		Socket: Socket{
			Connections: gauge("connections", "Open room websocket connections."),
			MessagesIn:  counter("messages_in_total", "Room websocket messages received from clients."),
			MessagesOut: counter("messages_out_total", "Room websocket messages sent to clients, one per recipient."),
			Drops:       counter("drops_total", "Members dropped because their outbox was full."),
		},
		Frames: Frames{
			Encoded: counter("frames_encoded_total", "Frames encoded by the frame hub."),
			Sent:    counter("frames_sent_total", "Frames written to viewers, one per viewer."),
			Dropped: counter("frames_dropped_total", "Frames dropped from slow viewers' queues."),
			Viewers: gauge("frame_viewers", "Connected frame viewers (TCP, websocket relay and data channels)."),
		},
		WebRTC: WebRTC{
			Peers:    gauge("webrtc_peers", "Connected WebRTC peer connections."),
			BytesIn:  counter("webrtc_received_bytes_total", "RTP bytes received from WebRTC publishers."),
			BytesOut: counter("webrtc_sent_bytes_total", "RTP bytes forwarded to WebRTC subscribers."),
		},
		HTTP: h,
	}
}

// Sizer reports the on-disk size of the store; *store.Store implements it.
type Sizer interface {
	Size() (lsm, vlog int64)
}

// Options says what a registry exposes besides the instruments.
type Options struct {
	// Store, when set, is asked for its size at every scrape.
	Store Sizer
	// Version is exported as watchparty_build_info{version=...} 1.
	Version string
}

// Registry builds a registry with the Go runtime and process collectors,
// every instrument of m, and the store size.
func (m *Metrics) Registry(o Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: namespace}),
		m.Room.Rooms, m.Room.Members,
		m.Socket.Connections, m.Socket.MessagesIn, m.Socket.MessagesOut, m.Socket.Drops,
		m.Frames.Encoded, m.Frames.Sent, m.Frames.Dropped, m.Frames.Viewers,
		m.WebRTC.Peers, m.WebRTC.BytesIn, m.WebRTC.BytesOut,
		m.HTTP.logins, m.HTTP.requests,
	)
	if o.Store != nil {
		reg.MustRegister(newStoreCollector(o.Store))
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

// storeCollector asks the store for its size at scrape time.
type storeCollector struct {
	s         Sizer
	lsm, vlog *prometheus.Desc
}

func newStoreCollector(s Sizer) storeCollector {
	return storeCollector{s: s,
		lsm:  prometheus.NewDesc(namespace+"_store_lsm_bytes", "Size of the Badger LSM tree on disk.", nil, nil),
		vlog: prometheus.NewDesc(namespace+"_store_vlog_bytes", "Size of the Badger value log on disk.", nil, nil)}
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lsm
	ch <- c.vlog
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	lsm, vlog := c.s.Size()
	ch <- prometheus.MustNewConstMetric(c.lsm, prometheus.GaugeValue, float64(lsm))
	ch <- prometheus.MustNewConstMetric(c.vlog, prometheus.GaugeValue, float64(vlog))
}
