package gslb

import (
	"errors"
	"slices"
	"testing"

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

// TestTTLRule: the name's TTL while the answer is stable; min_ttl while
// an endpoint the answer depends on is in transition (a chosen one, or
// one ranked before it); an endpoint ranked after the answer does not
// shorten it.
func TestTTLRule(t *testing.T) {
	cfg := testConfig()
	for _, tc := range []struct {
		name       string
		transition string
		states     map[string]State
		want       uint32
	}{
		{"stable", "", nil, 30},
		{"chosen endpoint in transition", "eu-west@app.gslb.test", nil, 5},
		{"endpoint ranked after the answer in transition", "ap-southeast@app.gslb.test", nil, 30},
		{"nearer endpoint recovering (ranked before the answer)", "eu-west@app.gslb.test",
			map[string]State{"eu-west@app.gslb.test": Recovering}, 5},
		{"nearer endpoint down for good", "", map[string]State{"eu-west@app.gslb.test": Down}, 30},
	} {
		v := viewOf(cfg, tc.states)
		if tc.transition != "" {
			es, ok := v.Targets[tc.transition]
			if !ok {
				t.Fatalf("%s: no endpoint %s", tc.name, tc.transition)
			}
			es.Transition = true
			v.Targets[tc.transition] = es
		}
		s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: v, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Answer(Question{"app.gslb.test.", TypeA}, london)
		if err != nil || len(a.Answer) != 1 || a.Answer[0].TTL != tc.want {
			t.Errorf("%s: %v %v, want TTL %d", tc.name, err, fmtRecs(a.Answer), tc.want)
		}
		if a.GSLBName != "app.gslb.test." || a.Region == "" {
			t.Errorf("%s: answer names %q region %q", tc.name, a.GSLBName, a.Region)
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

// TestWeightedHugeWeights: weights whose sum passes 2^63 overflowed the
// int total, so every draw picked the first endpoint. Equal huge weights
// must split the draws evenly.
func TestWeightedHugeWeights(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Zones[0].Names {
		n := &cfg.Zones[0].Names[i]
		if n.Name != "wt.gslb.test." {
			continue
		}
		for j := range n.Endpoints {
			n.Endpoints[j].Weight = intp(1 << 62)
		}
	}
	for _, tc := range []struct {
		draw float64
		want string
	}{{0.1, "192.0.2.14"}, {0.5, "198.51.100.14"}, {0.9, "203.0.113.14"}} {
		s, err := NewSnapshot(Options{Config: cfg, View: viewOf(cfg, nil), Now: t0, Rand: func() float64 { return tc.draw }})
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Answer(Question{"wt.gslb.test.", TypeA}, nowhere)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Answer[0].Data.Addr.String(); got != tc.want {
			t.Errorf("draw %.1f over three weights of 2^62: got %s, want %s", tc.draw, got, tc.want)
		}
	}
}
