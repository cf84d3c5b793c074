package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imspec/imserver/gen/api"
)

// Metrics are the REST edge's Prometheus series.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the REST series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imserver_http_requests_total", Help: "REST requests by operationId and errCode.",
		}, []string{"op", "errCode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imserver_http_request_seconds", Help: "REST request latency by operationId.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *Metrics) observe(op string, code api.ErrCode, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, strconv.Itoa(int(code))).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}
