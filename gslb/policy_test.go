package gslb

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
)

func TestPolicies(t *testing.T) {
	type st = map[string]State
	tests := []struct {
		name   string
		q      string
		qtype  uint16
		c      Client
		states st
		rand   float64
		want   []string
		err    error
		scope  int
		ttl    uint32 // 0: not checked
	}{
		// nearest
		{name: "nearest london", q: "app", c: london, want: []string{"198.51.100.10"}, scope: 24, ttl: 30},
		{name: "nearest london, eu-west down", q: "app", c: london, states: st{"eu-west@app.gslb.test": Down}, want: []string{"198.51.100.20"}, scope: 24},
		{name: "nearest london, europe down", q: "app", c: london,
			states: st{"eu-west@app.gslb.test": Down, "eu-central@app.gslb.test": Recovering}, want: []string{"192.0.2.10"}, scope: 24},
		{name: "nearest unknown state is not ready", q: "app", c: london,
			states: st{"eu-west@app.gslb.test": Unknown, "eu-central@app.gslb.test": Drained}, want: []string{"192.0.2.10"}, scope: 24},
		{name: "nearest seattle", q: "app", c: seattle, want: []string{"192.0.2.10"}, scope: 24},
		{name: "nearest changchun", q: "app", c: changchun, want: []string{"203.0.113.10"}, scope: 24},
		{name: "nearest frankfurt, no ECS: scope is the network", q: "app", c: frankfurt, want: []string{"198.51.100.20"}, scope: 16},
		{name: "nearest unlocated: default order, scope = source prefix", q: "app", c: nowhere, want: []string{"192.0.2.10"}, scope: 32},
		{name: "nearest scope capped by source prefix", q: "app", c: Client{Addr: london.Addr, SourcePrefix: 20, ECS: true}, want: []string{"198.51.100.10"}, scope: 20},
		{name: "nearest CIDR region wins over distance", q: "app", c: mapped, want: []string{"198.51.100.20"}, scope: 24},
		{name: "nearest CIDR region not ready: distance", q: "app", c: mapped, states: st{"eu-central@app.gslb.test": Down}, want: []string{"203.0.113.10"}, scope: 24},
		{name: "nearest answers 2", q: "app2", c: london, want: []string{"198.51.100.11", "192.0.2.11"}, scope: 24},
		{name: "nearest answers 2, one ready", q: "app2", c: london,
			states: st{"eu-west@app2.gslb.test": Down, "us-east@app2.gslb.test": Down}, want: []string{"203.0.113.11"}, scope: 24},
		{name: "AAAA picks the endpoint with IPv6", q: "app", qtype: TypeAAAA, c: london, want: []string{"2001:db8::10"}, scope: 24},
		{name: "AAAA none of the family", q: "fo", qtype: TypeAAAA, c: london, err: ErrNoData},
		{name: "ANY on GSLB name answers the A set", q: "app", qtype: TypeANY, c: london, want: []string{"198.51.100.10"}, scope: 24},
		// all_down
		{name: "all down open answers every endpoint of the family", q: "app", qtype: TypeAAAA, c: london,
			states: st{"ap-southeast@app.gslb.test": Down}, want: []string{"2001:db8::10"}, scope: 24, ttl: 5},
		{name: "all down open, nearest order", q: "app2", c: london,
			states: st{"eu-west@app2.gslb.test": Down, "us-east@app2.gslb.test": Down, "ap-southeast@app2.gslb.test": Down},
			want:   []string{"198.51.100.11", "192.0.2.11", "203.0.113.11"}, scope: 24, ttl: 5},
		{name: "all down closed", q: "closed", c: london,
			states: st{"us-east@closed.gslb.test": Down, "eu-west@closed.gslb.test": Down}, err: ErrNoReadyEndpoint},
		{name: "closed name with one ready", q: "closed", c: london, states: st{"eu-west@closed.gslb.test": Down}, want: []string{"192.0.2.18"}, scope: 24},
		// failover
		{name: "failover first in order", q: "fo", c: seattle, want: []string{"198.51.100.12"}, scope: 0},
		{name: "failover second", q: "fo", c: seattle, states: st{"eu-west@fo.gslb.test": Down}, want: []string{"192.0.2.12"}, scope: 0},
		// all
		{name: "all", q: "all", c: london, want: []string{"192.0.2.13", "198.51.100.13"}, scope: 0},
		{name: "all minus down", q: "all", c: london, states: st{"us-east@all.gslb.test": Down}, want: []string{"198.51.100.13"}, scope: 0},
		// weighted: us-east 3, eu-west 1, ap-southeast 0
		{name: "weighted low draw", q: "wt", c: london, rand: 0.1, want: []string{"192.0.2.14"}, scope: 0},
		{name: "weighted high draw", q: "wt", c: london, rand: 0.8, want: []string{"198.51.100.14"}, scope: 0},
		{name: "weighted never weight 0 while others ready", q: "wt", c: london, rand: 0.99999, want: []string{"198.51.100.14"}},
		{name: "weighted weight 0 when nothing else", q: "wt", c: london, rand: 0.5,
			states: st{"us-east@wt.gslb.test": Down, "eu-west@wt.gslb.test": Down}, want: []string{"203.0.113.14"}},
		// geomap: GB -> eu-central, eu-west; EU -> eu-west; AS -> ap; default -> us-east
		{name: "geomap country", q: "gm", c: london, want: []string{"198.51.100.25"}, scope: 24},
		{name: "geomap country second choice", q: "gm", c: london, states: st{"eu-central@gm.gslb.test": Down}, want: []string{"198.51.100.15"}, scope: 24},
		{name: "geomap continent", q: "gm", c: frankfurt, want: []string{"198.51.100.15"}, scope: 16},
		{name: "geomap asia", q: "gm", c: changchun, want: []string{"203.0.113.15"}, scope: 24},
		{name: "geomap default", q: "gm", c: seattle, want: []string{"192.0.2.15"}, scope: 24},
		{name: "geomap unlocated gets default", q: "gm", c: nowhere, want: []string{"192.0.2.15"}, scope: 32},
		{name: "geomap listed regions down: next in default order", q: "gm", c: frankfurt,
			states: st{"eu-west@gm.gslb.test": Down}, want: []string{"192.0.2.15"}, scope: 16},
		// residency: EU clients only to eu-west/eu-central, fail closed
		{name: "residency fenced", q: "res", c: london, want: []string{"198.51.100.16"}, scope: 24},
		{name: "residency fenced, other fenced region", q: "res", c: london, states: st{"eu-west@res.gslb.test": Down}, want: []string{"198.51.100.26"}, scope: 24},
		{name: "residency closed: NODATA with the name's TTL", q: "res", c: london,
			states: st{"eu-west@res.gslb.test": Down, "eu-central@res.gslb.test": Down}, err: ErrNoData, scope: 24},
		{name: "residency not matching client", q: "res", c: seattle, want: []string{"192.0.2.16"}, scope: 24},
		{name: "residency unlocated client is not fenced", q: "res", c: nowhere, want: []string{"192.0.2.16"}, scope: 32},
		{name: "residency open falls back", q: "res-open", c: london, states: st{"eu-west@res-open.gslb.test": Down}, want: []string{"192.0.2.17"}, scope: 24},
		// single region: no location dependence
		{name: "single region scope 0", q: "single", c: london, want: []string{"198.51.100.19"}, scope: 0},
		// target endpoints
		{name: "target in zone is chased", q: "lb", c: london,
			want: []string{"CNAME lb-eu.gslb.test.", "198.51.100.99"}, scope: 24},
		{name: "target out of zone", q: "lb", c: seattle, want: []string{"CNAME lb-us.example.net."}, scope: 24},
		{name: "target CNAME query", q: "lb", qtype: TypeCNAME, c: seattle, want: []string{"CNAME lb-us.example.net."}, scope: 24},
		{name: "target AAAA chases to NODATA", q: "lb", qtype: TypeAAAA, c: london, want: []string{"CNAME lb-eu.gslb.test."}, err: ErrNoData, scope: 24},
		{name: "CNAME query on address endpoints", q: "app", qtype: TypeCNAME, c: london, err: ErrNoData},
	}
	cfg := testConfig()
	loc := testLocator(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rand
			s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, tc.states), Now: t0,
				Rand: func() float64 { return r }})
			if err != nil {
				t.Fatal(err)
			}
			qt := tc.qtype
			if qt == 0 {
				qt = TypeA
			}
			a, err := s.Answer(Question{Name: tc.q + ".gslb.test.", Type: qt}, tc.c)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v (answer %v)", err, tc.err, fmtRecs(a.Answer))
			}
			if got := addrs(a.Answer); !slices.Equal(got, nonNil(tc.want)) {
				t.Errorf("answer = %q, want %q", got, tc.want)
			}
			if a.Scope != tc.scope {
				t.Errorf("scope = %d, want %d", a.Scope, tc.scope)
			}
			if tc.ttl != 0 {
				for _, r := range a.Answer {
					if r.TTL != tc.ttl {
						t.Errorf("TTL %d, want %d", r.TTL, tc.ttl)
					}
				}
			}
			if errors.Is(tc.err, ErrNoData) && len(a.Authority) != 1 {
				t.Errorf("NODATA without SOA: %v", fmtRecs(a.Authority))
			}
		})
	}
}

