package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

// metrics are the gateway's Prometheus series. Labels are route patterns,
// methods, statuses and outcome codes: never identifiers.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	resolves  *prometheus.CounterVec
	anchorLag prometheus.Gauge
	// This replica's anchoring since it started: batches submitted and the
	// access records they carried (records per ledger transaction).
	anchorBatches prometheus.Gauge
	anchorRecords prometheus.Gauge
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
	m.anchorBatches = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eidgate_anchor_batches", Help: "Anchoring transactions this replica submitted since it started.",
	})
	m.anchorRecords = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eidgate_anchored_records", Help: "Access records this replica anchored on the ledger since it started.",
	})
	reg.MustRegister(m.requests, m.latency, m.resolves, m.anchorLag, m.anchorBatches, m.anchorRecords)
	// A registry may already hold the process-wide series when shared.
	_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "eidgate_password_hashes_promoted_total",
		Help: "Password checks computed at normal priority because the idle-priority hashing workers got no processor in time.",
	}, func() float64 { return float64(accounts.HashesPromoted()) }))
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// anchoring copies the anchorer's state into the gauges before a scrape.
func (m *metrics) anchoring(st routing.AnchorStatus) {
	m.anchorLag.Set(st.Lag.Seconds())
	m.anchorBatches.Set(float64(st.Batches))
	m.anchorRecords.Set(float64(st.Records))
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
