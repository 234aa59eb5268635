package gslb

import (
	"strings"
	"testing"
	"time"
)

func TestAgree(t *testing.T) {
	const ep = "eu-west@app.gslb.test"
	now := t0
	members := func(alive ...bool) []Member {
		names := []string{"a", "b", "c", "d", "e"}
		var ms []Member
		for i, al := range alive {
			ms = append(ms, Member{Name: names[i], Addr: "127.0.0.1:0", Alive: al})
		}
		return ms
	}
	obs := func(states ...State) map[string]map[string]Observation {
		names := []string{"a", "b", "c", "d", "e"}
		m := map[string]map[string]Observation{}
		for i, s := range states {
			if s == 255 {
				continue // no observation from this node
			}
			m[names[i]] = map[string]Observation{ep: {Target: ep, Node: names[i], State: s, ObservedAt: now.Add(-time.Second),
				Reason: "probe says " + s.String(), Lag: time.Duration(i+1) * time.Second, LagKnown: true}}
		}
		return m
	}
	prevReady := View{Targets: map[string]TargetState{ep: {State: Ready, Since: t0.Add(-time.Hour)}}}
	const none State = 255
	tests := []struct {
		name      string
		in        AgreeInput
		want      State
		stale     bool
		isolated  bool
		sinceKept bool
		reason    string
	}{
		{name: "majority ready", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Down)}, want: Ready},
		{name: "majority not reached, majority down", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Down, Down)}, want: Down},
		{name: "no majority either way: recovering", in: AgreeInput{Members: members(true, true, true, true), Observations: obs(Ready, Ready, Down, Recovering)}, want: Recovering},
		{name: "tie keeps previous ready", in: AgreeInput{Members: members(true, true), Observations: obs(Down, Ready), Previous: prevReady},
			want: Ready, sinceKept: true, reason: "tie keeps ready"},
		{name: "tie keeps previous down", in: AgreeInput{Members: members(true, true, true, true), Observations: obs(Ready, Ready, Down, Down),
			Previous: View{Targets: map[string]TargetState{ep: {State: Down, Since: t0.Add(-time.Hour)}}}}, want: Down, sinceKept: true},
		{name: "any", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Down, Down), Quorum: Quorum{Kind: QuorumAny}}, want: Ready},
		{name: "all fails with one down", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Recovering), Quorum: Quorum{Kind: QuorumAll}}, want: Recovering},
		{name: "all", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Ready), Quorum: Quorum{Kind: QuorumAll}}, want: Ready},
		{name: "fraction 0.34 of 3 needs 2", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Down, Down), Quorum: Quorum{Kind: QuorumFraction, Fraction: 0.34}}, want: Down},
		{name: "fraction 0.5 of 4 needs 2", in: AgreeInput{Members: members(true, true, true, true), Observations: obs(Ready, Ready, Down, Down), Quorum: Quorum{Kind: QuorumFraction, Fraction: 0.5}}, want: Ready},
		{name: "dead member's observation does not count", in: AgreeInput{Members: members(true, true, false), Observations: obs(Ready, Down, Ready)}, want: Recovering},
		{name: "only fresh observers form the base", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, none, none)}, want: Ready},
		{name: "stale observations: keep previous, stale", in: AgreeInput{Members: members(true, true, true), Observations: obs(Down, Down, Down), StaleAfter: time.Millisecond, Previous: prevReady},
			want: Ready, stale: true, sinceKept: true},
		{name: "never seen: unknown", in: AgreeInput{Members: members(true, true, true), Observations: obs(none, none, none)}, want: Unknown, stale: true},
		{name: "isolated keeps ready within hold", in: AgreeInput{Members: members(true, false, false, false, false), Observations: obs(Down), Previous: prevReady, IsolationHold: time.Minute},
			want: Ready, isolated: true, sinceKept: true, reason: "isolated since"},
		{name: "isolated after hold: own observations count", in: AgreeInput{Members: members(true, false, false, false, false), Observations: obs(Down), IsolationHold: time.Minute,
			Previous: View{Isolated: true, IsolatedSince: t0.Add(-2 * time.Minute), Targets: prevReady.Targets}}, want: Down, isolated: true},
		{name: "isolated does not make ready from down", in: AgreeInput{Members: members(true, false, false, false, false), Observations: obs(Down), IsolationHold: time.Minute}, want: Down, isolated: true},
		{name: "two of five alive is isolated, three is not", in: AgreeInput{Members: members(true, true, true, false, false), Observations: obs(Down, Down, Down), Previous: prevReady, IsolationHold: time.Minute}, want: Down},
		{name: "drained wins", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Ready),
			Drains: map[string]Drain{ep: {Endpoint: ep, Drained: true, At: t0.Add(-time.Minute), By: "b"}}}, want: Drained, reason: "drained by b at 2025-03-01T11:59:00Z"},
		{name: "undrained", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Ready),
			Drains: map[string]Drain{ep: {Endpoint: ep, Drained: false, At: t0.Add(-time.Minute), By: "b"}}}, want: Ready},
		{name: "unchanged state keeps Since", in: AgreeInput{Members: members(true, true, true), Observations: obs(Ready, Ready, Ready), Previous: prevReady}, want: Ready, sinceKept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Now, in.Self, in.Targets = now, "a", []string{ep}
			in.Expect = len(in.Members)
			v := Agree(in)
			if _, ok := v.Targets[ep]; !ok {
				t.Fatal("target missing from View")
			}
			// The test endpoint is its own probe target (as in ep()).
			es := v.Endpoint(ep, ep, "eu-west")
			if es.State != tc.want || es.Stale != tc.stale || v.Isolated != tc.isolated {
				t.Fatalf("state %s stale %v isolated %v, want %s %v %v (%s)", es.State, es.Stale, v.Isolated, tc.want, tc.stale, tc.isolated, es.Reason)
			}
			wantSince := now
			switch {
			case tc.sinceKept:
				wantSince = t0.Add(-time.Hour)
			case tc.want == Drained:
				wantSince = es.Drain.At // drained since the record
			}
			if !es.Since.Equal(wantSince) {
				t.Errorf("since %v, want %v", es.Since, wantSince)
			}
			if tc.reason != "" && !strings.Contains(es.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", es.Reason, tc.reason)
			}
			if es.Reason == "" {
				t.Error("empty reason")
			}
			if len(es.Observers) != len(in.Observations) {
				t.Errorf("observers %d, want every node's observation (%d)", len(es.Observers), len(in.Observations))
			}
			if tc.want == Drained && es.Drain == nil {
				t.Error("drain record not kept")
			}
		})
	}
}