func TestResidencyClosedNegativeTTL(t *testing.T) {
	s := newSnap(t, map[string]State{"eu-west@res.gslb.test": Down, "eu-central@res.gslb.test": Down})
	a, err := s.Answer(Question{"res.gslb.test.", TypeA}, london)
	if !errors.Is(err, ErrNoData) {
		t.Fatal(err)
	}
	soa := a.Authority[0]
	if soa.TTL != 30 || soa.Data.Minimum != 30 || soa.Type != TypeSOA {
		t.Fatalf("negative SOA %s minimum %d, want TTL and minimum 30", fmtRec(soa), soa.Data.Minimum)
	}
	// The ordinary NODATA keeps min(SOA TTL, minimum).
	a, _ = s.Answer(Question{"fo.gslb.test.", TypeAAAA}, london)
	if a.Authority[0].TTL != 60 || a.Scope != 0 {
		t.Fatalf("NODATA SOA TTL %d scope %d", a.Authority[0].TTL, a.Scope)
	}
}

func TestTTLCapping(t *testing.T) {
	cfg := testConfig()
	for _, tc := range []struct {
		next time.Duration
		want uint32
	}{{0, 30}, {10 * time.Second, 10}, {2 * time.Second, 5}, {time.Hour, 30}, {1500 * time.Millisecond, 5}} {
		v := viewOf(cfg, nil)
		es := v.Endpoints["eu-west@app.gslb.test"]
		es.NextChange = tc.next
		v.Endpoints["eu-west@app.gslb.test"] = es
		s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: v, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Answer(Question{"app.gslb.test.", TypeA}, london)
		if err != nil || len(a.Answer) != 1 || a.Answer[0].TTL != tc.want {
			t.Errorf("next change %v: %v %v, want TTL %d", tc.next, err, fmtRecs(a.Answer), tc.want)
		}
		if a.GSLBName != "app.gslb.test." || a.Region != "eu-west" {
			t.Errorf("answer names %q region %q, want app.gslb.test. eu-west", a.GSLBName, a.Region)
		}
	}
	a, err := mustSnapshot(t, cfg).Answer(Question{"www.gslb.test.", TypeA}, london)
	if err != nil || a.GSLBName != "" || a.Region != "" {
		t.Errorf("static answer: %v name %q region %q, want none", err, a.GSLBName, a.Region)
	}
}

