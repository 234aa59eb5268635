package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// backend is a simulated region: a liveness page and a JSON lag page.
type backend struct {
	alive    atomic.Bool
	lagMilli atomic.Int64
	lagReads atomic.Int64
	liveHits atomic.Int64
	srv      *httptest.Server
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.alive.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/live":
			b.liveHits.Add(1)
			if !b.alive.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case "/lag":
			b.lagReads.Add(1)
			fmt.Fprintf(w, `{"replication": {"lag_seconds": %g}}`, float64(b.lagMilli.Load())/1000)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

const (
	testInterval = 100 * time.Millisecond
	testHold     = 400 * time.Millisecond
)

func (b *backend) target(id string, hold time.Duration) Target {
	return Target{
		ID: id,
		Liveness: &config.Probe{
			URL: b.srv.URL + "/live", Interval: config.Duration(testInterval), Timeout: config.Duration(80 * time.Millisecond),
			Rise: 2, Fall: 2,
		},
		Readiness: &config.Readiness{
			Type: "http_json", URL: b.srv.URL + "/lag", Field: "replication.lag_seconds",
			MaxLag: config.Duration(time.Second), Hold: config.Duration(hold),
			Interval: config.Duration(testInterval), Timeout: config.Duration(80 * time.Millisecond),
		},
	}
}

// recorder keeps every emitted observation.
type recorder struct {
	mu  sync.Mutex
	all []gslb.Observation
	// busy detects concurrent Emit calls.
	busy atomic.Bool
	t    *testing.T
}

func (r *recorder) emit(o gslb.Observation) {
	if !r.busy.CompareAndSwap(false, true) {
		r.t.Errorf("concurrent Emit for %s", o.Target)
	}
	defer r.busy.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.Node != "" || o.Seq != 0 {
		r.t.Errorf("health stamped node %q seq %d; that is the cluster's job", o.Node, o.Seq)
	}
	// Stamp the order of arrival, as cluster.Node.Observe does.
	o.Seq = uint64(len(r.all) + 1)
	r.all = append(r.all, o)
}

// waitFor polls until an observation of endpoint emitted after seq
// satisfies ok, and returns it.
func (r *recorder) waitFor(t *testing.T, endpoint string, after uint64, what string, ok func(gslb.Observation) bool) gslb.Observation {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, o := range r.all {
			if o.Target == endpoint && o.Seq > after && ok(o) {
				r.mu.Unlock()
				return o
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no observation of %s after seq %d: last %+v", what, endpoint, after, r.last(endpoint))
	return gslb.Observation{}
}

func (r *recorder) last(endpoint string) gslb.Observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.all) - 1; i >= 0; i-- {
		if r.all[i].Target == endpoint {
			return r.all[i]
		}
	}
	return gslb.Observation{}
}

func (r *recorder) seq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return 0
	}
	return r.all[len(r.all)-1].Seq
}

func state(s gslb.State) func(gslb.Observation) bool {
	return func(o gslb.Observation) bool { return o.State == s }
}

func findObs(obs []gslb.Observation, id string) (gslb.Observation, bool) {
	for _, o := range obs {
		if o.Target == id {
			return o, true
		}
	}
	return gslb.Observation{}, false
}

