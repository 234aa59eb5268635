package health

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// Built-in defaults, the same as config's documented ones; used when
// neither the probe nor the config's health section sets a value.
const (
	defaultInterval = 5 * time.Second
	defaultTimeout  = 2 * time.Second
	defaultRise     = 2
	defaultFall     = 3
	defaultMaxLag   = 10 * time.Second
	defaultHold     = 30 * time.Second
)

// Target is one endpoint to probe.
type Target struct {
	// ID is the endpoint ID (config.Endpoint.ID).
	ID string
	// Liveness is the liveness probe; nil means always alive.
	Liveness *config.Probe
	// Readiness is the lag source; nil means ready once alive.
	Readiness *config.Readiness
	// Refresh is how often a target without a liveness probe is
	// re-observed, so its observation never goes stale (config derives
	// cluster.refresh below cluster.stale_after).
	Refresh time.Duration
}

// TargetsFromConfig returns one Target per configured endpoint, in config
// order. cfg is resolved by config.Prepare: every probe setting has its
// value and every endpoint its ID, so nothing is defaulted here. The
// probes are copies, so equal settings compare equal on reload.
func TargetsFromConfig(cfg *config.Config) []Target {
	if cfg == nil {
		return nil
	}
	var out []Target
	for _, ep := range cfg.AllEndpoints() {
		t := Target{ID: ep.ID, Refresh: cfg.Cluster.Refresh.D()}
		if ep.Liveness != nil {
			p := *ep.Liveness
			p.ExpectStatus = slices.Clone(p.ExpectStatus)
			t.Liveness = &p
		}
		if ep.Readiness != nil {
			r := *ep.Readiness
			r.Labels = maps.Clone(r.Labels)
			t.Readiness = &r
		}
		out = append(out, t)
	}
	return out
}

// Options configure a Manager. Only Emit is needed for it to be useful.
type Options struct {
	// Logger gets one line per state change; nil logs nothing.
	Logger *zap.Logger
	// Registerer gets the gslbd_health_* metrics; nil registers none.
	Registerer prometheus.Registerer
	// Clock stamps observations and paces probes; nil is the wall clock.
	Clock Clock
	// Emit is called with every observation: on every state change and
	// after every probe or lag result, so ObservedAt stays fresh. Calls
	// are serialised (never concurrent) and come in the order the results
	// were recorded; Emit must be cheap and must not call back into the
	// Manager. Node and Seq are left for the receiver (cluster) to stamp.
	Emit func(gslb.Observation)
	// HTTPClient, when set, does every HTTP probe and lag read instead of
	// the per-target clients (and its TLS settings win over the targets').
	HTTPClient *http.Client
	// Refresh is how often a target without a liveness probe is
	// re-observed (to keep its observation fresh). Default 5s.
	Refresh time.Duration
}

// Manager runs the probes of a set of targets and turns their results into
// Observations. See the package doc for its concurrency model.
type Manager struct {
	log     *zap.Logger
	met     *metrics
	clock   Clock
	emit    func(gslb.Observation)
	client  *http.Client
	refresh time.Duration

	mu         sync.Mutex
	targets    map[string]*target
	order      []*target
	wake       chan struct{}
	running    bool
	configured bool
	first      chan struct{}
	firstDone  bool

	emitMu sync.Mutex
	local  *localFaults
}

// target is one endpoint's probers and state. Fields above mu are fixed
// at creation; cancel is guarded by Manager.mu.
type target struct {
	spec         Target
	prober       Prober
	lag          LagSource // nil without readiness
	liveInterval time.Duration
	// fastInterval follows a failed probe until fall is reached or a
	// probe succeeds; equal to liveInterval when not configured.
	fastInterval time.Duration
	liveTimeout  time.Duration
	lagInterval  time.Duration
	lagTimeout   time.Duration

	cancel   context.CancelFunc
	retired  atomic.Bool
	liveSeen atomic.Bool
	lagSeen  atomic.Bool

	mu      sync.Mutex
	machine *Machine
	obs     gslb.Observation
	hasObs  bool
}

