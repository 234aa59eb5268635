package gslb

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// TestScopeExcludesNestedCIDREntries: a client located by a network that
// contains a more specific CIDR map entry must get a scope long enough
// that its cached answer does not cover that entry, or a resolver would
// reuse the answer for clients the entry sends elsewhere.
func TestScopeExcludesNestedCIDREntries(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIP.CIDRMap = []config.CIDREntry{
		cidr("10.0.0.0/8", "us-east"),
		cidr("10.1.0.0/16", "eu-west"),
		cidr("10.1.2.0/24", "ap-southeast"),
	}
	var entries []geo.CIDREntry
	for _, e := range cfg.GeoIP.CIDRMap {
		r := cfg.Regions[slices.IndexFunc(cfg.Regions, func(r config.Region) bool { return r.Name == e.Region })]
		entries = append(entries, geo.CIDREntry{Network: netip.MustParsePrefix(e.Network), Region: e.Region,
			Lat: r.Latitude, Lon: r.Longitude, HasCoords: true, Continent: r.Continent})
	}
	loc, err := geo.NewLocator(entries)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		client string
		bits   int
		want   string
		scope  int
	}{
		// 10.2.3.0 and 10.1.0.0 share 14 bits: a /15 is the widest
		// network around the client that misses 10.1.0.0/16.
		{"10.2.3.0", 24, "192.0.2.10", 15},
		{"10.0.5.0", 24, "192.0.2.10", 16},
		{"10.200.0.0", 24, "192.0.2.10", 9},   // 10.128.0.0/9 misses 10.1.0.0/16
		{"10.1.5.0", 24, "198.51.100.10", 22}, // misses 10.1.2.0/24
		{"10.1.3.0", 24, "198.51.100.10", 24},
		{"10.1.2.0", 24, "203.0.113.10", 24},
		{"10.2.0.0", 12, "192.0.2.10", 12}, // capped at the source prefix
	}
	for _, tc := range tests {
		c := Client{Addr: netip.MustParseAddr(tc.client), SourcePrefix: tc.bits, ECS: true}
		a, err := s.Answer(Question{"app.gslb.test.", TypeA}, c)
		if err != nil {
			t.Fatalf("%s/%d: %v", tc.client, tc.bits, err)
		}
		if got := addrs(a.Answer); len(got) != 1 || got[0] != tc.want || a.Scope != tc.scope {
			t.Errorf("%s/%d: answer %v scope %d, want %s scope %d", tc.client, tc.bits, got, a.Scope, tc.want, tc.scope)
		}
		if ex := s.Explain("app.gslb.test.", TypeA, c); ex.Scope != a.Scope {
			t.Errorf("%s/%d: Explain scope %d, Answer scope %d", tc.client, tc.bits, ex.Scope, a.Scope)
		}
	}
}