// waitGoroutines polls until at most n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d running, want <= %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestManagerEndToEnd(t *testing.T) {
	a := newBackend(t)
	base := runtime.NumGoroutine()

	rec := &recorder{t: t}
	core, logs := observer.New(zap.InfoLevel)
	reg := prometheus.NewRegistry()
	m := NewManager(Options{Logger: zap.New(core), Registerer: reg, Emit: rec.emit})
	ta := a.target("a@www.example", testHold)
	m.SetTargets([]Target{ta})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	select {
	case <-m.FirstRound():
	case <-time.After(15 * time.Second):
		t.Fatal("first round never completed")
	}
	if err := m.Run(ctx); err == nil {
		t.Fatal("second concurrent Run did not fail")
	}

	ready := rec.waitFor(t, ta.ID, 0, "initial ready", state(gslb.Ready))
	if !ready.LagKnown || ready.Failed {
		t.Fatalf("ready observation: %+v", ready)
	}

	// Kill the region: down after fall failures.
	a.alive.Store(false)
	down := rec.waitFor(t, ta.ID, ready.Seq, "down", state(gslb.Down))
	if !strings.Contains(down.Reason, "status 503") {
		t.Fatalf("down reason %q", down.Reason)
	}

	// Bring it back lagging: alive, but it must stay out.
	a.lagMilli.Store(30_000)
	a.alive.Store(true)
	rec.waitFor(t, ta.ID, down.Seq, "recovering", state(gslb.Recovering))
	reads := a.lagReads.Load()
	deadline := time.Now().Add(15 * time.Second)
	for a.lagReads.Load() < reads+5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	after := rec.seq()
	lagging := rec.waitFor(t, ta.ID, after, "still lagging", func(gslb.Observation) bool { return true })
	if lagging.State != gslb.Recovering || !strings.Contains(lagging.Reason, ">= max_lag") {
		t.Fatalf("lagging endpoint: %+v", lagging)
	}

	// Catch up: ready again, but only after the hold.
	caughtUp := time.Now()
	a.lagMilli.Store(0)
	back := rec.waitFor(t, ta.ID, lagging.Seq, "ready after hold", state(gslb.Ready))
	if held := back.Since.Sub(caughtUp); held < testHold {
		t.Fatalf("ready %s after the lag cleared, hold is %s", held, testHold)
	}

	var changes []string
	for _, e := range logs.FilterMessage("probe target state changed").All() {
		f := e.ContextMap()
		if f["target"] != ta.ID || f["reason"] == "" {
			t.Fatalf("bad transition log %v", f)
		}
		changes = append(changes, fmt.Sprintf("%s->%s", f["from"], f["to"]))
	}
	want := "unknown->recovering recovering->ready ready->down down->recovering recovering->ready"
	if got := strings.Join(changes, " "); got != want {
		t.Fatalf("transitions %q, want %q", got, want)
	}

	// Reload with the same settings plus a new TCP target: the old state stays.
	tb := Target{ID: "b@www.example", Liveness: &config.Probe{
		Address: a.srv.Listener.Addr().String(), Interval: config.Duration(testInterval), Timeout: config.Duration(80 * time.Millisecond), Rise: 1, Fall: 1,
	}}
	m.SetTargets([]Target{a.target(ta.ID, testHold), tb})
	snap := m.Snapshot()
	if o, ok := findObs(snap, ta.ID); !ok || o.State != gslb.Ready || !o.Since.Equal(back.Since) {
		t.Fatalf("unchanged target lost its state: %+v", snap)
	}
	rec.waitFor(t, tb.ID, 0, "new target ready", state(gslb.Ready))

	// Changing a target's settings restarts it from unknown.
	before := rec.seq()
	m.SetTargets([]Target{a.target(ta.ID, 2*testHold), tb})
	first := rec.waitFor(t, ta.ID, before, "restarted target", func(gslb.Observation) bool { return true })
	if first.State == gslb.Ready {
		t.Fatalf("changed target kept ready: %+v", first)
	}
	rec.waitFor(t, ta.ID, first.Seq, "restarted target ready", state(gslb.Ready))

	// Removing a target drops it at once.
	m.SetTargets([]Target{a.target(ta.ID, 2*testHold)})
	if _, ok := findObs(m.Snapshot(), tb.ID); ok {
		t.Fatal("removed target still in snapshot")
	}

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, n := range []string{"gslbd_health_probe_results_total", "gslbd_health_probe_duration_seconds", "gslbd_health_transitions_total", "gslbd_health_lag_seconds"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	done <- nil
	waitGoroutines(t, base)
}