func TestAgreeLagTransitionFailed(t *testing.T) {
	const ep = "x@y"
	now := t0
	mk := func(node string, lag time.Duration, known bool, transition bool, age time.Duration) Observation {
		return Observation{Target: ep, Node: node, State: Ready, ObservedAt: now.Add(-age), Lag: lag, LagKnown: known, Transition: transition}
	}
	in := AgreeInput{
		Now: now, Self: "a", Expect: 4, StaleAfter: 10 * time.Second, Targets: []string{ep},
		Members: []Member{{Name: "a", Alive: true}, {Name: "b", Alive: true}, {Name: "c", Alive: true}, {Name: "d", Alive: true}},
		Observations: map[string]map[string]Observation{
			"a": {ep: mk("a", 1*time.Second, true, false, 0)},
			"b": {ep: mk("b", 5*time.Second, true, false, time.Second)},
			"c": {ep: mk("c", 0, false, false, time.Second)},
			"d": {ep: mk("d", 100*time.Second, true, true, time.Minute)}, // stale
		},
	}
	v := Agree(in)
	es := v.Targets[ep]
	if !es.LagKnown || es.Lag != 3*time.Second {
		t.Errorf("lag %v known %v, want median 3s of fresh known lags", es.Lag, es.LagKnown)
	}
	if es.Transition || es.Failed != 0 || !es.LastReady.Equal(now) {
		t.Errorf("transition %v failed %d last ready %v: only the stale observer is in transition", es.Transition, es.Failed, es.LastReady)
	}
	if !v.Quorum || v.Expect != 4 {
		t.Errorf("quorum %v expect %d with 4 of 4 alive", v.Quorum, v.Expect)
	}
	// Two fresh observers report a failure, one a pending change.
	in.Observations["b"] = map[string]Observation{ep: {Target: ep, Node: "b", State: Down, Failed: true, ObservedAt: now}}
	in.Observations["c"] = map[string]Observation{ep: {Target: ep, Node: "c", State: Down, Failed: true, Transition: true, ObservedAt: now}}
	in.Previous = v
	v2 := Agree(in)
	if es := v2.Targets[ep]; es.Failed != 2 || !es.Transition || es.State == Ready || !es.LastReady.Equal(now) {
		t.Errorf("failed %d transition %v state %s last ready %v", es.Failed, es.Transition, es.State, es.LastReady)
	}
	if es.State != Ready || len(es.Observers) != 4 {
		t.Errorf("state %s observers %d", es.State, len(es.Observers))
	}
	// Self absent from Members still counts as alive; Expect 1 is not isolated.
	v = Agree(AgreeInput{Now: now, Self: "solo", Expect: 1, Targets: []string{ep},
		Observations: map[string]map[string]Observation{"solo": {ep: mk("solo", 0, false, false, 0)}}})
	if v.Isolated || !v.Quorum || v.Targets[ep].State != Ready {
		t.Errorf("solo node: isolated %v quorum %v state %s", v.Isolated, v.Quorum, v.Targets[ep].State)
	}
}