func mustSnapshot(t *testing.T, cfg *config.Config) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(Options{Config: cfg, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWeightedDistribution(t *testing.T) {
	// With the real random source, weight 3:1 gives both and never weight 0.
	cfg := testConfig()
	s, err := NewSnapshot(Options{Config: cfg, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for range 2000 {
		a, err := s.Answer(Question{"wt.gslb.test.", TypeA}, nowhere)
		if err != nil {
			t.Fatal(err)
		}
		count[a.Answer[0].Data.Addr.String()]++
	}
	if count["203.0.113.14"] != 0 || count["192.0.2.14"] < 1200 || count["198.51.100.14"] < 200 {
		t.Fatalf("distribution %v, want about 1500:500:0", count)
	}
}

// writeView returns a View for the db names with the given states; each
// endpoint's Since is since[id] or t0.
func writeView(cfg *config.Config, states map[string]State, since map[string]time.Time) View {
	v := viewOf(cfg, states)
	for id, at := range since {
		es := v.Endpoints[id]
		es.Since = at
		v.Endpoints[id] = es
	}
	return v
}

func TestWriteFailoverFailback(t *testing.T) {
	cfg := testConfig()
	const (
		usM, euM = "us-east@db.gslb.test", "eu-west@db.gslb.test"
		usA, euA = "us-east@db-auto.gslb.test", "eu-west@db-auto.gslb.test"
		apM, apA = "ap-southeast@db.gslb.test", "ap-southeast@db-auto.gslb.test"
	)
	answer := func(s *Snapshot, name string) string {
		t.Helper()
		a, err := s.Answer(Question{name + ".gslb.test.", TypeA}, london)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(a.Answer) != 1 || a.Scope != 0 {
			t.Fatalf("%s: write names answer one endpoint, scope 0: %v scope %d", name, fmtRecs(a.Answer), a.Scope)
		}
		return a.Answer[0].Data.Addr.String()
	}
	// 1. Start: the first ready region in order.
	s, err := NewSnapshot(Options{Config: cfg, View: writeView(cfg, nil, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if answer(s, "db") != "192.0.2.30" || answer(s, "db-auto") != "192.0.2.31" {
		t.Fatal("initial active region is not us-east")
	}
	// 2. us-east goes down: both fail over to eu-west.
	t1 := t0.Add(time.Minute)
	s = s.WithView(writeView(cfg, map[string]State{usM: Down, usA: Down}, nil), t1)
	if answer(s, "db") != "198.51.100.30" || answer(s, "db-auto") != "198.51.100.31" {
		t.Fatal("no failover to eu-west")
	}
	// 3. us-east ready again: manual stays; auto waits for the hold.
	t2 := t1.Add(time.Minute)
	back := map[string]time.Time{usM: t2, usA: t2}
	s = s.WithView(writeView(cfg, nil, back), t2.Add(10*time.Second))
	if answer(s, "db") != "198.51.100.30" || answer(s, "db-auto") != "198.51.100.31" {
		t.Fatal("failed back before the hold / with manual failback")
	}
	if got := s.RebuildAt(); !got.Equal(t2.Add(60 * time.Second)) {
		t.Fatalf("RebuildAt = %v, want %v", got, t2.Add(60*time.Second))
	}
	if r, why, ok := s.ActiveRegion("db.gslb.test."); !ok || r != "eu-west" || why == "" {
		t.Fatalf("ActiveRegion = %q %q %v", r, why, ok)
	}
	// 4. After the hold: auto fails back, manual stays.
	s = s.WithView(writeView(cfg, nil, back), t2.Add(61*time.Second))
	if answer(s, "db") != "198.51.100.30" || answer(s, "db-auto") != "192.0.2.31" {
		t.Fatal("auto failback after hold / manual stays")
	}
	if !s.RebuildAt().IsZero() {
		t.Fatalf("RebuildAt = %v after failback", s.RebuildAt())
	}
	// 5. us-east flaps (new Since) while auto is waiting: the hold restarts.
	s2 := s.WithView(writeView(cfg, map[string]State{usA: Down}, nil), t2.Add(70*time.Second))
	if answer(s2, "db-auto") != "198.51.100.31" {
		t.Fatal("auto did not fail over again")
	}
	s2 = s2.WithView(writeView(cfg, nil, map[string]time.Time{usA: t2.Add(80 * time.Second)}), t2.Add(100*time.Second))
	if answer(s2, "db-auto") != "198.51.100.31" {
		t.Fatal("failed back before the restarted hold")
	}
	// 6. The manual name's active eu-west goes down: move to the first
	// ready region in order (us-east is ready again).
	s = s.WithView(writeView(cfg, map[string]State{euM: Down}, nil), t2.Add(2*time.Minute))
	if answer(s, "db") != "192.0.2.30" {
		t.Fatal("no failover from eu-west to the first ready region")
	}
	// 7. Everything down: the active region is kept, and all_down open
	// answers it alone (never several regions for writes).
	s = s.WithView(writeView(cfg, map[string]State{usM: Down, euM: Down, apM: Down, usA: Down, euA: Down, apA: Down}, nil), t2.Add(3*time.Minute))
	a, err := s.Answer(Question{"db.gslb.test.", TypeA}, london)
	if err != nil || !slices.Equal(addrs(a.Answer), []string{"192.0.2.30"}) {
		t.Fatalf("all down write name: %v %v", err, fmtRecs(a.Answer))
	}
	if r, _, _ := s.ActiveRegion("db.gslb.test."); r != "us-east" {
		t.Fatalf("active region %q after all down, want us-east kept", r)
	}
	// 8. A config reload (NewSnapshot with Previous) keeps the active region.
	s = s.WithView(writeView(cfg, map[string]State{usM: Down}, nil), t2.Add(4*time.Minute))
	if answer(s, "db") != "198.51.100.30" {
		t.Fatal("failover to eu-west")
	}
	s, err = NewSnapshot(Options{Config: testConfig(), Previous: s, View: writeView(cfg, nil, nil), Now: t2.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if answer(s, "db") != "198.51.100.30" {
		t.Fatal("reload lost the write name's active region")
	}
	var active []string
	for _, e := range s.Endpoints() {
		if e.Active {
			active = append(active, e.ID)
		}
	}
	if !slices.Equal(active, []string{"eu-west@db.gslb.test", "us-east@db-auto.gslb.test"}) {
		t.Fatalf("active endpoints %v", active)
	}
}

// TestWriteStartupFollowsOrder: probes start at random offsets, so at
// start a less preferred region may be ready first. Until the first
// failover the write name follows the order; after it, failback rules hold.
func TestWriteStartupFollowsOrder(t *testing.T) {
	cfg := testConfig()
	const usM = "us-east@db.gslb.test"
	active := func(s *Snapshot) string {
		t.Helper()
		r, _, _ := s.ActiveRegion("db.gslb.test.")
		return r
	}
	s, err := NewSnapshot(Options{Config: cfg, View: writeView(cfg, map[string]State{usM: Recovering}, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got := active(s); got != "eu-west" {
		t.Fatalf("active %q while us-east recovers, want eu-west", got)
	}
	s = s.WithView(writeView(cfg, nil, nil), t0.Add(time.Second))
	if got := active(s); got != "us-east" {
		t.Fatalf("active %q once us-east is ready at start, want us-east (first in order)", got)
	}
	// A real failover: from now on manual failback keeps eu-west.
	s = s.WithView(writeView(cfg, map[string]State{usM: Down}, nil), t0.Add(time.Minute))
	if got := active(s); got != "eu-west" {
		t.Fatalf("active %q after us-east failed, want eu-west", got)
	}
	s = s.WithView(writeView(cfg, nil, nil), t0.Add(2*time.Minute))
	if got := active(s); got != "eu-west" {
		t.Fatalf("active %q: manual failback must stay on eu-west", got)
	}
}
