package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/hooks"
)

const opsTestConfig = `node: n2
regions:
  - {name: r1, latitude: 1, longitude: 1}
  - {name: r2, latitude: 2, longitude: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: app
        endpoints:
          - {region: r1, addresses: [192.0.2.1], liveness: {address: "192.0.2.1:80"}}
          - {region: r2, addresses: [192.0.2.2], liveness: {address: "192.0.2.2:80"}}
`

// Endpoint state hooks: one node of the cluster notifies (the first alive
// member by name), the first state after start is no change, and the
// event carries the endpoint's name, region, states and lag.
func TestOpsEndpointStateHook(t *testing.T) {
	cfg, err := config.Parse([]byte(opsTestConfig), "ops.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sink := newHookSink(t, "k")
	d, err := hooks.New(hooks.Options{Hooks: []config.Hook{{Name: "eps", On: []string{gslb.ChangeEndpointState},
		Webhook: &config.Webhook{URL: sink.srv.URL, Secret: []byte("k")}, Timeout: config.Duration(5 * time.Second),
		Backoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(time.Millisecond), Queue: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	o := &ops{self: "n2", log: zap.NewNop(), hooks: d, started: time.Now()}

	probe := map[string]string{}
	for _, e := range cfg.AllEndpoints() {
		probe[e.ID] = e.ProbeID
	}
	t0 := time.Now()
	view := func(r1 gslb.State, members ...gslb.Member) gslb.View {
		return gslb.View{Self: "n2", Members: members, At: t0, Targets: map[string]gslb.TargetState{
			probe["r1@app.gslb.test"]: {State: r1, Since: t0, Reason: "test", Lag: 2 * time.Second, LagKnown: true},
			probe["r2@app.gslb.test"]: {State: gslb.Ready, Since: t0},
		}}
	}
	snap := func(v gslb.View, prev *gslb.Snapshot) *gslb.Snapshot {
		s, err := gslb.NewSnapshot(gslb.Options{Config: cfg, View: v, Previous: prev, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	step := func(cur *gslb.Snapshot, v gslb.View) *gslb.Snapshot {
		next := snap(v, cur)
		o.snapshotChanged(cur, next, newEvents(cur, next))
		return next
	}
	n1dead := []gslb.Member{{Name: "n1"}, {Name: "n2", Alive: true}, {Name: "n3", Alive: true}}
	n1alive := []gslb.Member{{Name: "n1", Alive: true}, {Name: "n2", Alive: true}, {Name: "n3", Alive: true}}

	s := snap(gslb.View{}, nil)
	s = step(s, view(gslb.Ready, n1dead...))   // unknown -> ready: the start, no hook
	s = step(s, view(gslb.Down, n1alive...))   // n1 is alive and first: n1 notifies, not us
	s = step(s, view(gslb.Ready, n1dead...))   // n1 gone: we are first now
	_ = step(s, view(gslb.Drained, n1dead...)) // and again

	// One worker delivers in order: an event fired by mistake in the
	// first two steps would arrive before these two.
	waitFor(t, "two endpoint_state deliveries", 10*time.Second, func() bool { return len(sink.events(gslb.ChangeEndpointState)) >= 2 })
	got := sink.events(gslb.ChangeEndpointState)
	e := got[0]
	if e.Endpoint != "r1@app.gslb.test" || e.Name != "app.gslb.test." || e.Region != "r1" || e.From != "down" || e.To != "ready" ||
		e.Node != "n2" || e.LagSeconds == nil || *e.LagSeconds != 2 {
		t.Errorf("first delivery %+v", e.Change)
	}
	if got[1].From != "ready" || got[1].To != "drained" {
		t.Errorf("second delivery %+v", got[1].Change)
	}
}
