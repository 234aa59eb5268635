package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/connlimit"
)

// localFaultLogEvery bounds the local-fault log to one line per period:
// when descriptors run out, every probe fails at once, and a line per
// probe would add disk I/O to the trouble.
const localFaultLogEvery = 10 * time.Second

// localFaults turns probes that could not run into no observation. A
// probe or lag read that failed for a local reason (EMFILE, ENFILE,
// ENOBUFS, ENOMEM, EADDRNOTAVAIL) says nothing about the target: counting
// it as a failure would fail a region over because this node ran out of
// file descriptors. Such results are counted, logged at most once per
// localFaultLogEvery, and leave the target's state and observation alone,
// so the agreed state is kept (marked stale once the observation ages).
type localFaults struct {
	log    *zap.Logger
	errors *prometheus.CounterVec

	mu         sync.Mutex
	last       map[*target]string // latest result of each target: local reason or ""
	loggedAt   time.Time
	suppressed int
}

func newLocalFaults(reg prometheus.Registerer, log *zap.Logger) *localFaults {
	lf := &localFaults{
		log: log,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_probe_errors_total",
			Help: "Probes and lag reads that could not run for a local reason (emfile, enfile, enobufs, enomem, eaddrnotavail); they count as no observation.",
		}, []string{"reason"}),
		last: map[*target]string{},
	}
	if reg != nil {
		var err error
		lf.errors = register(reg, lf.errors, &err)
		if err != nil {
			log.Error("health local fault metric not registered", zap.Error(err))
		}
	}
	return lf
}

// check records the result err of one probe (kind liveness or lag) of t.
// It reports true when err is a local fault: the caller then drops the
// result.
func (lf *localFaults) check(t *target, kind string, err error, now time.Time) bool {
	reason := connlimit.LocalResourceReason(err)
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if t.retired.Load() {
		delete(lf.last, t)
	} else {
		lf.last[t] = reason
	}
	if reason == "" {
		return false
	}
	lf.errors.WithLabelValues(reason).Inc()
	if now.Sub(lf.loggedAt) < localFaultLogEvery {
		lf.suppressed++
		return true
	}
	lf.log.Warn("probe could not run for a local reason; no observation recorded",
		zap.String("target", t.spec.ID), zap.String("probe", kind), zap.String("reason", reason),
		zap.Error(err), zap.Int("suppressed_since_last", lf.suppressed))
	lf.loggedAt, lf.suppressed = now, 0
	return true
}

// impaired reports why none of ts could be probed: every target with a
// real probe or lag source had a local fault as its latest result. It is
// "" while at least one probe runs (or nothing is probed).
func (lf *localFaults) impaired(ts []*target) string {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	for t := range lf.last {
		if t.retired.Load() {
			delete(lf.last, t)
		}
	}
	probing, faulty := 0, 0
	reason := ""
	for _, t := range ts {
		if _, nop := t.prober.(nopProber); nop && t.lag == nil {
			continue
		}
		probing++
		if r := lf.last[t]; r != "" {
			faulty++
			reason = r
		}
	}
	if probing == 0 || faulty < probing {
		return ""
	}
	return fmt.Sprintf("cannot probe: the latest probe of all %d targets failed locally (%s)", probing, reason)
}

// Impaired returns why this node cannot probe at all (see localFaults),
// or "" when it can. A node that cannot probe must not report itself
// ready: its peers' observations are the only ones worth trusting.
func (m *Manager) Impaired() string {
	m.mu.Lock()
	ts := make([]*target, 0, len(m.units))
	for _, t := range m.units {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	return m.local.impaired(ts)
}
