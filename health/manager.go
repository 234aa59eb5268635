package health

import (
	"context"
	"encoding/json"
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

// Target is one probe target: a liveness probe and/or a lag source that
// one or more endpoints share (config.ProbeID).
type Target struct {
	// ID is the probe target ID (config.Endpoint.ProbeID); observations
	// and metrics carry it.
	ID string
	// Liveness is the liveness probe; nil means always alive.
	Liveness *config.Probe
	// Readiness is the lag source; nil means ready once alive.
	Readiness *config.Readiness
}

// TargetsFromConfig returns the distinct probe targets of cfg, in the
// config order of their first endpoint. cfg is resolved by config.Prepare:
// every probe setting has its value and every endpoint its ProbeID, so
// nothing is defaulted here. Endpoints without probes have no target:
// they are ready unless drained and cost no probe or observation. The
// probes are copies, so equal settings compare equal on reload.
func TargetsFromConfig(cfg *config.Config) []Target {
	if cfg == nil {
		return nil
	}
	var out []Target
	seen := map[string]bool{}
	for _, ep := range cfg.AllEndpoints() {
		if ep.ProbeID == "" || seen[ep.ProbeID] {
			continue
		}
		seen[ep.ProbeID] = true
		t := Target{ID: ep.ProbeID}
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
	// Refresh is how often a target with a lag source but no liveness
	// probe restates that it is alive when the source sets no interval.
	// Default 5s.
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
	sched   *scheduler

	mu sync.Mutex
	// units are the targets by ID, each probed once; order lists them as
	// SetTargets got them.
	units      map[string]*target
	order      []*target
	running    bool
	configured bool
	first      chan struct{}
	firstDone  bool

	emitMu sync.Mutex
	local  *localFaults
}

// target is one probe target with its probers and state machine, shared
// by every endpoint that probes the same way. Fields above mu are fixed
// at creation; scheduled is guarded by Manager.mu.
type target struct {
	spec         Target // spec.ID names the target in logs, metrics and observations
	prober       Prober
	lag          LagSource // nil without readiness
	liveInterval time.Duration
	// fastInterval follows a failed probe until fall is reached or a
	// probe succeeds; equal to liveInterval when not configured.
	fastInterval time.Duration
	liveTimeout  time.Duration
	lagInterval  time.Duration
	lagTimeout   time.Duration
	live, lagJ   job

	scheduled bool
	retired   atomic.Bool
	liveSeen  atomic.Bool
	lagSeen   atomic.Bool

	mu      sync.Mutex
	machine *Machine
	obs     gslb.Observation // latest observation, without Seq
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
		units:   map[string]*target{},
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
	m.sched = newScheduler(m.clock, maxWorkers)
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

// SetTargets replaces the target set. A target whose ID and settings
// are unchanged keeps its state and probers (it goes on emitting as
// before); a new or changed one starts from Unknown; one no longer listed
// stops probing and emits nothing more. Targets without any probe are
// ignored: their endpoints need no observation. It is safe to call at
// any time, also while Run is running.
func (m *Manager) SetTargets(ts []Target) {
	m.mu.Lock()
	units := make(map[string]*target, len(ts))
	order := make([]*target, 0, len(ts))
	var fresh []*target
	var carried [][2]*target // {old, new}: same settings under a new ID
	// renamed finds the old target that probes exactly as spec under
	// another ID (a reload removed the endpoint the target was named
	// after); the index of old targets by settings is built at the first
	// miss only.
	var bySettings map[string]*target
	renamed := func(spec Target) *target {
		if len(m.units) == 0 {
			return nil // the first SetTargets: nothing to carry over
		}
		if bySettings == nil {
			bySettings = make(map[string]*target, len(m.units))
			for _, t := range m.units {
				bySettings[settingsKey(t.spec)] = t
			}
		}
		if t := bySettings[settingsKey(spec)]; t != nil && t.spec.ID != spec.ID && sameSettings(Target{ID: spec.ID, Liveness: t.spec.Liveness, Readiness: t.spec.Readiness}, spec) {
			return t
		}
		return nil
	}
	for _, spec := range ts {
		if spec.Liveness == nil && spec.Readiness == nil {
			continue
		}
		if _, dup := units[spec.ID]; dup {
			m.log.Error("duplicate health target ignored", zap.String("target", spec.ID))
			continue
		}
		t := m.units[spec.ID]
		if t == nil || !sameSettings(t.spec, spec) {
			t = m.newTarget(spec)
			fresh = append(fresh, t)
			if old := renamed(spec); old != nil && units[old.spec.ID] != old {
				carried = append(carried, [2]*target{old, t})
			}
		}
		units[spec.ID] = t
		order = append(order, t)
	}
	for id, old := range m.units {
		if units[id] == old {
			continue
		}
		// Under emitMu: a probe of old that finishes now either published
		// before this (and before anything of the new target) or sees
		// retired and records nothing, so neither a stale observation nor
		// a forgotten metric series comes back after SetTargets.
		m.emitMu.Lock()
		old.retired.Store(true)
		m.emitMu.Unlock()
		if old.scheduled {
			m.unschedule(old)
		}
		if m.met != nil {
			m.met.forget(old.spec.ID)
		}
	}
	m.units, m.order, m.configured = units, order, true
	for _, c := range carried {
		m.carry(c[0], c[1])
	}
	if m.running {
		for _, t := range fresh {
			m.schedule(t)
		}
	}
	m.mu.Unlock()
	m.checkFirstRound()
}

// carry gives t, which replaces old under a new ID, old's state: a
// reload that only renames a target keeps what its probes found, and t
// emits it at once under the new ID (the cluster forgets the old one).
// The caller holds m.mu; old is retired.
func (m *Manager) carry(old, t *target) {
	old.mu.Lock()
	mc, obs, has := *old.machine, old.obs, old.hasObs
	live, lag := old.liveSeen.Load(), old.lagSeen.Load()
	old.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	*t.machine = mc
	t.liveSeen.Store(live)
	t.lagSeen.Store(lag)
	if !has {
		return
	}
	t.obs, t.hasObs = obs, true
	t.obs.Target = t.spec.ID
	m.emitMu.Lock()
	m.emit(t.obs)
	m.emitMu.Unlock()
}

// settingsKey encodes how a target probes, whatever its ID. JSON sorts
// map keys, so equal settings give equal keys.
func settingsKey(t Target) string {
	b, err := json.Marshal(struct {
		L *config.Probe
		R *config.Readiness
	}{t.Liveness, t.Readiness})
	if err != nil {
		return "id:" + t.ID // unreachable for these plain structs; never match on doubt
	}
	return string(b)
}

// sameSettings reports whether a and b probe the same way, CA contents
// included (a target's ID covers the CA file by path only), so a reload
// can keep a's state machine and prober.
func sameSettings(a, b Target) bool {
	return a.ID == b.ID && reflect.DeepEqual(a.Liveness, b.Liveness) && reflect.DeepEqual(a.Readiness, b.Readiness)
}

func (m *Manager) newTarget(spec Target) *target {
	t := &target{spec: spec}
	t.live = job{t: t, kind: liveJob, idx: -1}
	t.lagJ = job{t: t, kind: lagJob, idx: -1}
	mc := MachineConfig{Rise: 1, Fall: 1, LagFall: defaultFall}
	if p := spec.Liveness; p != nil {
		t.liveInterval, t.liveTimeout = p.Interval.D(), p.Timeout.D()
		t.fastInterval = p.FastInterval.D()
		mc.Rise, mc.Fall, mc.LagFall = p.Rise, p.Fall, p.Fall
		pr, err := NewProber(p, m.client)
		if err != nil {
			m.log.Error("unusable liveness probe; its endpoints stay down", zap.String("target", spec.ID), zap.Error(err))
			pr = brokenProber{kind: ProbeType(p), err: errors.New("bad liveness probe: " + err.Error())}
			if t.liveInterval <= 0 {
				t.liveInterval = m.refresh
			}
		}
		t.prober = pr
	} else {
		t.prober = nopProber{}
		t.liveInterval = m.refresh
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
			m.log.Error("unusable readiness source; its endpoints are never ready", zap.String("target", spec.ID), zap.Error(err))
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
	for _, t := range m.units {
		m.schedule(t)
	}
	m.mu.Unlock()
	m.checkFirstRound()

	m.sched.run(ctx, func(j *job) { m.runJob(ctx, j) })

	m.sched.clear()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.units {
		if t.scheduled {
			t.scheduled = false
			m.closeLag(t)
		}
	}
	m.running = false
	return nil
}

// schedule queues t's probes: the first at a random offset within the
// interval or maxStartSpread, whichever is shorter (at once for a target
// without a liveness probe). The caller
// holds m.mu.
func (m *Manager) schedule(t *target) {
	t.scheduled = true
	first := startOffset(t.liveInterval)
	if _, nop := t.prober.(nopProber); nop {
		first = 0
	}
	m.sched.add(&t.live, first)
	if t.lag != nil {
		m.sched.add(&t.lagJ, startOffset(t.lagInterval))
	}
}

// unschedule takes a retired t out of the heap and closes its lag source,
// or leaves that to the worker running its lag read. The caller holds m.mu.
func (m *Manager) unschedule(t *target) {
	t.scheduled = false
	m.sched.remove(&t.live)
	if t.lag != nil && !m.sched.remove(&t.lagJ) {
		m.closeLag(t)
	}
}

func (m *Manager) closeLag(t *target) {
	if t.lag == nil {
		return
	}
	if err := t.lag.Close(); err != nil {
		m.log.Debug("closing lag source", zap.String("target", t.spec.ID), zap.Error(err))
	}
}

// jitter spreads probes of many targets: ±10% of d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + rand.N(d/5+1)
}

// maxStartSpread bounds how far startOffset staggers first probes. A
// node withholds GSLB answers until every target's first probe
// (FirstRound), so a start must not wait up to a whole interval (5 s by
// default). A quarter of a second still keeps thousands of targets from
// being dialled at one instant (the worker pool bounds how many run at
// once), and later probes drift apart by their jitter.
const maxStartSpread = 250 * time.Millisecond

// startOffset staggers the first probe inside the interval (at most
// maxStartSpread) so that a reload or start does not probe every target
// at the same instant.
func startOffset(d time.Duration) time.Duration {
	d = min(d, maxStartSpread)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// runJob runs one probe on a worker and queues the next: interval ±10%
// after this one started, so a slow probe delays the next one and never
// overlaps it.
func (m *Manager) runJob(ctx context.Context, j *job) {
	t := j.t
	start := m.clock.Now()
	var every time.Duration
	if j.kind == liveJob {
		m.probeLive(ctx, t)
		// After a failed probe of an alive endpoint, probe again at the
		// fast interval until fall is reached or a probe succeeds
		// (HAProxy's fastinter): a dead endpoint leaves answers sooner.
		t.mu.Lock()
		every = t.liveInterval
		if t.machine.Failing() {
			every = t.fastInterval
		}
		t.mu.Unlock()
	} else {
		m.probeLag(ctx, t)
		every = t.lagInterval
	}
	wait := max(jitter(every)-m.clock.Now().Sub(start), 0)
	again := m.sched.done(j, func() bool { return ctx.Err() == nil && !t.retired.Load() }, wait)
	if !again && j.kind == lagJob && t.retired.Load() {
		// SetTargets left closing to the read that was in flight.
		m.closeLag(t)
	}
}

func (m *Manager) probeLive(ctx context.Context, t *target) {
	kind := t.prober.Kind()
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
		m.log.Debug("liveness probe failed", zap.String("target", t.spec.ID), zap.Error(err))
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
}

func (m *Manager) probeLag(ctx context.Context, t *target) {
	kind := t.lag.Kind()
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
		m.log.Debug("lag read failed", zap.String("target", t.spec.ID), zap.Error(err))
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
}

// publish records the result's metrics (once per real probe), logs and
// counts a change and emits the machine's observation of t (one for every
// endpoint that uses the target), unless t was retired by SetTargets.
// The caller holds t.mu.
func (m *Manager) publish(t *target, c Change, record func()) {
	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	if t.retired.Load() {
		return
	}
	record()
	if c.Changed() {
		m.log.Info("probe target state changed",
			zap.String("target", t.spec.ID),
			zap.String("from", c.From.String()),
			zap.String("to", c.To.String()),
			zap.String("reason", c.Reason))
		m.met.transition(t.spec.ID, c.From, c.To)
	}
	if t.machine.State() == gslb.Unknown {
		return
	}
	t.obs = t.machine.Observation()
	t.obs.Target = t.spec.ID
	t.hasObs = true
	m.emit(t.obs)
}

func (m *Manager) checkFirstRound() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.firstDone || !m.configured {
		return
	}
	for _, t := range m.units {
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

// Snapshot returns the latest observation of every target that has had
// a result, in target order. Node and Seq are the cluster's to stamp.
func (m *Manager) Snapshot() []gslb.Observation {
	m.mu.Lock()
	ts := slices.Clone(m.order)
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
			Help: "Liveness probe and lag read results by probe target, kind and result (ok or fail).",
		}, []string{"target", "kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gslbd_health_probe_duration_seconds",
			Help:    "How long liveness probes and lag reads took, by kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_health_transitions_total",
			Help: "Probe target state changes seen by this node's probers.",
		}, []string{"target", "from", "to"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_health_lag_seconds",
			Help: "Last replication lag read per probe target; absent after a failed read.",
		}, []string{"target"}),
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

func (m *metrics) result(target, kind string, err error, took time.Duration) {
	if m == nil {
		return
	}
	res := "ok"
	if err != nil {
		res = "fail"
	}
	m.results.WithLabelValues(target, kind, res).Inc()
	m.duration.WithLabelValues(kind).Observe(took.Seconds())
}

func (m *metrics) setLag(target string, lag time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.lag.DeleteLabelValues(target)
		return
	}
	m.lag.WithLabelValues(target).Set(lag.Seconds())
}

func (m *metrics) transition(target string, from, to gslb.State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(target, from.String(), to.String()).Inc()
}

func (m *metrics) forget(target string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"target": target}
	m.results.DeletePartialMatch(l)
	m.transitions.DeletePartialMatch(l)
	m.lag.DeletePartialMatch(l)
}