// NewManager returns a Manager with no targets.
func NewManager(o Options) *Manager {
	m := &Manager{
		log:     o.Logger,
		clock:   o.Clock,
		emit:    o.Emit,
		client:  o.HTTPClient,
		refresh: o.Refresh,
		targets: map[string]*target{},
		wake:    make(chan struct{}, 1),
		first:   make(chan struct{}),
	}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	if m.clock == nil {
		m.clock = RealClock{}
	}
	if m.emit == nil {
		m.emit = func(gslb.Observation) {}
	}
	if m.refresh <= 0 {
		m.refresh = defaultInterval
	}
	m.local = newLocalFaults(o.Registerer, m.log)
	if o.Registerer != nil {
		var err error
		if m.met, err = newMetrics(o.Registerer); err != nil {
			m.log.Error("health metrics not registered", zap.Error(err))
			m.met = nil
		}
	}
	return m
}

// SetTargets replaces the target set. Targets whose ID, Liveness and
// Readiness are unchanged keep their state and probers; new or changed
// ones start from Unknown; removed ones stop probing. It is safe to call
// at any time, also while Run is running.
func (m *Manager) SetTargets(ts []Target) {
	m.mu.Lock()
	next := make(map[string]*target, len(ts))
	order := make([]*target, 0, len(ts))
	for _, spec := range ts {
		if _, dup := next[spec.ID]; dup {
			m.log.Error("duplicate health target ignored", zap.String("endpoint", spec.ID))
			continue
		}
		t := m.targets[spec.ID]
		if t == nil || !sameSettings(t.spec, spec) {
			t = m.newTarget(spec)
		}
		next[spec.ID] = t
		order = append(order, t)
	}
	for id, old := range m.targets {
		if next[id] == old {
			continue
		}
		// Under emitMu: a probe of old that finishes now either published
		// before this (and before anything of the new target) or sees
		// retired and records nothing, so neither a stale observation nor
		// a forgotten metric series comes back after SetTargets.
		m.emitMu.Lock()
		old.retired.Store(true)
		m.emitMu.Unlock()
		if old.cancel != nil {
			old.cancel()
		}
		if next[id] == nil && m.met != nil {
			m.met.forget(id)
		}
	}
	m.targets, m.order, m.configured = next, order, true
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	m.checkFirstRound()
}

// sameSettings reports whether a and b probe the same way, so a reload
// can keep a's state machine and prober.
func sameSettings(a, b Target) bool {
	return a.ID == b.ID && a.Refresh == b.Refresh && reflect.DeepEqual(a.Liveness, b.Liveness) && reflect.DeepEqual(a.Readiness, b.Readiness)
}

func (m *Manager) newTarget(spec Target) *target {
	t := &target{spec: spec}
	mc := MachineConfig{Rise: 1, Fall: 1, LagFall: defaultFall}
	if p := spec.Liveness; p != nil {
		t.liveInterval, t.liveTimeout = p.Interval.D(), p.Timeout.D()
		t.fastInterval = p.FastInterval.D()
		mc.Rise, mc.Fall, mc.LagFall = p.Rise, p.Fall, p.Fall
		pr, err := NewProber(p, m.client)
		if err != nil {
			m.log.Error("unusable liveness probe; endpoint stays down", zap.String("endpoint", spec.ID), zap.Error(err))
			pr = brokenProber{kind: ProbeType(p), err: errors.New("bad liveness probe: " + err.Error())}
			if t.liveInterval <= 0 {
				t.liveInterval = m.refresh
			}
		}
		t.prober = pr
	} else {
		t.prober = nopProber{}
		t.liveInterval = m.refresh
		if spec.Refresh > 0 {
			t.liveInterval = spec.Refresh
		}
		if spec.Readiness != nil && spec.Readiness.Interval > 0 {
			t.liveInterval = spec.Readiness.Interval.D()
		}
	}
	if t.liveTimeout <= 0 || t.liveTimeout >= t.liveInterval {
		t.liveTimeout = t.liveInterval / 2
	}
	if t.fastInterval <= 0 || t.fastInterval > t.liveInterval {
		t.fastInterval = t.liveInterval
	}
	if r := spec.Readiness; r != nil {
		mc.Readiness, mc.MaxLag, mc.Hold = true, r.MaxLag.D(), r.Hold.D()
		t.lagInterval, t.lagTimeout = r.Interval.D(), r.Timeout.D()
		src, err := NewLagSource(r, m.client)
		if err != nil {
			m.log.Error("unusable readiness source; endpoint never ready", zap.String("endpoint", spec.ID), zap.Error(err))
			src = brokenLag{kind: readinessType(r), err: errors.New("bad readiness source: " + err.Error())}
		}
		t.lag = src
		if t.lagInterval <= 0 {
			t.lagInterval = t.liveInterval
		}
		if t.lagTimeout <= 0 || t.lagTimeout >= t.lagInterval {
			t.lagTimeout = t.lagInterval / 2
		}
	}
	t.machine = NewMachine(mc)
	return t
}