func TestAgreeQuorum(t *testing.T) {
	members := func(alive ...bool) []Member {
		var out []Member
		for i, a := range alive {
			out = append(out, Member{Name: string(rune('a' + i)), Alive: a})
		}
		return out
	}
	for _, tc := range []struct {
		expect  int
		members []Member
		want    bool
	}{
		{1, nil, true},                          // solo: its own quorum
		{3, members(true, true, true), true},    // all there
		{3, members(true, true, false), true},   // 2 of 3
		{3, members(true, false, false), false}, // 1 of 3
		{2, members(true, false), false},        // 1 of 2 is no majority
		{5, members(true, true, false, false, false), false},
		{5, members(true, true, true, false, false), true},
	} {
		v := Agree(AgreeInput{Now: t0, Self: "a", Expect: tc.expect, Members: tc.members})
		if v.Quorum != tc.want {
			t.Errorf("expect %d members %v: quorum %v, want %v", tc.expect, tc.members, v.Quorum, tc.want)
		}
		if !tc.want && !v.NoQuorumSince.Equal(t0) {
			t.Errorf("NoQuorumSince %v, want %v", v.NoQuorumSince, t0)
		}
		// Carried while the quorum stays lost; cleared when it is back.
		v2 := Agree(AgreeInput{Now: t0.Add(time.Minute), Self: "a", Expect: tc.expect, Members: tc.members, Previous: v})
		if !tc.want && !v2.NoQuorumSince.Equal(t0) {
			t.Errorf("NoQuorumSince moved to %v", v2.NoQuorumSince)
		}
		if tc.want && !v2.NoQuorumSince.IsZero() {
			t.Errorf("NoQuorumSince %v with quorum", v2.NoQuorumSince)
		}
	}
}

func TestAgreeIsolatedSinceCarried(t *testing.T) {
	in := AgreeInput{Now: t0, Self: "a", Expect: 3, Members: []Member{{Name: "a", Alive: true}}}
	v1 := Agree(in)
	if !v1.Isolated || !v1.IsolatedSince.Equal(t0) {
		t.Fatalf("isolated %v since %v", v1.Isolated, v1.IsolatedSince)
	}
	in.Now, in.Previous = t0.Add(time.Minute), v1
	v2 := Agree(in)
	if !v2.IsolatedSince.Equal(t0) {
		t.Fatalf("IsolatedSince moved to %v", v2.IsolatedSince)
	}
	in.Members = append(in.Members, Member{Name: "b", Alive: true})
	in.Previous = v2
	if v3 := Agree(in); v3.Isolated || !v3.IsolatedSince.IsZero() {
		t.Fatalf("still isolated with 2 of 3: %+v", v3)
	}
}
