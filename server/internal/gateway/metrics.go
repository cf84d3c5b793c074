package gateway

import "github.com/prometheus/client_golang/prometheus"

// metrics are the gateway's Prometheus series. They always exist (so the code needs no nil checks) and are
// registered only when Options.Registerer is set.
type metrics struct {
	conns      prometheus.Gauge
	framesIn   prometheus.Counter
	framesOut  prometheus.Counter
	slow       prometheus.Counter
	kicks      prometheus.Counter
	refused    prometheus.Counter
	idleCloses prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imserver_gateway_connections", Help: "Registered WebSocket connections.",
		}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_frames_received_total", Help: "Data frames read from clients.",
		}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_frames_sent_total", Help: "Data frames written to clients (replies and pushes).",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_slow_consumer_closes_total", Help: "Connections closed because their send queue was full.",
		}),
		kicks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_kicks_total", Help: "Connections kicked (2002), including by a newer login on the same platform.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_refused_total", Help: "Connection attempts refused (authentication, identity mismatch, shutdown).",
		}),
		idleCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imserver_gateway_idle_closes_total", Help: "Connections closed for silence past the idle timeout.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.conns, m.framesIn, m.framesOut, m.slow, m.kicks, m.refused, m.idleCloses} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
