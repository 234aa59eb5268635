package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// metrics are the publisher's: config reloads and agreed endpoint state.
type metrics struct {
	reloads     *prometheus.CounterVec
	lastOK      prometheus.Gauge
	lastAt      prometheus.Gauge
	info        *prometheus.GaugeVec
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	failovers   *prometheus.CounterVec
	// failoverNames are the names with a failovers series of their own
	// (at most maxFailoverNames; later ones count under "other").
	failoverNames map[string]bool
	// Write names: records in force and their changes.
	writeChanges *prometheus.CounterVec
	writeTerm    *prometheus.GaugeVec
	writeLag     *prometheus.GaugeVec
	writeFenced  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_config_reloads_total", Help: "Config reloads by result (ok, unchanged, error).",
		}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gslbd_config_last_reload_successful", Help: "1 when the last reload succeeded (ok or unchanged), 0 when it failed.",
		}),
		lastAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gslbd_config_last_reload_timestamp_seconds", Help: "Unix time of the last reload's outcome.",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_config_info", Help: "1 for the loaded config's SHA-256.",
		}, []string{"hash"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_gslb_target_state", Help: "1 for each probe target's agreed state.",
		}, []string{"target", "state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_gslb_state_transitions_total", Help: "Agreed endpoint state changes by the endpoint's region.",
		}, []string{"region", "from", "to"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_gslb_failover_events_total", Help: "Times a ready endpoint of a GSLB name left the answers.",
		}, []string{"name"}),
		failoverNames: map[string]bool{},
	}
	m.writeChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gslbd_write_failovers_total", Help: "Write records (failovers, failbacks, operator moves) this node saw come into force.",
	}, []string{"name"})
	m.writeTerm = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gslbd_write_term", Help: "Term of each write name's record in force (0: the first region in order).",
	}, []string{"name", "region"})
	m.writeLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gslbd_write_failover_lag_seconds", Help: "The new primary's replication lag at the last write change (RPO estimate).",
	}, []string{"name"})
	m.writeFenced = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gslbd_write_fenced", Help: "1 while this node answers SERVFAIL for a write name (no quorum past the grace).",
	}, []string{"name"})
	reg.MustRegister(m.reloads, m.lastOK, m.lastAt, m.info, m.state, m.transitions, m.failovers, m.writeChanges, m.writeTerm, m.writeLag, m.writeFenced)
	return m
}

func (m *metrics) writeChanged(r gslb.WriteActive) {
	m.writeChanges.WithLabelValues(r.Name).Inc()
	if r.LagKnown {
		m.writeLag.WithLabelValues(r.Name).Set(r.Lag.Seconds())
	}
}

func (m *metrics) writesInForce(s *gslb.Snapshot) {
	m.writeTerm.Reset()
	for _, w := range s.Writes() {
		m.writeTerm.WithLabelValues(w.Name, w.Record.Region).Set(float64(w.Record.Term))
		f := 0.0
		if w.Fenced {
			f = 1
		}
		m.writeFenced.WithLabelValues(w.Name).Set(f)
	}
}

// reload counts a reload's outcome; /api/v1/state's "reload" says the same.
func (m *metrics) reload(result string) {
	m.reloads.WithLabelValues(result).Inc()
	ok := 1.0
	if result == "error" {
		ok = 0
	}
	m.lastOK.Set(ok)
	m.lastAt.SetToCurrentTime()
}

func (m *metrics) configLoaded(cfg *config.Config) {
	m.info.Reset()
	m.info.WithLabelValues(cfg.Hash).Set(1)
}

// observeSwap updates the state gauges and counts the agreed state
// changes between two consecutive Snapshots. The state gauge is per probe
// target (what is really probed: endpoints that probe alike share one),
// so a config of 100k names over a few targets exports a few series, not
// one per endpoint; the work is a pass over the targets plus the changes.
func (m *metrics) observeSwap(cur, next *gslb.Snapshot) {
	before, after := cur.View().Targets, next.View().Targets
	if cur.Config() != next.Config() {
		m.state.Reset()
		before = nil
	}
	for id, ts := range after {
		if old, ok := before[id]; ok && old.State == ts.State {
			continue
		}
		for s := gslb.Unknown; s < gslb.Drained; s++ {
			v := 0.0
			if s == ts.State {
				v = 1
			}
			m.state.WithLabelValues(id, s.String()).Set(v)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			m.state.DeletePartialMatch(prometheus.Labels{"target": id})
		}
	}
	// A target under 100k names moves 10k endpoints at once: count per
	// label set first, then one Add each, instead of a label lookup per
	// change (25 ms for 10k changes).
	type transition struct {
		region   string
		from, to gslb.State
	}
	trans := map[transition]int{}
	fails := map[string]int{}
	for _, ev := range next.Changes() {
		trans[transition{ev.Region, ev.From, ev.To}]++
		if ev.From == gslb.Ready {
			fails[m.failoverName(ev.GSLBName)]++
		}
	}
	for t, n := range trans {
		m.transitions.WithLabelValues(t.region, t.from.String(), t.to.String()).Add(float64(n))
	}
	for name, n := range fails {
		m.failovers.WithLabelValues(name).Add(float64(n))
	}
}

// maxFailoverNames bounds the name label of gslbd_gslb_failover_events_total:
// a region outage under 100k names would otherwise add 100k series.
const maxFailoverNames = 1000

// failoverName is the label to count a failover of name under: the name
// for the first maxFailoverNames names that fail over, then "other".
func (m *metrics) failoverName(name string) string {
	if !m.failoverNames[name] {
		if len(m.failoverNames) >= maxFailoverNames {
			return "other"
		}
		m.failoverNames[name] = true
	}
	return name
}
