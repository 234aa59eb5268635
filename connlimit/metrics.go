package connlimit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Limiter's collectors; a nil *metrics records nothing.
type metrics struct {
	open    prometheus.Gauge
	refuse  *prometheus.CounterVec
	accepts *prometheus.CounterVec
}

func newMetrics(o Options) *metrics {
	if o.Registerer == nil || o.Prefix == "" {
		return nil
	}
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: o.Prefix + "_connections",
			Help: "TCP connections open now on this listener kind.",
		}),
		refuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: o.Prefix + "_refused_total",
			Help: "TCP connections closed at accept because a cap was reached, by cap (total or per_source).",
		}, []string{"reason"}),
		accepts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: o.Prefix + "_accept_errors_total",
			Help: "Transient accept failures (each followed by a back-off), by errno.",
		}, []string{"reason"}),
	}
	m.open = register(o.Registerer, m.open)
	m.refuse = register(o.Registerer, m.refuse)
	m.accepts = register(o.Registerer, m.accepts)
	return m
}

// register registers c, or reuses the collector already registered under
// the same name (two listeners of one kind share their series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

func (m *metrics) setOpen(delta float64) {
	if m != nil {
		m.open.Add(delta)
	}
}

func (m *metrics) refused(reason string) {
	if m != nil {
		m.refuse.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) acceptError(reason string) {
	if m != nil {
		m.accepts.WithLabelValues(reason).Inc()
	}
}
