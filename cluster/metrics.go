package cluster

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	members  *prometheus.GaugeVec   // state
	messages *prometheus.CounterVec // direction, type
	dropped  *prometheus.CounterVec // reason
	isolated prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_cluster_members",
			Help: "Cluster members as this node sees them, by state (alive, dead, left).",
		}, []string{"state"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_cluster_messages_total",
			Help: "Gossip messages sent and received, by type (observation, drain, state).",
		}, []string{"direction", "type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_cluster_messages_dropped_total",
			Help: "Received gossip messages or records that were ignored, by reason.",
		}, []string{"reason"}),
		isolated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gslbd_cluster_isolated",
			Help: "1 while this node sees fewer than half of the expected members.",
		}),
	}
	for _, r := range []string{dropVersion, dropType, dropMalformed, dropOld, dropFuture, dropUnknown} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.members, m.messages, m.dropped, m.isolated} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				// A second Node on one registry (tests, restart in
				// process) shares the first one's series.
				switch c {
				case m.members:
					m.members = are.ExistingCollector.(*prometheus.GaugeVec)
				case m.messages:
					m.messages = are.ExistingCollector.(*prometheus.CounterVec)
				case m.dropped:
					m.dropped = are.ExistingCollector.(*prometheus.CounterVec)
				case m.isolated:
					m.isolated = are.ExistingCollector.(prometheus.Gauge)
				}
				continue
			}
			return nil, err
		}
	}
	return m, nil
}