// Run probes every target until ctx is done, then stops every goroutine it
// started and returns nil. Only one Run may be active at a time.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("health: Run is already running")
	}
	m.running = true
	m.mu.Unlock()

	var wg sync.WaitGroup
	defer func() {
		m.mu.Lock()
		for _, t := range m.order {
			if t.cancel != nil {
				t.cancel()
				t.cancel = nil
			}
		}
		m.running = false
		m.mu.Unlock()
		wg.Wait()
	}()
	m.checkFirstRound()
	for {
		m.mu.Lock()
		for _, t := range m.order {
			if t.cancel != nil {
				continue
			}
			tctx, cancel := context.WithCancel(ctx)
			t.cancel = cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.liveLoop(tctx, t)
			}()
			if t.lag != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m.lagLoop(tctx, t)
				}()
			}
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		}
	}
}

// jitter spreads probes of many targets: ±10% of d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + rand.N(d/5+1)
}

// startOffset staggers the first probe inside the interval so that a
// reload or start does not probe every target at the same instant.
func startOffset(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// loop calls do at the target's pace until ctx is done: after each call,
// interval() says how long until the next. do runs inline, so a slow
// probe delays the next one and never overlaps it.
func (m *Manager) loop(ctx context.Context, interval func() time.Duration, first time.Duration, do func()) {
	timer := m.clock.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		start := m.clock.Now()
		do()
		if ctx.Err() != nil {
			return
		}
		timer.Reset(max(jitter(interval())-m.clock.Now().Sub(start), 0))
	}
}

func (m *Manager) liveLoop(ctx context.Context, t *target) {
	first := startOffset(t.liveInterval)
	if _, nop := t.prober.(nopProber); nop {
		first = 0
	}
	kind := t.prober.Kind()
	// After a failed probe of an alive endpoint, probe again at the fast
	// interval until fall is reached or a probe succeeds (HAProxy's
	// fastinter): a dead endpoint leaves answers sooner.
	next := func() time.Duration {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.machine.Failing() {
			return t.fastInterval
		}
		return t.liveInterval
	}
	m.loop(ctx, next, first, func() {
		pctx, cancel := context.WithTimeout(ctx, t.liveTimeout)
		start := time.Now()
		err := t.prober.Probe(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return // stopping: a cancelled probe says nothing about the target
		}
		if m.local.check(t, "liveness", err, m.clock.Now()) {
			return
		}
		err = timeoutMsg(err, t.liveTimeout)
		if err != nil {
			m.log.Debug("liveness probe failed", zap.String("endpoint", t.spec.ID), zap.Error(err))
		}
		now := m.clock.Now()
		t.mu.Lock()
		m.publish(t, t.machine.Liveness(now, err), func() {
			if kind != "none" {
				m.met.result(t.spec.ID, kind, err, took)
			}
		})
		t.mu.Unlock()
		if !t.liveSeen.Swap(true) {
			m.checkFirstRound()
		}
	})
}