func TestManagerEdgeTargets(t *testing.T) {
	base := runtime.NumGoroutine()
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit, Refresh: 50 * time.Millisecond})
	bad := Target{ID: "bad@x", Liveness: &config.Probe{
		URL: "http://127.0.0.1:1/", Interval: config.Duration(50 * time.Millisecond), Timeout: config.Duration(50 * time.Millisecond), Rise: 1, Fall: 1,
	}}
	badLag := Target{ID: "badlag@x", Readiness: &config.Readiness{
		Type: "http_json", URL: "http://127.0.0.1:1/", Field: "", MaxLag: config.Duration(time.Second),
		Interval: config.Duration(50 * time.Millisecond), Timeout: config.Duration(20 * time.Millisecond),
	}}
	none := Target{ID: "none@x"} // no probes: no target at all
	m.SetTargets([]Target{bad, badLag, badLag, none})
	if n := len(m.units); n != 2 {
		t.Fatalf("%d targets, want 2 (a duplicate and a probe-less one dropped)", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.FirstRound():
	case <-time.After(15 * time.Second):
		t.Fatal("first round never completed")
	}
	o := rec.waitFor(t, bad.ID, 0, "bad probe down", state(gslb.Down))
	if !strings.Contains(o.Reason, "bad liveness probe: timeout") {
		t.Fatalf("bad probe reason %q", o.Reason)
	}
	o = rec.waitFor(t, badLag.ID, 0, "bad lag recovering", func(o gslb.Observation) bool {
		return strings.Contains(o.Reason, "bad readiness source")
	})
	if o.State != gslb.Recovering {
		t.Fatalf("bad lag source: %+v", o)
	}
	if n := len(m.Snapshot()); n != 2 {
		t.Fatalf("snapshot has %d observations, want 2", n)
	}
	if _, ok := findObs(m.Snapshot(), none.ID); ok {
		t.Fatal("a target without probes was observed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestFirstRoundWithoutTargets(t *testing.T) {
	m := NewManager(Options{})
	select {
	case <-m.FirstRound():
		t.Fatal("first round closed before any SetTargets")
	default:
	}
	m.SetTargets(nil)
	select {
	case <-m.FirstRound():
	default:
		t.Fatal("first round not closed with no targets")
	}
}

func TestTargetsFromConfig(t *testing.T) {
	cfg, err := config.Prepare([]byte(`
regions: [{name: eu, latitude: 50, longitude: 8}, {name: us, latitude: 40, longitude: -75}]
health: {interval: 3s, rise: 4}
zones:
  - apex: gslb.example
    nameservers: [{name: ns.example.net.}]
    names:
      - name: www
        endpoints:
          - region: eu
            addresses: [192.0.2.1]
            liveness: {url: "http://127.0.0.1:1/", fall: 1}
            readiness: {type: prometheus, url: "http://127.0.0.1:1/", metric: lag, labels: {a: b}}
          - region: us
            addresses: [192.0.2.2]
      - name: api
        endpoints:
          - region: eu
            addresses: [192.0.2.3]
            liveness: {url: "http://127.0.0.1:1/", fall: 1}
            readiness: {type: prometheus, url: "http://127.0.0.1:1/", metric: lag, labels: {a: b}}
          - region: us
            addresses: [192.0.2.4]
            liveness: {url: "http://127.0.0.1:1/", fall: 2}
`), "targets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// www and api in eu probe alike: one target; api in us differs in
	// fall: another; www in us has no probes: none.
	ts := TargetsFromConfig(cfg)
	eps := cfg.Zones[0].Names
	if len(ts) != 2 || ts[0].ID != eps[0].Endpoints[0].ProbeID || ts[0].ID != eps[1].Endpoints[0].ProbeID ||
		ts[1].ID != eps[1].Endpoints[1].ProbeID || ts[0].ID == ts[1].ID || eps[0].Endpoints[1].ProbeID != "" {
		t.Fatalf("targets %+v", ts)
	}
	p, r := ts[0].Liveness, ts[0].Readiness
	if p.Interval.D() != 3*time.Second || p.Rise != 4 || p.Fall != 1 || r.Interval.D() != 3*time.Second {
		t.Fatalf("liveness %+v readiness %+v: want the config's resolved values", p, r)
	}
	if err := checkProbe(p); err != nil {
		t.Fatal(err)
	}
	if err := checkReadiness(r); err != nil {
		t.Fatal(err)
	}
	// The copies are independent of the config, and equal settings compare equal.
	cfg.Zones[0].Names[0].Endpoints[0].Readiness.Labels["a"] = "c"
	if ts[0].Readiness.Labels["a"] != "b" {
		t.Fatal("target shares the config's labels map")
	}
	cfg.Zones[0].Names[0].Endpoints[0].Readiness.Labels["a"] = "b"
	again := TargetsFromConfig(cfg)
	if !sameSettings(ts[0], again[0]) {
		t.Fatal("same config gives different settings")
	}
}

// hangProber and hangLag never answer until their ctx ends; they count
// how many calls are in flight at once.
type hangProber struct {
	entered chan struct{}
	calls   atomic.Int32
	now     atomic.Int32
	most    atomic.Int32
}

func (h *hangProber) Kind() string { return "http" }
func (h *hangProber) Probe(ctx context.Context) error {
	h.calls.Add(1)
	n := h.now.Add(1)
	defer h.now.Add(-1)
	if n > h.most.Load() {
		h.most.Store(n)
	}
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

type hangLag struct{ hangProber }

func (h *hangLag) Kind() string { return "postgres" }
func (h *hangLag) Lag(ctx context.Context) (time.Duration, error) {
	return 0, h.Probe(ctx)
}
func (h *hangLag) Close() error { return nil }

// A target whose probe and lag read hang does not hold up other targets,
// SetTargets, Snapshot or the stop, and never gets a second probe in
// flight.
func TestHangingTargetStallsNothing(t *testing.T) {
	a := newBackend(t)
	base := runtime.NumGoroutine()
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit})
	good := a.target("good@x", 0)
	// A different hold, so a different target.
	stuck := a.target("stuck@x", time.Millisecond)
	m.SetTargets([]Target{good, stuck})
	hp := &hangProber{entered: make(chan struct{}, 1)}
	hl := &hangLag{hangProber{entered: make(chan struct{}, 1)}}
	st := m.units[stuck.ID]
	st.prober, st.lag = hp, hl
	st.liveTimeout, st.lagTimeout = time.Hour, time.Hour // only the stop ends them

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for _, ch := range []chan struct{}{hp.entered, hl.entered} {
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			t.Fatal("hanging target never probed")
		}
	}

	// The good target keeps being probed and emitted.
	o := rec.waitFor(t, good.ID, 0, "good ready", state(gslb.Ready))
	o = rec.waitFor(t, good.ID, o.Seq, "good keeps going", func(gslb.Observation) bool { return true })
	rec.waitFor(t, good.ID, o.Seq, "good keeps going", func(gslb.Observation) bool { return true })

	// SetTargets and Snapshot return while the probes hang.
	added := a.target("added@x", 0)
	returned := make(chan []gslb.Observation, 1)
	go func() {
		m.SetTargets([]Target{good, stuck, added})
		returned <- m.Snapshot()
	}()
	select {
	case snap := <-returned:
		if _, ok := findObs(snap, stuck.ID); ok {
			t.Fatalf("hanging target has an observation: %+v", snap)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SetTargets/Snapshot blocked behind a hanging probe")
	}
	rec.waitFor(t, added.ID, 0, "added target ready", state(gslb.Ready))
	select {
	case <-m.FirstRound():
		t.Fatal("first round done without the hanging target's result")
	default:
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return with probes hanging")
	}
	for _, h := range []*hangProber{hp, &hl.hangProber} {
		if h.calls.Load() != 1 || h.most.Load() != 1 {
			t.Fatalf("hanging target: %d calls, %d at once; want exactly one", h.calls.Load(), h.most.Load())
		}
	}
	waitGoroutines(t, base)
}
