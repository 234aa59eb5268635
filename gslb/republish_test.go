package gslb

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
)

// scaleConfig is testConfig plus n read names with three endpoints each,
// as a SaaS with a name per customer has.
func scaleConfig(n int) *config.Config {
	cfg := testConfig()
	z := &cfg.Zones[0]
	for i := range n {
		name := fmt.Sprintf("c%d.%s", i, z.Apex)
		z.Names = append(z.Names, cfgName(name, "nearest",
			ep(name, "us-east", "192.0.2.1"),
			ep(name, "eu-west", "198.51.100.1"),
			ep(name, "ap-southeast", "203.0.113.1", "2001:db8::1")))
	}
	return cfg
}

// withState returns a copy of v with one probe target's state changed.
func withState(v View, id string, st State) View {
	v.Targets = maps.Clone(v.Targets)
	es := v.Targets[id]
	es.State, es.Since = st, t0
	v.Targets[id] = es
	return v
}

// states lists the agreed state of every endpoint of s, and checks each
// against View.Endpoint, the rule epState's table and drains stand for.
func states(t *testing.T, s *Snapshot) []epRT {
	t.Helper()
	out := make([]epRT, len(s.c.eps))
	for i, e := range s.c.eps {
		out[i] = s.epState(e)
		want := s.view.Endpoint(e.id, e.probe, e.region)
		if out[i].state != want.State || out[i].transition != want.Transition || !out[i].since.Equal(want.Since) {
			t.Fatalf("%s: epState %+v, View.Endpoint %+v", e.id, out[i], want)
		}
	}
	return out
}