func (m *Manager) lagLoop(ctx context.Context, t *target) {
	defer func() {
		if err := t.lag.Close(); err != nil {
			m.log.Debug("closing lag source", zap.String("endpoint", t.spec.ID), zap.Error(err))
		}
	}()
	kind := t.lag.Kind()
	every := func() time.Duration { return t.lagInterval }
	m.loop(ctx, every, startOffset(t.lagInterval), func() {
		pctx, cancel := context.WithTimeout(ctx, t.lagTimeout)
		start := time.Now()
		lag, err := t.lag.Lag(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if m.local.check(t, "lag", err, m.clock.Now()) {
			return
		}
		err = timeoutMsg(err, t.lagTimeout)
		if err != nil {
			m.log.Debug("lag read failed", zap.String("endpoint", t.spec.ID), zap.Error(err))
		}
		now := m.clock.Now()
		t.mu.Lock()
		m.publish(t, t.machine.Lag(now, lag, err), func() {
			m.met.result(t.spec.ID, kind, err, took)
			m.met.setLag(t.spec.ID, lag, err)
		})
		t.mu.Unlock()
		if !t.lagSeen.Swap(true) {
			m.checkFirstRound()
		}
	})
}

// publish records the result's metrics, logs and counts a change and
// emits the machine's observation, unless t was retired by SetTargets.
// The caller holds t.mu.
func (m *Manager) publish(t *target, c Change, record func()) {
	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	if t.retired.Load() {
		return
	}
	record()
	if c.Changed() {
		m.log.Info("endpoint state changed",
			zap.String("endpoint", t.spec.ID),
			zap.String("from", c.From.String()),
			zap.String("to", c.To.String()),
			zap.String("reason", c.Reason))
		m.met.transition(t.spec.ID, c.From, c.To)
	}
	if t.machine.State() == gslb.Unknown {
		return
	}
	obs := t.machine.Observation()
	obs.Endpoint = t.spec.ID // Node and Seq are the cluster's to stamp
	t.obs, t.hasObs = obs, true
	m.emit(obs)
}

func (m *Manager) checkFirstRound() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.firstDone || !m.configured {
		return
	}
	for _, t := range m.order {
		if !t.liveSeen.Load() || (t.lag != nil && !t.lagSeen.Load()) {
			return
		}
	}
	m.firstDone = true
	close(m.first)
}

// FirstRound is closed once every current target has had a liveness
// result and, when it has a lag source, a lag result. With no targets it
// closes at the first SetTargets.
func (m *Manager) FirstRound() <-chan struct{} { return m.first }

// Snapshot returns the latest observation of every target that has had a
// result, in target order.
func (m *Manager) Snapshot() []gslb.Observation {
	m.mu.Lock()
	ts := append([]*target(nil), m.order...)
	m.mu.Unlock()
	out := make([]gslb.Observation, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		if t.hasObs {
			out = append(out, t.obs)
		}
		t.mu.Unlock()
	}
	return out
}

// metrics are the gslbd_health_* collectors; a nil *metrics records
// nothing, so the Manager needs no checks when no Registerer was given.
type metrics struct {
	results     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	lag         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_health_probe_results_total",
			Help: "Liveness probe and lag read results by endpoint, kind and result (ok or fail).",
		}, []string{"endpoint", "kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gslbd_health_probe_duration_seconds",
			Help:    "How long liveness probes and lag reads took, by kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_health_transitions_total",
			Help: "Endpoint state changes seen by this node's probers.",
		}, []string{"endpoint", "from", "to"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_health_lag_seconds",
			Help: "Last replication lag read per endpoint; absent after a failed read.",
		}, []string{"endpoint"}),
	}
	var err error
	m.results = register(reg, m.results, &err)
	m.duration = register(reg, m.duration, &err)
	m.transitions = register(reg, m.transitions, &err)
	m.lag = register(reg, m.lag, &err)
	return m, err
}

// register registers c, or returns the collector already registered under
// the same description (a second Manager on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		*errp = errors.Join(*errp, err)
	}
	return c
}

func (m *metrics) result(endpoint, kind string, err error, took time.Duration) {
	if m == nil {
		return
	}
	res := "ok"
	if err != nil {
		res = "fail"
	}
	m.results.WithLabelValues(endpoint, kind, res).Inc()
	m.duration.WithLabelValues(kind).Observe(took.Seconds())
}

func (m *metrics) setLag(endpoint string, lag time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.lag.DeleteLabelValues(endpoint)
		return
	}
	m.lag.WithLabelValues(endpoint).Set(lag.Seconds())
}

func (m *metrics) transition(endpoint string, from, to gslb.State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(endpoint, from.String(), to.String()).Inc()
}

func (m *metrics) forget(endpoint string) {
	l := prometheus.Labels{"endpoint": endpoint}
	m.results.DeletePartialMatch(l)
	m.transitions.DeletePartialMatch(l)
	m.lag.DeletePartialMatch(l)
}
