package gslb

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestAnswerStatic(t *testing.T) {
	s := newSnap(t, nil)
	const soa = "gslb.test. SOA 60 ns1.gslb.test. hostmaster.gslb.test. 7"
	tests := []struct {
		name   string
		q      Question
		err    error
		ans    []string
		auth   []string
		add    []string
		nonAA  bool
		zone   string
		anyLen int // for ANY: only the count is fixed
	}{
		{name: "static A", q: Question{"www.gslb.test.", TypeA}, ans: []string{"www.gslb.test. A 300 192.0.2.80"}},
		{name: "case-insensitive", q: Question{"WwW.GSLB.Test.", TypeA}, ans: []string{"www.gslb.test. A 300 192.0.2.80"}},
		{name: "no trailing dot", q: Question{"www.gslb.test", TypeAAAA}, ans: []string{"www.gslb.test. AAAA 300 2001:db8::80"}},
		{name: "NODATA carries SOA with negative TTL", q: Question{"www.gslb.test.", TypeTXT}, err: ErrNoData, auth: []string{soa}},
		{name: "NXDOMAIN carries SOA", q: Question{"nope.gslb.test.", TypeA}, err: ErrNoSuchName, auth: []string{soa}},
		{name: "empty non-terminal", q: Question{"b.c.gslb.test.", TypeA}, err: ErrNoData, auth: []string{soa}},
		{name: "empty non-terminal 2", q: Question{"c.gslb.test.", TypeTXT}, err: ErrNoData, auth: []string{soa}},
		{name: "below the ENT", q: Question{"a.b.c.gslb.test.", TypeTXT}, ans: []string{`a.b.c.gslb.test. TXT 300 ["deep"]`}},
		{name: "CNAME chased in zone", q: Question{"alias.gslb.test.", TypeA},
			ans: []string{"alias.gslb.test. CNAME 300 www.gslb.test.", "www.gslb.test. A 300 192.0.2.80"}},
		{name: "CNAME chain", q: Question{"chain.gslb.test.", TypeA},
			ans: []string{"chain.gslb.test. CNAME 300 alias.gslb.test.", "alias.gslb.test. CNAME 300 www.gslb.test.", "www.gslb.test. A 300 192.0.2.80"}},
		{name: "CNAME query gives the CNAME only", q: Question{"alias.gslb.test.", TypeCNAME},
			ans: []string{"alias.gslb.test. CNAME 300 www.gslb.test."}},
		{name: "CNAME out of zone not chased", q: Question{"ext.gslb.test.", TypeA},
			ans: []string{"ext.gslb.test. CNAME 300 www.example.com."}},
		{name: "CNAME to missing name", q: Question{"dangling.gslb.test.", TypeA}, err: ErrNoSuchName,
			ans: []string{"dangling.gslb.test. CNAME 300 nothere.gslb.test."}, auth: []string{soa}},
		{name: "CNAME to name without the type", q: Question{"alias.gslb.test.", TypeMX}, err: ErrNoData,
			ans: []string{"alias.gslb.test. CNAME 300 www.gslb.test."}, auth: []string{soa}},
		{name: "CNAME into other zone", q: Question{"toother.gslb.test.", TypeA},
			ans: []string{"toother.gslb.test. CNAME 300 www.other.test.", "www.other.test. A 300 192.0.2.100"}},
		{name: "CNAME into nested zone NXDOMAIN uses its SOA", q: Question{"todeep.gslb.test.", TypeA}, err: ErrNoSuchName,
			ans:  []string{"todeep.gslb.test. CNAME 300 x.deep.gslb.test."},
			auth: []string{"deep.gslb.test. SOA 30 ns1.gslb.test. hostmaster.gslb.test. 1"}},
		{name: "CNAME below a cut stops", q: Question{"tosub.gslb.test.", TypeA},
			ans: []string{"tosub.gslb.test. CNAME 300 host.sub.gslb.test."}},
		{name: "referral at the cut", q: Question{"sub.gslb.test.", TypeA}, nonAA: true,
			auth: []string{"sub.gslb.test. NS 300 ns.sub.gslb.test."}, add: []string{"ns.sub.gslb.test. A 300 192.0.2.53"}},
		{name: "referral below the cut", q: Question{"deeper.host.sub.gslb.test.", TypeAAAA}, nonAA: true,
			auth: []string{"sub.gslb.test. NS 300 ns.sub.gslb.test."}, add: []string{"ns.sub.gslb.test. A 300 192.0.2.53"}},
		{name: "referral for glue name", q: Question{"ns.sub.gslb.test.", TypeA}, nonAA: true,
			auth: []string{"sub.gslb.test. NS 300 ns.sub.gslb.test."}, add: []string{"ns.sub.gslb.test. A 300 192.0.2.53"}},
		{name: "apex NS with glue", q: Question{"gslb.test.", TypeNS},
			ans: []string{"gslb.test. NS 300 ns1.gslb.test.", "gslb.test. NS 300 ns2.example.net."},
			add: []string{"ns1.gslb.test. A 300 127.0.0.1"}},
		{name: "apex SOA", q: Question{"gslb.test.", TypeSOA},
			ans: []string{"gslb.test. SOA 300 ns1.gslb.test. hostmaster.gslb.test. 7"}},
		{name: "apex CAA parsed from value", q: Question{"gslb.test.", TypeCAA}, ans: []string{`gslb.test. CAA 300 0 issue "ca.example"`}},
		{name: "MX parsed from value", q: Question{"mail.gslb.test.", TypeMX}, ans: []string{"mail.gslb.test. MX 300 10 mx.example.net."}},
		{name: "SRV relative target", q: Question{"_sip._tcp.gslb.test.", TypeSRV}, ans: []string{"_sip._tcp.gslb.test. SRV 300 1 2 5060 sip.gslb.test."}},
		{name: "nameserver address", q: Question{"ns1.gslb.test.", TypeA}, ans: []string{"ns1.gslb.test. A 300 127.0.0.1"}},
		{name: "ANY is minimal", q: Question{"www.gslb.test.", TypeANY}, ans: []string{"www.gslb.test. A 300 192.0.2.80"}},
		{name: "ANY at apex is one RRset", q: Question{"gslb.test.", TypeANY}, anyLen: 1},
		{name: "AXFR refused", q: Question{"gslb.test.", 252}, err: ErrRefused},
		{name: "IXFR refused", q: Question{"gslb.test.", 251}, err: ErrRefused},
		{name: "outside our zones", q: Question{"www.example.com.", TypeA}, err: ErrNotAuthoritative, zone: "-"},
		{name: "suffix but not a label boundary", q: Question{"xgslb.test.", TypeA}, err: ErrNotAuthoritative, zone: "-"},
		{name: "longest apex wins", q: Question{"y.deep.gslb.test.", TypeA}, ans: []string{"y.deep.gslb.test. A 300 192.0.2.90"}, zone: "deep.gslb.test."},
		{name: "GSLB name without the type", q: Question{"app.gslb.test.", TypeTXT}, err: ErrNoData, auth: []string{soa}},
		{name: "whoami other type", q: Question{"whoami.gslb.test.", TypeA}, err: ErrNoData, auth: []string{soa}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.Answer(tc.q, london)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.anyLen > 0 {
				if len(a.Answer) != tc.anyLen {
					t.Fatalf("ANY gave %d records: %v", len(a.Answer), fmtRecs(a.Answer))
				}
			} else if got := fmtRecs(a.Answer); !slices.Equal(got, nonNil(tc.ans)) {
				t.Errorf("answer = %q, want %q", got, tc.ans)
			}
			if got := fmtRecs(a.Authority); !slices.Equal(got, nonNil(tc.auth)) {
				t.Errorf("authority = %q, want %q", got, tc.auth)
			}
			if got := fmtRecs(a.Additional); !slices.Equal(got, nonNil(tc.add)) {
				t.Errorf("additional = %q, want %q", got, tc.add)
			}
			wantAA := !tc.nonAA && !errors.Is(tc.err, ErrRefused) && !errors.Is(tc.err, ErrNotAuthoritative)
			if a.Authoritative != wantAA {
				t.Errorf("authoritative = %v, want %v", a.Authoritative, wantAA)
			}
			switch tc.zone {
			case "":
				if !errors.Is(err, ErrNotAuthoritative) && a.Zone == "" {
					t.Errorf("zone empty")
				}
			case "-":
				if a.Zone != "" {
					t.Errorf("zone = %q, want none", a.Zone)
				}
			default:
				if a.Zone != tc.zone {
					t.Errorf("zone = %q, want %q", a.Zone, tc.zone)
				}
			}
			if a.Scope != 0 {
				t.Errorf("scope = %d, want 0 for static and negative answers", a.Scope)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestCNAMELoopEnds(t *testing.T) {
	s := newSnap(t, nil)
	a, err := s.Answer(Question{"loop1.gslb.test.", TypeA}, nowhere)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Answer) != maxChase {
		t.Fatalf("got %d CNAMEs, want %d: %v", len(a.Answer), maxChase, fmtRecs(a.Answer))
	}
	for _, r := range a.Answer {
		if r.Type != TypeCNAME {
			t.Fatalf("unexpected record %s", fmtRec(r))
		}
	}
}

func TestCNAMEToGSLBName(t *testing.T) {
	s := newSnap(t, nil)
	a, err := s.Answer(Question{"toapp.gslb.test.", TypeA}, london)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"toapp.gslb.test. CNAME 300 app.gslb.test.", "app.gslb.test. A 30 198.51.100.10"}
	if got := fmtRecs(a.Answer); !slices.Equal(got, want) {
		t.Fatalf("answer %q, want %q", got, want)
	}
	if a.Scope != 24 {
		t.Errorf("scope %d, want 24 (the GSLB hop depends on location)", a.Scope)
	}
}

func TestAnswerDoesNotShareWritableMemory(t *testing.T) {
	s := newSnap(t, nil)
	a, _ := s.Answer(Question{"www.gslb.test.", TypeA}, nowhere)
	a.Answer = append(a.Answer, Record{Name: "evil.", Type: TypeA})
	b, _ := s.Answer(Question{"www.gslb.test.", TypeAAAA}, nowhere)
	if len(b.Answer) != 1 || b.Answer[0].Type != TypeAAAA {
		t.Fatalf("a caller's append changed the Snapshot: %v", fmtRecs(b.Answer))
	}
	// GSLB answers of one endpoint are shared too.
	a, _ = s.Answer(Question{"app.gslb.test.", TypeAAAA}, london)
	_ = append(a.Answer, Record{Name: "evil.", Type: TypeAAAA})
	b, _ = s.Answer(Question{"app.gslb.test.", TypeAAAA}, london)
	if got := fmtRecs(b.Answer); len(got) != 1 || b.Answer[0].Name != "app.gslb.test." {
		t.Fatalf("a caller's append changed the Snapshot: %v", got)
	}
}

func TestWhoami(t *testing.T) {
	s := newSnap(t, map[string]State{"eu-west@app.gslb.test": Down})
	a, err := s.Answer(Question{"WHOAMI.gslb.test.", TypeTXT}, london)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Answer) != 1 || a.Answer[0].Type != TypeTXT || a.Answer[0].TTL != 0 {
		t.Fatalf("answer %v", fmtRecs(a.Answer))
	}
	txt := strings.Join(a.Answer[0].Data.Text, "\n")
	for _, want := range []string{"client 81.2.69.0/24 ecs=true", "country GB", "network 81.2.69.0/24",
		"name app.gslb.test.", "eu-central@app.gslb.test eu-central ready", "chosen", "eu-west@app.gslb.test eu-west down"} {
		if !strings.Contains(txt, want) {
			t.Errorf("whoami TXT lacks %q:\n%s", want, txt)
		}
	}
	for _, s := range a.Answer[0].Data.Text {
		if len(s) > 255 {
			t.Errorf("TXT string longer than 255: %q", s)
		}
	}
	if a.Scope != 24 {
		t.Errorf("scope %d, want 24", a.Scope)
	}
	// Unlocated client: scope is its source prefix.
	a, err = s.Answer(Question{"whoami.gslb.test.", TypeTXT}, Client{Addr: nowhere.Addr, SourcePrefix: 20, ECS: true})
	if err != nil || a.Scope != 20 || !strings.Contains(strings.Join(a.Answer[0].Data.Text, " "), "location unknown") {
		t.Fatalf("unlocated whoami: %v %d %v", err, a.Scope, a.Answer)
	}
}

func TestNewSnapshotRejectsBadConfig(t *testing.T) {
	if _, err := NewSnapshot(Options{}); err == nil {
		t.Fatal("nil config accepted")
	}
	cfg := testConfig()
	cfg.Zones[0].Names[0].Endpoints[0].Region = "mars"
	cfg.Zones[0].Records[0].Value, cfg.Zones[0].Records[0].Parsed = "not-an-ip", config0()
	cfg.Zones[0].Names[1].Policy = "roundrobin"
	_, err := NewSnapshot(Options{Config: cfg})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{`unknown region "mars"`, `bad A value "not-an-ip"`, `unknown policy "roundrobin"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestWhoamiOffByDefault: whoami reveals endpoint states and amplifies,
// so a zone answers it only when configured to; otherwise the name does
// not exist.
func TestWhoamiOffByDefault(t *testing.T) {
	cfg := testConfig()
	cfg.Zones[0].WhoAmI = false
	s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Answer(Question{"whoami.gslb.test.", TypeTXT}, london)
	if !errors.Is(err, ErrNoSuchName) || len(a.Answer) != 0 {
		t.Fatalf("whoami with whoami off: %v %v, want NXDOMAIN", err, fmtRecs(a.Answer))
	}
}
