package health

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

func liveOnly(b *backend, id, host string) Target {
	return Target{ID: id, Liveness: &config.Probe{
		URL: b.srv.URL + "/live", Host: host, Interval: config.Duration(50 * time.Millisecond),
		Timeout: config.Duration(40 * time.Millisecond), Rise: 1, Fall: 1,
	}}
}

// TestSharedTarget: two endpoints with one probe's settings are probed
// once per round and both follow the shared state; a third with other
// settings gets a probe of its own.
func TestSharedTarget(t *testing.T) {
	b := newBackend(t)
	rec := &recorder{t: t}
	reg := prometheus.NewRegistry()
	m := NewManager(Options{Emit: rec.emit, Registerer: reg})
	a1, a2 := liveOnly(b, "a@one.example", ""), liveOnly(b, "a@two.example", "")
	other := liveOnly(b, "a@three.example", "other.example")
	m.SetTargets([]Target{a1, a2})
	if n := len(m.units); n != 1 {
		t.Fatalf("two endpoints with equal settings: %d targets, want 1", n)
	}
	stop := start(t, m)
	rec.waitFor(t, a1.ID, 0, "a1 ready", state(gslb.Ready))
	rec.waitFor(t, a2.ID, 0, "a2 ready", state(gslb.Ready))

	b.alive.Store(false)
	d1 := rec.waitFor(t, a1.ID, 0, "a1 down", state(gslb.Down))
	d2 := rec.waitFor(t, a2.ID, 0, "a2 down", state(gslb.Down))
	if !d1.Since.Equal(d2.Since) || d1.Reason != d2.Reason {
		t.Fatalf("sharing endpoints disagree: %+v vs %+v", d1, d2)
	}
	// Stop probing to compare the backend's count with the metric: one
	// request per probe, however many endpoints follow it.
	stop()
	probes := counter(t, m.met.results.WithLabelValues(a1.ID, "http", "ok")) +
		counter(t, m.met.results.WithLabelValues(a1.ID, "http", "fail"))
	if hits := b.liveHits.Load(); float64(hits) != probes || hits == 0 {
		t.Fatalf("backend saw %d probes, metrics count %v", hits, probes)
	}

	// Different settings: a second target, a second probe.
	m.SetTargets([]Target{a1, a2, other})
	if n := len(m.units); n != 2 {
		t.Fatalf("different settings: %d targets, want 2", n)
	}
	if m.targets[a1.ID] != m.targets[a2.ID] || m.targets[a1.ID] == m.targets[other.ID] {
		t.Fatal("endpoints not grouped by settings")
	}
	b.alive.Store(true)
	before := b.liveHits.Load()
	stop = start(t, m)
	rec.waitFor(t, other.ID, 0, "other ready", state(gslb.Ready))
	o := rec.waitFor(t, a2.ID, d2.Seq, "a2 ready again", state(gslb.Ready))
	rec.waitFor(t, a1.ID, o.Seq-2, "a1 ready again", state(gslb.Ready))
	stop()
	hosts := b.liveHits.Load() - before
	if hosts < 2 {
		t.Fatalf("%d probes for two targets", hosts)
	}
	// An endpoint that joins a target with a known state is observed at once.
	joined := liveOnly(b, "a@four.example", "")
	m.SetTargets([]Target{a1, a2, other, joined})
	if _, ok := findObs(m.Snapshot(), joined.ID); !ok {
		t.Fatal("endpoint joining a probed target has no observation")
	}
}

// TestUnprobedShareOneJob: endpoints without probes share one target,
// so they cost one heap entry together, not a goroutine or a timer each.
func TestUnprobedShareOneJob(t *testing.T) {
	m := NewManager(Options{})
	ts := make([]Target, 1000)
	for i := range ts {
		ts[i] = Target{ID: "e" + string(rune('a'+i%26)) + time.Duration(i).String()}
	}
	m.SetTargets(ts)
	if n := len(m.units); n != 1 {
		t.Fatalf("1000 unprobed endpoints: %d targets, want 1", n)
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
