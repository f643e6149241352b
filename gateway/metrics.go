package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus series. Labels are route patterns,
// methods, statuses and outcome codes: never identifiers.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	resolves  *prometheus.CounterVec
	anchorLag prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidgate_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eidgate_http_request_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		resolves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidgate_resolves_total", Help: "Resolves by outcome code.",
		}, []string{"outcome"}),
		anchorLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "eidgate_anchoring_lag_seconds", Help: "Age of the oldest access record not yet anchored on the ledger.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.resolves, m.anchorLag)
	// A registry may already hold the process collectors when shared.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
