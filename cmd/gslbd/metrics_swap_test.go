package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// TestObserveSwapCountsTransitions: the changes of one swap are counted
// per region and per failed-over name, however many share a target.
// (The URLs are data only: no health manager runs here.)
func TestObserveSwapCountsTransitions(t *testing.T) {
	z := twoRegions{url1: "http://127.0.0.1:9/r1", url2: "http://127.0.0.1:9/r2", health: "{}", write: true}
	cfg, err := config.Prepare([]byte("node: n1\n"+z.yaml()), "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v := gslb.View{Self: "n1", Synced: true, FirstRound: true, Quorum: true, Expect: 1, At: now,
		Targets: map[string]gslb.TargetState{}}
	s1, err := gslb.NewSnapshot(gslb.Options{Config: cfg, Now: now, View: v})
	if err != nil {
		t.Fatal(err)
	}
	r1 := ""
	for _, e := range s1.Endpoints() {
		if e.Region == "r1" {
			r1 = e.State.Probe
		}
		v.Targets[e.State.Probe] = gslb.TargetState{State: gslb.Ready, Since: now}
	}
	s2 := s1.WithView(v, now)
	down := v
	down.Targets = map[string]gslb.TargetState{}
	for id, ts := range v.Targets {
		if id == r1 {
			ts.State = gslb.Down
		}
		down.Targets[id] = ts
	}
	s3 := s2.WithView(down, now.Add(time.Second))
	if n := len(s3.Changes()); n != 2 {
		t.Fatalf("%d changes, want app's and db's r1 endpoints (one shared target)", n)
	}
	m := newMetrics(prometheus.NewRegistry())
	m.observeSwap(s2, s3)
	if got := testutil.ToFloat64(m.transitions.WithLabelValues("r1", "ready", "down")); got != 2 {
		t.Errorf("r1 ready->down transitions %v, want 2", got)
	}
	for _, name := range []string{"app.gslb.test.", "db.gslb.test."} {
		if got := testutil.ToFloat64(m.failovers.WithLabelValues(name)); got != 1 {
			t.Errorf("%s failovers %v, want 1", name, got)
		}
	}
}
