package gslb

import (
	"testing"
	"time"
)

// TestSharedTargetFollowed: endpoints of different names that share one
// probe target follow its agreed state together; a drain still takes out
// only the endpoint (or region) it names; a republish rebuilds only the
// names that use the changed target.
func TestSharedTargetFollowed(t *testing.T) {
	cfg := sharedConfig(60, 30)
	s1, err := NewSnapshot(Options{Config: cfg, View: viewOf(cfg, nil), Now: t0, Rand: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	var users []string // endpoints probed through t0
	for _, e := range s1.c.eps {
		if e.probe == "t0" {
			users = append(users, e.id)
		}
	}
	if len(users) < 2 {
		t.Fatalf("t0 serves %v", users)
	}
	v := withState(s1.View(), "t0", Down)
	s2 := s1.WithView(v, t0.Add(time.Second))
	for _, e := range s2.Endpoints() {
		want := Ready
		if e.State.Probe == "t0" {
			want = Down
		}
		if e.State.State != want {
			t.Fatalf("%s (target %q) is %s, want %s", e.ID, e.State.Probe, e.State.State, want)
		}
	}
	for _, e := range s2.c.eps {
		if moved := s2.epState(e) != s1.epState(e); moved != (e.probe == "t0") {
			t.Fatalf("%s: uses t0 %v, state moved %v", e.id, e.probe == "t0", moved)
		}
	}
	if n := len(s2.Changes()); n != len(users) {
		t.Fatalf("%d changes, want one per endpoint of t0 (%d)", n, len(users))
	}
	// An endpoint drain takes out that endpoint only; its target's other
	// endpoints keep following the target.
	v.EndpointDrains = map[string]Drain{users[0]: {Endpoint: users[0], Drained: true, At: t0, By: "n1"}}
	v = withState(v, "t0", Ready)
	s3 := s2.WithView(v, t0.Add(2*time.Second))
	for _, id := range users {
		want := Ready
		if id == users[0] {
			want = Drained
		}
		if e, _ := s3.Endpoint(id); e.State.State != want {
			t.Fatalf("%s is %s, want %s (%s)", id, e.State.State, want, e.State.Reason)
		}
	}
}

// TestEndpointMovesTarget: a reload that gives an endpoint other probe
// settings moves it to another target, and it follows that one at once.
func TestEndpointMovesTarget(t *testing.T) {
	cfg1 := sharedConfig(6, 2)
	const id = "eu-west@c0.gslb.test"
	v := viewOf(cfg1, nil)
	v = withState(v, "t1", Down)
	s1, err := NewSnapshot(Options{Config: cfg1, View: v, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s1.Endpoint(id); e.State.Probe != "t1" || e.State.State != Down {
		t.Fatalf("before the reload: %+v", e.State)
	}
	cfg2 := sharedConfig(6, 2)
	for i := range cfg2.Zones[0].Names {
		for j := range cfg2.Zones[0].Names[i].Endpoints {
			if e := &cfg2.Zones[0].Names[i].Endpoints[j]; e.ID == id {
				e.ProbeID = "t0"
			}
		}
	}
	s2, err := NewSnapshot(Options{Config: cfg2, Previous: s1, View: v, Now: t0.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s2.Endpoint(id)
	if e.State.Probe != "t0" || e.State.State != Ready {
		t.Fatalf("after the reload: %+v", e.State)
	}
	ch := s2.Changes()
	if len(ch) != 1 || ch[0].Endpoint != id || ch[0].From != Down || ch[0].To != Ready {
		t.Fatalf("changes %+v, want %s down -> ready", ch, id)
	}
}
