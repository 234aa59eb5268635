package health

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// sharedConfig is a resolved config of three names: one and two probe
// b's /live alike, three sends another Host header; four has no probes.
func sharedConfig(t *testing.T, b *backend) *config.Config {
	t.Helper()
	live := func(host string) string {
		return fmt.Sprintf(`{url: "%s/live", host: "%s", interval: 100ms, timeout: 80ms, rise: 1, fall: 1}`, b.srv.URL, host)
	}
	cfg, err := config.Prepare([]byte(fmt.Sprintf(`
regions: [{name: eu, latitude: 50, longitude: 8}]
zones:
  - apex: gslb.example
    nameservers: [{name: ns.example.net.}]
    names:
      - {name: one, endpoints: [{region: eu, addresses: [192.0.2.1], liveness: %s}]}
      - {name: two, endpoints: [{region: eu, addresses: [192.0.2.2], liveness: %s}]}
      - {name: three, endpoints: [{region: eu, addresses: [192.0.2.3], liveness: %s}]}
      - {name: four, endpoints: [{region: eu, addresses: [192.0.2.4]}]}
`, live("a.example"), live("a.example"), live("other.example"))), "shared.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSharedTarget: two endpoints with one probe's settings have one
// probe target, probed once per round, with one observation per result
// whatever the number of endpoints; a third with other settings gets a
// probe of its own; an endpoint without probes gets none.
func TestSharedTarget(t *testing.T) {
	b := newBackend(t)
	rec := &recorder{t: t}
	reg := prometheus.NewRegistry()
	m := NewManager(Options{Emit: rec.emit, Registerer: reg})
	cfg := sharedConfig(t, b)
	names := cfg.Zones[0].Names
	shared, other := names[0].Endpoints[0].ProbeID, names[2].Endpoints[0].ProbeID
	if shared == "" || shared != names[1].Endpoints[0].ProbeID || other == shared {
		t.Fatalf("probe IDs %q %q %q", shared, names[1].Endpoints[0].ProbeID, other)
	}
	ts := TargetsFromConfig(cfg)
	if len(ts) != 2 || ts[0].ID != shared || ts[1].ID != other {
		t.Fatalf("targets %+v, want %s and %s", ts, shared, other)
	}
	m.SetTargets(ts)
	stop := start(t, m)
	rec.waitFor(t, shared, 0, "shared target ready", state(gslb.Ready))
	rec.waitFor(t, other, 0, "other target ready", state(gslb.Ready))
	b.alive.Store(false)
	rec.waitFor(t, shared, 0, "shared target down", state(gslb.Down))
	// Stop probing to compare the backend's count with the metrics and
	// the observations: one request and one observation per probe, for
	// two targets, however many endpoints follow them.
	stop()
	probes, emitted := 0.0, 0
	for _, id := range []string{shared, other} {
		probes += counter(t, m.met.results.WithLabelValues(id, "http", "ok")) +
			counter(t, m.met.results.WithLabelValues(id, "http", "fail"))
	}
	rec.mu.Lock()
	for _, o := range rec.all {
		if o.Target != shared && o.Target != other {
			t.Errorf("observation of %q", o.Target)
		}
		emitted++
	}
	rec.mu.Unlock()
	if hits := b.liveHits.Load(); float64(hits) != probes || hits == 0 || emitted != int(hits) {
		t.Fatalf("backend saw %d probes, metrics count %v, %d observations", hits, probes, emitted)
	}
}

// TestUnprobedNoTarget: endpoints without probes have no target at all,
// so they cost no heap entry, no goroutine and no observation.
func TestUnprobedNoTarget(t *testing.T) {
	m := NewManager(Options{})
	var ts []Target
	for i := range 1000 {
		ts = append(ts, Target{ID: fmt.Sprint("e", i)})
	}
	m.SetTargets(ts)
	if n := len(m.units); n != 0 {
		t.Fatalf("1000 unprobed endpoints: %d targets, want 0", n)
	}
	select {
	case <-m.FirstRound():
	default:
		t.Fatal("first round not done without targets")
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// start runs m until the returned stop (also called at cleanup) returns.
func start(t *testing.T, m *Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestRenamedTargetKeepsState: a reload that renames a target (the
// endpoint it was named after is gone) but keeps its settings carries its
// state over and emits it at once under the new ID.
func TestRenamedTargetKeepsState(t *testing.T) {
	b := newBackend(t)
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit})
	old := b.target("eu@www.example", 0)
	m.SetTargets([]Target{old})
	stop := start(t, m)
	ready := rec.waitFor(t, old.ID, 0, "ready", state(gslb.Ready))
	stop()
	renamed := old
	renamed.ID = "eu@api.example"
	m.SetTargets([]Target{renamed})
	o, ok := findObs(m.Snapshot(), renamed.ID)
	if !ok || o.State != gslb.Ready || !o.Since.Equal(ready.Since) {
		t.Fatalf("renamed target: %+v (had %v), want ready since %s", o, ok, ready.Since)
	}
	if _, ok := findObs(m.Snapshot(), old.ID); ok {
		t.Fatal("old ID still observed")
	}
	if last := rec.all[len(rec.all)-1]; last.Target != renamed.ID || last.State != gslb.Ready {
		t.Fatalf("last emitted %+v, want the renamed target's state", last)
	}
}