// TestRepublishSharesUnchanged: WithView changes the state of exactly the
// endpoints of the target that changed, leaves the previous Snapshot as
// it was, equals a Snapshot built afresh, and keeps no state per name.
func TestRepublishSharesUnchanged(t *testing.T) {
	cfg := scaleConfig(50)
	v1 := viewOf(cfg, nil)
	s1, err := NewSnapshot(Options{Config: cfg, View: v1, Now: t0, Rand: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	before := states(t, s1)
	const id = "us-east@c7.gslb.test"
	v2 := withState(v1, id, Down)
	s2 := s1.WithView(v2, t0)
	fresh, err := NewSnapshot(Options{Config: cfg, View: v2, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	after := states(t, s2)
	if !reflect.DeepEqual(after, states(t, fresh)) {
		t.Fatal("incremental runtime state differs from a fresh build")
	}
	if !reflect.DeepEqual(states(t, s1), before) {
		t.Fatal("WithView modified the previous Snapshot")
	}
	for i, e := range s1.c.eps {
		if moved := after[i] != before[i]; moved != (e.id == id) {
			t.Fatalf("%s: moved=%v", e.id, moved)
		}
	}
	if len(s2.tgt) != len(s2.c.probes) {
		t.Fatalf("%d target states for %d targets", len(s2.tgt), len(s2.c.probes))
	}
	// The start's unknown->ready events are carried; the change is last.
	if ev := s2.Events(); len(ev) == 0 || ev[len(ev)-1].Endpoint != id || ev[len(ev)-1].To != Down ||
		(len(ev) > 1 && ev[len(ev)-2].Endpoint == id) {
		t.Fatalf("events end with %+v", ev[max(len(ev)-2, 0):])
	}
	res, err := s2.Answer(Question{"c7.gslb.test.", TypeA}, seattle)
	if err != nil || len(res.Answer) != 1 || res.Answer[0].Data.Addr.String() == "192.0.2.1" {
		t.Fatalf("answer after us-east went down: %+v %v", res, err)
	}
}

// TestRepublishSameViewMovesNothing: a View that changes no target (a
// periodic refresh) moves no endpoint and records no change.
func TestRepublishSameViewMovesNothing(t *testing.T) {
	cfg := scaleConfig(50)
	v := viewOf(cfg, nil)
	s1, err := NewSnapshot(Options{Config: cfg, View: v, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	v.At = t0.Add(5 * time.Second)
	s2 := s1.WithView(v, v.At)
	if !reflect.DeepEqual(states(t, s1), states(t, s2)) || len(s2.Changes()) != 0 || s2.View().At != v.At {
		t.Fatalf("an unchanged View changed something: changes %v", s2.Changes())
	}
}

// sharedConfig is scaleConfig(n) with its endpoints probed through
// targets shared probe targets ("t0", "t1", ...), assigned round robin as
// bench/scale.sh does: one target serves about 3n/targets endpoints.
func sharedConfig(n, targets int) *config.Config {
	cfg := scaleConfig(n)
	k := 0
	for i := range cfg.Zones[0].Names {
		nm := &cfg.Zones[0].Names[i]
		if !strings.HasPrefix(nm.Name, "c") {
			continue
		}
		for j := range nm.Endpoints {
			nm.Endpoints[j].ProbeID = fmt.Sprint("t", k%targets)
			k++
		}
	}
	return cfg
}

// BenchmarkRepublish measures WithView after one probe target changes
// state, the publisher's common case: with every endpoint its own target
// ("own"), one endpoint changes; with 30 shared targets, the names using
// the target (a thirtieth of them) change.
func BenchmarkRepublish(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, shared := range []bool{false, true} {
			cfg, target := scaleConfig(n), fmt.Sprintf("eu-west@c%d.gslb.test", n/2)
			kind := "own"
			if shared {
				cfg, target, kind = sharedConfig(n, 30), "t0", "30targets"
			}
			b.Run(fmt.Sprint(n, "names/", kind), func(b *testing.B) {
				up := viewOf(cfg, nil)
				s, err := NewSnapshot(Options{Config: cfg, View: up, Now: t0})
				if err != nil {
					b.Fatal(err)
				}
				down := withState(up, target, Down)
				views := [2]View{down, up}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					s = s.WithView(views[i%2], t0)
				}
			})
		}
	}
}

// BenchmarkSnapshotBytes reports the memory a Snapshot of n names with
// three endpoints each (over 30 shared targets) holds beyond its config:
// the compiled names and their runtime state.
func BenchmarkSnapshotBytes(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n, "names"), func(b *testing.B) {
			cfg := sharedConfig(n, 30)
			v := viewOf(cfg, nil)
			var per float64
			for range b.N {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				s, err := NewSnapshot(Options{Config: cfg, View: v, Now: t0})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				per = float64(m1.HeapAlloc-m0.HeapAlloc) / float64(n)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(per, "bytes/name")
		})
	}
}

// TestEpStateFollowsDrains: with endpoint and region drain records in
// the View (active, scheduled, ended and undrained), every endpoint's
// state is View.Endpoint's, and a republish moves exactly the drained
// ones.
func TestEpStateFollowsDrains(t *testing.T) {
	cfg := sharedConfig(30, 7)
	v := viewOf(cfg, nil)
	s1, err := NewSnapshot(Options{Config: cfg, View: v, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	v.At = at
	v.EndpointDrains = map[string]Drain{
		"us-east@c1.gslb.test": {Endpoint: "us-east@c1.gslb.test", Drained: true, At: t0},
		"eu-west@c2.gslb.test": {Endpoint: "eu-west@c2.gslb.test", Drained: true, At: t0, From: at.Add(time.Hour)},
		"eu-west@c3.gslb.test": {Endpoint: "eu-west@c3.gslb.test", Drained: true, At: t0, Until: at.Add(-time.Second)},
		"us-east@c4.gslb.test": {Endpoint: "us-east@c4.gslb.test", Drained: false, At: at.Add(-time.Second)},
	}
	v.RegionDrains = map[string]Drain{"ap-southeast": {Region: "ap-southeast", Drained: true, At: t0}}
	s2 := s1.WithView(v, at)
	drained := 0
	for _, st := range states(t, s2) {
		if st.state == Drained {
			drained++
		}
	}
	want := 1 // c1's us-east, and every ap-southeast endpoint
	for _, e := range s2.c.eps {
		if e.region == "ap-southeast" {
			want++
		}
	}
	if drained != want || want < 30 {
		t.Fatalf("%d drained endpoints, want %d", drained, want)
	}
	if n := len(s2.Changes()); n != drained {
		t.Fatalf("%d changes for %d drained endpoints", n, drained)
	}
}

// TestChangesFollowTargets: when targets shared by many names change
// (one down with a reason, one up), every endpoint whose state changed
// has one event, in config order, carrying what View.Endpoint says of it
// (state, reason, time), with and without drain records in the View.
func TestChangesFollowTargets(t *testing.T) {
	cfg := sharedConfig(40, 7)
	for _, drained := range []bool{false, true} {
		v1 := withState(viewOf(cfg, nil), "t3", Down)
		if drained {
			v1.RegionDrains = map[string]Drain{"ap-southeast": {Region: "ap-southeast", Drained: true, At: t0.Add(-time.Minute)}}
		}
		s1, err := NewSnapshot(Options{Config: cfg, View: v1, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		v2 := withState(withState(v1, "t3", Ready), "t5", Down)
		ts := v2.Targets["t5"]
		ts.Reason, ts.Since = "2 consecutive probes failed", t0.Add(time.Second)
		v2.Targets["t5"] = ts
		s2 := s1.WithView(v2, t0.Add(2*time.Second))
		var want []Event
		for _, e := range s2.c.eps {
			from, to := v1.Endpoint(e.id, e.probe, e.region), v2.Endpoint(e.id, e.probe, e.region)
			if from.State != to.State {
				want = append(want, Event{At: to.Since, Endpoint: e.id, GSLBName: e.g.fqdn, Region: e.region,
					From: from.State, To: to.State, Reason: to.Reason})
			}
		}
		if len(want) < 10 {
			t.Fatalf("drained %v: only %d endpoints changed; the test wants many per target", drained, len(want))
		}
		if got := s2.Changes(); !reflect.DeepEqual(got, want) {
			t.Errorf("drained %v: changes\n%v\nwant\n%v", drained, got, want)
		}
	}
}
