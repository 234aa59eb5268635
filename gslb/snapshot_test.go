package gslb

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

func TestEvents(t *testing.T) {
	cfg := testConfig()
	s, err := NewSnapshot(Options{Config: cfg, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events()) != 0 {
		t.Fatalf("events on an empty view: %v", s.Events())
	}
	// First agreed view: every endpoint goes unknown -> ready.
	s = s.WithView(viewOf(cfg, nil), t0.Add(time.Second))
	n := len(endpointIDs(s))
	if len(s.Events()) != n {
		t.Fatalf("%d events, want %d", len(s.Events()), n)
	}
	if e := s.Events()[0]; e.Endpoint != "us-east@app.gslb.test" || e.From != Unknown || e.To != Ready {
		t.Fatalf("first event %+v", e)
	}
	// One change: one event, newest last, with the View's Since and reason.
	v := viewOf(cfg, nil)
	v.Targets["eu-west@fo.gslb.test"] = TargetState{State: Down, Since: t0.Add(5 * time.Second), Reason: "3 probes failed"}
	s = s.WithView(v, t0.Add(6*time.Second))
	ev := s.Events()
	last := ev[len(ev)-1]
	if len(ev) != n+1 || last.Endpoint != "eu-west@fo.gslb.test" || last.From != Ready || last.To != Down ||
		!last.At.Equal(t0.Add(5*time.Second)) || last.Reason != "3 probes failed" {
		t.Fatalf("events %d, last %+v", len(ev), last)
	}
	// Same view again: no event. Then flapping caps the history at 100.
	s = s.WithView(v, t0.Add(7*time.Second))
	if len(s.Events()) != n+1 {
		t.Fatalf("unchanged view added events")
	}
	for i := range 80 {
		st := Ready
		if i%2 == 0 {
			st = Down
		}
		v := viewOf(cfg, map[string]State{"us-east@all.gslb.test": st})
		s = s.WithView(v, t0.Add(time.Duration(10+i)*time.Second))
	}
	if len(s.Events()) != maxEvents {
		t.Fatalf("%d events, want the cap %d", len(s.Events()), maxEvents)
	}
	// A reload keeps the history.
	s2, err := NewSnapshot(Options{Config: cfg, Previous: s, View: s.View(), Now: t0.Add(time.Hour)})
	if err != nil || len(s2.Events()) != maxEvents {
		t.Fatalf("reload: %v, %d events", err, len(s2.Events()))
	}
}

func TestReadAPI(t *testing.T) {
	s := newSnap(t, map[string]State{"eu-west@app.gslb.test": Down})
	if s.NodeName() != "node-a" || s.VersionBind() != "gslbd test" || s.loc == nil || len(s.Regions()) != 4 ||
		!s.BuiltAt().Equal(t0) || s.Config() == nil || s.View().Self != "node-a" {
		t.Fatal("accessors")
	}
	ids := endpointIDs(s)
	if len(ids) != len(s.Endpoints()) || ids[0] != "us-east@app.gslb.test" {
		t.Fatalf("ids %v", ids)
	}
	e, ok := s.Endpoint("eu-west@app.gslb.test")
	if !ok || e.Name != "eu-west" || e.GSLBName != "app.gslb.test." || e.Zone != "gslb.test." || e.Region != "eu-west" ||
		e.State.State != Down || e.Weight != 1 || !slices.Equal(e.Addresses, []string{"198.51.100.10"}) {
		t.Fatalf("endpoint %+v", e)
	}
	if _, ok := s.Endpoint("nope"); ok {
		t.Fatal("unknown endpoint found")
	}
	lb, _ := s.Endpoint("eu-west@lb.gslb.test")
	if lb.Target != "lb-eu.gslb.test." {
		t.Fatalf("target %q", lb.Target)
	}
	// Not in the View: unknown.
	s2, _ := NewSnapshot(Options{Config: testConfig(), Now: t0})
	if e, _ := s2.Endpoint("eu-west@app.gslb.test"); e.State.State != Unknown || e.State.Reason == "" {
		t.Fatalf("unobserved endpoint %+v", e.State)
	}
}

func TestExplain(t *testing.T) {
	s := newSnap(t, map[string]State{"us-east@app.gslb.test": Down})
	ex := s.Explain("App.gslb.test", TypeA, london)
	a, err := s.Answer(Question{"app.gslb.test.", TypeA}, london)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Name != "app.gslb.test." || ex.Type != "A" || ex.Policy != "nearest" || ex.Role != "read" || !ex.ECS ||
		ex.Location == nil || ex.Location.Country != "GB" || ex.Client != "81.2.69.0/24" {
		t.Fatalf("explanation header %+v", ex)
	}
	if !slices.Equal(ex.Answer, addrs(a.Answer)) || ex.Scope != a.Scope || ex.TTL != a.Answer[0].TTL {
		t.Fatalf("Explain %v/%d/%d disagrees with Answer %v/%d", ex.Answer, ex.Scope, ex.TTL, addrs(a.Answer), a.Scope)
	}
	if len(ex.Ranking) != 4 {
		t.Fatalf("ranking %+v", ex.Ranking)
	}
	want := []struct {
		id, skipped string
		chosen      bool
	}{
		{"eu-west@app.gslb.test", "", true},
		{"eu-central@app.gslb.test", "beyond answers=1", false},
		{"us-east@app.gslb.test", "not ready: down", false},
		{"ap-southeast@app.gslb.test", "beyond answers=1", false},
	}
	for i, w := range want {
		r := ex.Ranking[i]
		if r.ID != w.id || r.Chosen != w.chosen || r.Skipped != w.skipped || r.DistanceKM <= 0 {
			t.Errorf("ranking[%d] = %+v, want %+v", i, r, w)
		}
	}
	if ex.Ranking[0].DistanceKM > ex.Ranking[1].DistanceKM {
		t.Error("ranking not by distance")
	}
	joined := strings.Join(ex.Reasons, "\n")
	for _, w := range []string{"country GB", "nearest: ranked by distance"} {
		if !strings.Contains(joined, w) {
			t.Errorf("reasons lack %q:\n%s", w, joined)
		}
	}

	// Write name: shows the active region and why.
	ex = s.Explain("db.gslb.test.", TypeA, london)
	if ex.Role != "write" || !strings.Contains(strings.Join(ex.Reasons, "\n"), "write record: us-east, term 0 in force") ||
		!slices.Equal(ex.Answer, []string{"192.0.2.30"}) || ex.Ranking[1].Skipped != "not the write region" {
		t.Fatalf("write explanation %+v", ex)
	}
	// Residency closed: the error and the name's TTL.
	s = newSnap(t, map[string]State{"eu-west@res.gslb.test": Down, "eu-central@res.gslb.test": Down})
	ex = s.Explain("res.gslb.test.", TypeA, london)
	if ex.Error != ErrNoData.Error() || ex.TTL != 30 || !strings.Contains(strings.Join(ex.Reasons, " "), "fail closed") {
		t.Fatalf("residency explanation %+v", ex)
	}
	// AAAA: endpoints without IPv6 are skipped for that reason.
	ex = s.Explain("app.gslb.test.", TypeAAAA, nowhere)
	if ex.Location != nil || ex.Ranking[len(ex.Ranking)-1].Skipped != "no IPv6 address" {
		t.Fatalf("AAAA explanation %+v", ex)
	}
	// Static names and unknown names.
	ex = s.Explain("www.gslb.test.", TypeA, nowhere)
	if !slices.Equal(ex.Answer, []string{"192.0.2.80"}) || ex.Error != "" {
		t.Fatalf("static explanation %+v", ex)
	}
	ex = s.Explain("www.example.org.", TypeA, nowhere)
	if ex.Error != ErrNotAuthoritative.Error() {
		t.Fatalf("foreign name explanation %+v", ex)
	}
}

func TestWithViewSharesConfig(t *testing.T) {
	s := newSnap(t, nil)
	n := s.WithView(viewOf(testConfig(), map[string]State{"eu-west@app.gslb.test": Down}), t0.Add(time.Second))
	if n == s || n.Config() != s.Config() || n.loc != s.loc {
		t.Fatal("WithView must return a new Snapshot over the same config and locator")
	}
	a1, _ := s.Answer(Question{"app.gslb.test.", TypeA}, london)
	a2, _ := n.Answer(Question{"app.gslb.test.", TypeA}, london)
	if addrs(a1.Answer)[0] != "198.51.100.10" || addrs(a2.Answer)[0] != "198.51.100.20" {
		t.Fatalf("old %v new %v: the old Snapshot must not change", addrs(a1.Answer), addrs(a2.Answer))
	}
}

func BenchmarkAnswer(b *testing.B) {
	s := newSnap(b, nil)
	q := Question{Name: "www.gslb.test.", Type: TypeA}
	c := Client{Addr: netip.MustParseAddr("192.0.2.1"), SourcePrefix: 32}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Answer(q, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswerNearest answers a nearest GSLB name, locating the client
// in the MaxMind test City database (geo/testdata).
func BenchmarkAnswerNearest(b *testing.B) {
	cfg := testConfig()
	db, err := geo.LoadDatabase("../geo/testdata/GeoIP2-City-Test.mmdb")
	if err != nil {
		b.Fatal(err)
	}
	loc, err := geo.NewLocator(nil, db)
	if err != nil {
		b.Fatal(err)
	}
	c := Client{Addr: netip.MustParseAddr("81.2.69.160"), SourcePrefix: 27, ECS: true}
	s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		b.Fatal(err)
	}
	q := Question{Name: "app.gslb.test.", Type: TypeA}
	a, err := s.Answer(q, c)
	if err != nil || len(a.Answer) != 1 || a.Answer[0].Data.Addr.String() != "198.51.100.10" || a.Scope == 0 {
		b.Fatalf("London must get eu-west with a scope: %v %v scope %d", err, fmtRecs(a.Answer), a.Scope)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Answer(q, c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFromYAML builds a Snapshot from a config that went through
// config.Parse, as cmd/gslbd does.
func TestFromYAML(t *testing.T) {
	const src = `
node: n1
regions:
  - {name: us-east, latitude: 39.0, longitude: -77.5, continent: NA}
  - {name: eu-west, latitude: 53.3, longitude: -6.3, continent: EU}
zones:
  - apex: GSLB.test
    soa: {serial: 3}
    nameservers:
      - {name: ns1, addresses: [127.0.0.1]}
    records:
      - {name: www, type: A, value: 192.0.2.80}
      - {name: mail, type: MX, value: "10 mx.example.net."}
    names:
      - name: app
        policy: nearest
        endpoints:
          - {region: us-east, addresses: [192.0.2.10]}
          - {region: eu-west, addresses: [198.51.100.10]}
`
	cfg, err := config.Parse([]byte(src), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The endpoints have no probes: ready without any observation.
	v := View{FirstRound: true, Quorum: true, Expect: 1}
	s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: v, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    Question
		want string
	}{
		{Question{"www.gslb.test.", TypeA}, "www.gslb.test. A 300 192.0.2.80"},
		{Question{"mail.gslb.test.", TypeMX}, "mail.gslb.test. MX 300 10 mx.example.net."},
		{Question{"ns1.gslb.test.", TypeA}, "ns1.gslb.test. A 300 127.0.0.1"},
		{Question{"app.gslb.test.", TypeA}, "app.gslb.test. A 30 198.51.100.10"},
	} {
		a, err := s.Answer(tc.q, london)
		if err != nil || len(a.Answer) != 1 || fmtRec(a.Answer[0]) != tc.want {
			t.Errorf("%v: %v %q, want %q", tc.q, err, fmtRecs(a.Answer), tc.want)
		}
	}
	a, err := s.Answer(Question{"nope.gslb.test.", TypeA}, london)
	if !errors.Is(err, ErrNoSuchName) || len(a.Authority) != 1 || a.Authority[0].TTL != 60 || a.Authority[0].Data.Serial != 3 {
		t.Fatalf("NXDOMAIN %v %v", err, fmtRecs(a.Authority))
	}
}