// TestWriteAllDownAnswersOneRegion: a write name whose regions are all
// down must not answer every region (writes to several regions at once);
// with all_down open it answers the active region, or the first in order
// when none was ever active.
func TestWriteAllDownAnswersOneRegion(t *testing.T) {
	cfg := testConfig()
	down := map[string]State{}
	for _, r := range []string{"us-east", "eu-west", "ap-southeast"} {
		down[r+"@db.gslb.test"] = Down
	}
	// Nothing ever ready: the first region in order.
	s, err := NewSnapshot(Options{Config: cfg, View: viewOf(cfg, down), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Answer(Question{"db.gslb.test.", TypeA}, london)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(a.Answer); !slices.Equal(got, []string{"192.0.2.30"}) || a.Answer[0].TTL != 5 {
		t.Fatalf("all down at start: %v, want the first region in order with MinTTL", fmtRecs(a.Answer))
	}
	// Failed over to eu-west, then everything goes down: stay on eu-west.
	s = settle(t, s.WithView(viewOf(cfg, map[string]State{"us-east@db.gslb.test": Down}), t0.Add(time.Minute)))
	if got := addrs(mustAnswer(t, s, "db.gslb.test.", TypeA).Answer); !slices.Equal(got, []string{"198.51.100.30"}) {
		t.Fatalf("failover: %v", got)
	}
	v := viewOf(cfg, down)
	v.Active = s.View().Active // the cluster keeps the record in force
	s = settle(t, s.WithView(v, t0.Add(2*time.Minute)))
	a = mustAnswer(t, s, "db.gslb.test.", TypeA)
	if got := addrs(a.Answer); !slices.Equal(got, []string{"198.51.100.30"}) {
		t.Fatalf("all down after failover: %v, want only the active region eu-west", got)
	}
	if ex := s.Explain("db.gslb.test.", TypeA, london); !slices.Equal(ex.Answer, addrs(a.Answer)) {
		t.Fatalf("Explain %v, Answer %v", ex.Answer, addrs(a.Answer))
	}
	// The active region has no IPv6: NODATA, not another region.
	if _, err := s.Answer(Question{"db.gslb.test.", TypeAAAA}, london); !errors.Is(err, ErrNoData) {
		t.Fatalf("AAAA: %v, want NODATA", err)
	}
}

func mustAnswer(t *testing.T, s *Snapshot, name string, qt uint16) Answer {
	t.Helper()
	a, err := s.Answer(Question{name, qt}, london)
	if err != nil {
		t.Fatalf("%s %s: %v", name, TypeString(qt), err)
	}
	return a
}

// TestExplainAgreesWithAnswer runs Explain and Answer over every GSLB name,
// several types, clients and states: the answer, error and scope agree.
func TestExplainAgreesWithAnswer(t *testing.T) {
	cfg := testConfig()
	loc := testLocator(t)
	views := []map[string]State{nil, {"eu-west@app.gslb.test": Down, "us-east@fo.gslb.test": Down,
		"eu-west@res.gslb.test": Down, "eu-central@res.gslb.test": Down, "us-east@closed.gslb.test": Down, "eu-west@closed.gslb.test": Down}}
	for _, states := range views {
		s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, states), Now: t0,
			Rand: func() float64 { return 0.5 }})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range s.c.names {
			for _, qt := range []uint16{TypeA, TypeAAAA, TypeCNAME, TypeANY, TypeMX, TypeTXT} {
				for _, c := range []Client{london, seattle, changchun, frankfurt, mapped, nowhere} {
					a, err := s.Answer(Question{g.fqdn, qt}, c)
					ex := s.Explain(g.fqdn, qt, c)
					var own []string
					chained := false
					for _, r := range a.Answer {
						if r.Type == TypeCNAME {
							chained = true // what follows (and its error) is the target's
						}
						if r.Name != g.fqdn {
							continue
						}
						own = append(own, rdataString(r))
					}
					if !slices.Equal(own, ex.Answer) {
						t.Errorf("%s %s %v: Answer %v, Explain %v", g.fqdn, TypeString(qt), c.Addr, own, ex.Answer)
					}
					if !chained {
						if e := errString(err); e != ex.Error {
							t.Errorf("%s %s %v: Answer error %q, Explain error %q", g.fqdn, TypeString(qt), c.Addr, e, ex.Error)
						}
						if a.Scope != ex.Scope {
							t.Errorf("%s %s %v: Answer scope %d, Explain scope %d", g.fqdn, TypeString(qt), c.Addr, a.Scope, ex.Scope)
						}
					}
				}
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestResolverAlgorithmEdges covers RFC 1034 §4.3.2 corners: DS at a zone
// cut belongs to the parent, escaped dots are not label boundaries, and a
// GSLB name answered by a CNAME is a CNAME for every type.
func TestResolverAlgorithmEdges(t *testing.T) {
	s := newSnap(t, nil)
	const typeDS = 43
	const soa = "gslb.test. SOA 60 ns1.gslb.test. hostmaster.gslb.test. 7"
	tests := []struct {
		name  string
		q     Question
		c     Client
		err   error
		ans   []string
		auth  []string
		nonAA bool
	}{
		{name: "DS at the cut is the parent's: NODATA", q: Question{"sub.gslb.test.", typeDS}, err: ErrNoData, auth: []string{soa}},
		{name: "DS below the cut is a referral", q: Question{"x.sub.gslb.test.", typeDS}, nonAA: true,
			auth: []string{"sub.gslb.test. NS 300 ns.sub.gslb.test."}},
		{name: "NS at the cut is a referral", q: Question{"sub.gslb.test.", TypeNS}, nonAA: true,
			auth: []string{"sub.gslb.test. NS 300 ns.sub.gslb.test."}},
		{name: "escaped dot: one label under test., not ours", q: Question{`x\.gslb.test.`, TypeA}, err: ErrNotAuthoritative},
		{name: "escaped dot: one label under the apex, not below the cut", q: Question{`x\.sub.gslb.test.`, TypeA},
			err: ErrNoSuchName, auth: []string{soa}},
		{name: "escaped backslash before a real dot", q: Question{`x\\.gslb.test.`, TypeA}, err: ErrNoSuchName, auth: []string{soa}},
		{name: "CNAME-answered GSLB name, MX, target outside", q: Question{"lb.gslb.test.", TypeMX}, c: seattle,
			ans: []string{"lb.gslb.test. CNAME 30 lb-us.example.net."}},
		{name: "CNAME-answered GSLB name, MX, target inside", q: Question{"lb.gslb.test.", TypeMX}, c: london, err: ErrNoData,
			ans: []string{"lb.gslb.test. CNAME 30 lb-eu.gslb.test."}, auth: []string{soa}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if !c.Addr.IsValid() {
				c = london
			}
			a, err := s.Answer(tc.q, c)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got := fmtRecs(a.Answer); !slices.Equal(got, nonNil(tc.ans)) {
				t.Errorf("answer = %q, want %q", got, tc.ans)
			}
			if got := fmtRecs(a.Authority); !slices.Equal(got, nonNil(tc.auth)) && !tc.nonAA {
				t.Errorf("authority = %q, want %q", got, tc.auth)
			} else if tc.nonAA && (len(got) == 0 || got[0] != tc.auth[0]) {
				t.Errorf("authority = %q, want %q", got, tc.auth)
			}
			wantAA := !tc.nonAA && !errors.Is(tc.err, ErrNotAuthoritative)
			if a.Authoritative != wantAA {
				t.Errorf("authoritative = %v, want %v", a.Authoritative, wantAA)
			}
		})
	}
}

func TestWidenScopeIPv6AndMmdbNetworks(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIP.CIDRMap = []config.CIDREntry{
		cidr("2001:db8:1::/48", "eu-west"),
		cidr("::ffff:10.1.0.0/112", "eu-west"), // stored as 10.1.0.0/16
	}
	c, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr, net string
		want      int
	}{
		// An mmdb network /32 holding the entry: 2001:db8:2:: shares 46 bits with 2001:db8:1::.
		{"2001:db8:2::", "2001:db8::/32", 47},
		{"2001:db8:1:5::", "2001:db8:1::/48", 48}, // located by the entry itself
		{"2001:db9::", "2001:db9::/32", 32},       // nothing inside
		{"10.9.0.0", "10.0.0.0/8", 13},            // the mapped entry counts as IPv4
	}
	for _, tc := range tests {
		if got := c.widenScope(netip.MustParseAddr(tc.addr), netip.MustParsePrefix(tc.net)); got != tc.want {
			t.Errorf("widenScope(%s, %s) = %d, want %d", tc.addr, tc.net, got, tc.want)
		}
	}
}

// TestWriteNameResidencyFence: a fence holds for write names too; their
// one region is offered to a fenced client only when it is inside.
func TestWriteNameResidencyFence(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Zones[0].Names {
		if n := &cfg.Zones[0].Names[i]; n.Name == "db.gslb.test." {
			n.Residency = &config.Residency{Match: []string{"EU"}, Regions: []string{"eu-west"}, Fail: "closed"}
		}
	}
	s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	q := Question{"db.gslb.test.", TypeA}
	a, err := s.Answer(q, london)
	if !errors.Is(err, ErrNoData) || len(a.Authority) != 1 || a.Authority[0].TTL != 30 || a.Scope != 24 {
		t.Fatalf("fenced client, write region us-east outside: %v %v scope %d", err, fmtRecs(a.Authority), a.Scope)
	}
	if ex := s.Explain(q.Name, TypeA, london); ex.Error != ErrNoData.Error() || ex.Scope != 24 {
		t.Fatalf("Explain disagrees: %+v", ex)
	}
	a, err = s.Answer(q, seattle)
	if err != nil || !slices.Equal(addrs(a.Answer), []string{"192.0.2.30"}) || a.Scope != 24 {
		t.Fatalf("unfenced client: %v %v scope %d", err, addrs(a.Answer), a.Scope)
	}
	s = settle(t, s.WithView(viewOf(cfg, map[string]State{"us-east@db.gslb.test": Down}), t0.Add(time.Minute)))
	a, err = s.Answer(q, london)
	if err != nil || !slices.Equal(addrs(a.Answer), []string{"198.51.100.30"}) {
		t.Fatalf("fenced client, write region eu-west inside: %v %v", err, addrs(a.Answer))
	}
}

// TestScopeIPv4MappedClient: an IPv6 ECS subnet holding an IPv4-mapped
// address is located as IPv4, but its scope counts IPv6 bits.
func TestScopeIPv4MappedClient(t *testing.T) {
	s := newSnap(t, nil)
	c := Client{Addr: netip.MustParseAddr("::ffff:81.2.69.0"), SourcePrefix: 120, ECS: true}
	a, err := s.Answer(Question{"app.gslb.test.", TypeA}, c)
	if err != nil || !slices.Equal(addrs(a.Answer), []string{"198.51.100.10"}) || a.Scope != 96+24 {
		t.Fatalf("%v %v scope %d, want eu-west scope 120", err, addrs(a.Answer), a.Scope)
	}
}

// TestAnswerAllocs keeps the answer path free of allocations for static
// answers, one-endpoint GSLB answers and the negative answers of a fence
// (the test Locator's CIDR lookup allocates nothing).
func TestAnswerAllocs(t *testing.T) {
	s := newSnap(t, map[string]State{"eu-west@res.gslb.test": Down, "eu-central@res.gslb.test": Down})
	for _, q := range []Question{
		{"www.gslb.test.", TypeA},
		{"app.gslb.test.", TypeA},
		{"app.gslb.test.", TypeAAAA},
		{"res.gslb.test.", TypeA},
		{"db.gslb.test.", TypeA},
		{"nope.gslb.test.", TypeA},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = s.Answer(q, london) }); n != 0 {
			t.Errorf("%s %s: %v allocations per answer, want 0", q.Name, TypeString(q.Type), n)
		}
	}
}
