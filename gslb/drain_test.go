package gslb

import (
	"strings"
	"testing"
	"time"
)

func TestDrainStatusAt(t *testing.T) {
	from, until := t0.Add(time.Hour), t0.Add(2*time.Hour)
	win := Drain{Region: "eu-west", Drained: true, At: t0, By: "n1", From: from, Until: until}
	tests := []struct {
		name string
		d    Drain
		at   time.Time
		want DrainStatus
	}{
		{"plain drain", Drain{Endpoint: "e@x", Drained: true, At: t0}, t0, DrainActive},
		{"undrain", Drain{Endpoint: "e@x", At: t0}, t0, DrainLifted},
		{"undrain ignores a window", Drain{Endpoint: "e@x", At: t0, From: from, Until: until}, from, DrainLifted},
		{"before the window", win, from.Add(-time.Nanosecond), DrainScheduled},
		{"window start is inclusive", win, from, DrainActive},
		{"inside the window", win, from.Add(30 * time.Minute), DrainActive},
		{"window end is exclusive", win, until, DrainEnded},
		{"after the window", win, until.Add(time.Hour), DrainEnded},
		{"open start", Drain{Endpoint: "e@x", Drained: true, At: t0, Until: until}, t0, DrainActive},
		{"open end", Drain{Endpoint: "e@x", Drained: true, At: t0, From: from}, until.Add(1000 * time.Hour), DrainActive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.StatusAt(tc.at); got != tc.want {
				t.Fatalf("StatusAt = %s, want %s", got, tc.want)
			}
			if tc.d.ActiveAt(tc.at) != (tc.want == DrainActive) {
				t.Fatalf("ActiveAt disagrees with StatusAt %s", tc.want)
			}
		})
	}
}

func TestNextDrainChange(t *testing.T) {
	from, until := t0.Add(time.Hour), t0.Add(2*time.Hour)
	ds := map[string]Drain{
		"a@x":                       {Endpoint: "a@x", Drained: true, At: t0, Until: until},
		RegionDrainKey("eu"):        {Region: "eu", Drained: true, At: t0, From: from, Until: until.Add(time.Hour)},
		"b@x":                       {Endpoint: "b@x", At: t0, From: t0.Add(time.Minute)}, // undrained: no boundary
		RegionDrainKey("us"):        {Region: "us", Drained: true, At: t0},
		RegionDrainKey("ap"):        {Region: "ap", Drained: true, At: t0, Until: t0.Add(-time.Hour)}, // over
		RegionDrainKey("scheduled"): {Region: "scheduled", Drained: true, At: t0, From: t0.Add(4 * time.Hour)},
	}
	for _, tc := range []struct {
		now, want time.Time
	}{
		{t0, from},
		{from, until},
		{until, until.Add(time.Hour)},
		{until.Add(time.Hour), t0.Add(4 * time.Hour)},
		{t0.Add(4 * time.Hour), time.Time{}},
	} {
		if got := NextDrainChange(ds, tc.now); !got.Equal(tc.want) {
			t.Errorf("NextDrainChange(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}

// A maintenance window on a region starts and ends by the clock alone:
// the same records, agreed at successive times (as the cluster does at
// View.DrainChangeAt), drain every endpoint of that region and only
// there, and give the endpoints back to their probe targets afterwards.
func TestAgreeRegionWindowByClock(t *testing.T) {
	eps := []string{"eu-west@app.x.", "eu-west@db.x.", "us-east@app.x."}
	regions := map[string]string{eps[0]: "eu-west", eps[1]: "eu-west", eps[2]: "us-east"}
	from, until := t0.Add(10*time.Minute), t0.Add(40*time.Minute)
	drains := map[string]Drain{RegionDrainKey("eu-west"): {Region: "eu-west", Drained: true, At: t0, By: "n2",
		From: from, Until: until, Reason: "kernel upgrade"}}
	obs := map[string]map[string]Observation{"a": {}}
	var prev View
	agree := func(now time.Time) View {
		for _, id := range eps {
			obs["a"][id] = Observation{Target: id, Node: "a", State: Ready, ObservedAt: now}
		}
		v := Agree(AgreeInput{Now: now, Self: "a", Members: []Member{{Name: "a", Alive: true}}, Expect: 1,
			Observations: obs, Drains: drains, Targets: eps, Previous: prev})
		prev = v
		return v
	}
	want := func(v View, state State, ids ...string) {
		t.Helper()
		for _, id := range ids {
			// Each endpoint is its own probe target here.
			if es := v.Endpoint(id, id, regions[id]); es.State != state {
				t.Errorf("at %s: %s is %s, want %s (%s)", v.At.Format(time.TimeOnly), id, es.State, state, es.Reason)
			}
		}
	}

	v := agree(t0)
	want(v, Ready, eps...)
	if !v.DrainChangeAt.Equal(from) {
		t.Errorf("DrainChangeAt %s, want the window start %s", v.DrainChangeAt, from)
	}
	if rd := v.RegionDrains["eu-west"]; rd.StatusAt(v.At) != DrainScheduled {
		t.Errorf("region drain status %s, want scheduled", rd.StatusAt(v.At))
	}
	if v.Endpoint(eps[0], eps[0], "eu-west").RegionDrain == nil || v.Endpoint(eps[2], eps[2], "us-east").RegionDrain != nil {
		t.Error("RegionDrain must be attached to the region's endpoints only")
	}

	v = agree(from)
	want(v, Drained, eps[0], eps[1])
	want(v, Ready, eps[2])
	if r := v.Endpoint(eps[1], eps[1], "eu-west").Reason; !strings.Contains(r, "region eu-west drained by n2") || !strings.Contains(r, "kernel upgrade") {
		t.Errorf("reason %q should name the region drain and its reason", r)
	}
	if !v.DrainChangeAt.Equal(until) {
		t.Errorf("DrainChangeAt %s, want the window end %s", v.DrainChangeAt, until)
	}

	v = agree(until)
	want(v, Ready, eps...)
	if !v.DrainChangeAt.IsZero() {
		t.Errorf("DrainChangeAt %s after the window, want zero", v.DrainChangeAt)
	}
}

// An endpoint's own record and its region's apply together: either one
// in effect drains it, and undraining the endpoint does not lift its
// region's drain.
func TestAgreeEndpointAndRegionDrain(t *testing.T) {
	const id = "eu@app.x."
	in := func(ds ...Drain) AgreeInput {
		m := map[string]Drain{}
		for _, d := range ds {
			m[d.Key()] = d
		}
		return AgreeInput{Now: t0, Self: "a", Members: []Member{{Name: "a", Alive: true}}, Expect: 1,
			Observations: map[string]map[string]Observation{"a": {id: {Target: id, Node: "a", State: Ready, ObservedAt: t0}}},
			Drains:       m, Targets: []string{id}}
	}
	region := Drain{Region: "eu", Drained: true, At: t0, By: "n"}
	undrainEP := Drain{Endpoint: id, At: t0, By: "n"}
	for _, tc := range []struct {
		name string
		in   AgreeInput
		want State
	}{
		{"region drained", in(region), Drained},
		{"endpoint undrained, region drained", in(region, undrainEP), Drained},
		{"region undrained", in(Drain{Region: "eu", At: t0}), Ready},
		{"other region drained", in(Drain{Region: "us", Drained: true, At: t0}), Ready},
		{"endpoint window not yet", in(Drain{Endpoint: id, Drained: true, At: t0, From: t0.Add(time.Second)}), Ready},
	} {
		if got := Agree(tc.in).Endpoint(id, id, "eu").State; got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
