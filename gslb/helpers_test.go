package gslb

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// t0 is the injected clock's origin.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func intp(v int) *int { return &v }

func sec(n int) config.Duration { return config.Duration(time.Duration(n) * time.Second) }

func ep(gslbName, region string, addrs ...string) config.Endpoint {
	return config.Endpoint{Name: region, Region: region, Addresses: addrs, Weight: intp(1),
		ID: region + "@" + strings.TrimSuffix(gslbName, "."), ProbeID: region + "@" + strings.TrimSuffix(gslbName, ".")}
}

// cidr is a CIDR map entry as config.Prepare resolves it.
func cidr(network, region string) config.CIDREntry {
	return config.CIDREntry{Network: network, Region: region, Prefix: netip.MustParsePrefix(network)}
}

func rec(name, typ, value string, parsed config.RData) config.Record {
	return config.Record{Name: name, Type: typ, TTL: sec(300), Value: value, Parsed: parsed}
}

func cfgName(name, policy string, eps ...config.Endpoint) config.Name {
	return config.Name{Name: name, Policy: policy, TTL: sec(30), MinTTL: sec(5), Answers: 1,
		Role: "read", Failback: "manual", FailbackHold: sec(60), AllDown: "open", Endpoints: eps}
}

// testConfig is a valid, normalised config as config.Parse returns it:
// the dev zone gslb.test. plus one name per policy, a nested zone and a
// second zone.
func testConfig() *config.Config {
	const z = "gslb.test."
	app := cfgName("app."+z, "nearest",
		ep("app."+z, "us-east", "192.0.2.10"),
		ep("app."+z, "eu-west", "198.51.100.10"),
		ep("app."+z, "ap-southeast", "203.0.113.10", "2001:db8::10"),
		ep("app."+z, "eu-central", "198.51.100.20"))
	app2 := cfgName("app2."+z, "nearest",
		ep("app2."+z, "us-east", "192.0.2.11"),
		ep("app2."+z, "eu-west", "198.51.100.11"),
		ep("app2."+z, "ap-southeast", "203.0.113.11"))
	app2.Answers = 2
	fo := cfgName("fo."+z, "failover",
		ep("fo."+z, "us-east", "192.0.2.12"),
		ep("fo."+z, "eu-west", "198.51.100.12"))
	fo.Order = []string{"eu-west", "us-east"}
	all := cfgName("all."+z, "all",
		ep("all."+z, "us-east", "192.0.2.13"),
		ep("all."+z, "eu-west", "198.51.100.13"))
	wt := cfgName("wt."+z, "weighted",
		ep("wt."+z, "us-east", "192.0.2.14"),
		ep("wt."+z, "eu-west", "198.51.100.14"),
		ep("wt."+z, "ap-southeast", "203.0.113.14"))
	wt.Endpoints[0].Weight = intp(3)
	wt.Endpoints[2].Weight = intp(0)
	gm := cfgName("gm."+z, "geomap",
		ep("gm."+z, "us-east", "192.0.2.15"),
		ep("gm."+z, "eu-west", "198.51.100.15"),
		ep("gm."+z, "ap-southeast", "203.0.113.15"),
		ep("gm."+z, "eu-central", "198.51.100.25"))
	gm.GeoMap = map[string][]string{
		"GB": {"eu-central", "eu-west"}, "EU": {"eu-west"}, "AS": {"ap-southeast"}, "default": {"us-east"}}
	res := cfgName("res."+z, "nearest",
		ep("res."+z, "us-east", "192.0.2.16"),
		ep("res."+z, "eu-west", "198.51.100.16"),
		ep("res."+z, "eu-central", "198.51.100.26"))
	res.Residency = &config.Residency{Match: []string{"EU"}, Regions: []string{"eu-west", "eu-central"}, Fail: "closed"}
	resOpen := cfgName("res-open."+z, "nearest",
		ep("res-open."+z, "us-east", "192.0.2.17"),
		ep("res-open."+z, "eu-west", "198.51.100.17"))
	resOpen.Residency = &config.Residency{Match: []string{"GB"}, Regions: []string{"eu-west"}, Fail: "open"}
	closed := cfgName("closed."+z, "nearest",
		ep("closed."+z, "us-east", "192.0.2.18"),
		ep("closed."+z, "eu-west", "198.51.100.18"))
	closed.AllDown = "closed"
	single := cfgName("single."+z, "nearest", ep("single."+z, "eu-west", "198.51.100.19"))
	lb := cfgName("lb."+z, "nearest",
		config.Endpoint{Name: "us-east", Region: "us-east", Target: "lb-us.example.net.", Weight: intp(1), ID: "us-east@lb.gslb.test", ProbeID: "us-east@lb.gslb.test"},
		config.Endpoint{Name: "eu-west", Region: "eu-west", Target: "lb-eu.gslb.test.", Weight: intp(1), ID: "eu-west@lb.gslb.test", ProbeID: "eu-west@lb.gslb.test"})
	db := cfgName("db."+z, "failover",
		ep("db."+z, "us-east", "192.0.2.30"),
		ep("db."+z, "eu-west", "198.51.100.30"),
		ep("db."+z, "ap-southeast", "203.0.113.30"))
	db.Role, db.Order = "write", []string{"us-east", "eu-west", "ap-southeast"}
	dbAuto := cfgName("db-auto."+z, "failover",
		ep("db-auto."+z, "us-east", "192.0.2.31"),
		ep("db-auto."+z, "eu-west", "198.51.100.31"),
		ep("db-auto."+z, "ap-southeast", "203.0.113.31"))
	dbAuto.Role, dbAuto.Order, dbAuto.Failback = "write", []string{"us-east", "eu-west", "ap-southeast"}, "auto"

	return &config.Config{
		Node: "node-a",
		Regions: []config.Region{
			{Name: "us-east", Latitude: 39.0, Longitude: -77.5, Continent: "NA"},
			{Name: "eu-west", Latitude: 53.3, Longitude: -6.3, Continent: "EU"},
			{Name: "ap-southeast", Latitude: 1.35, Longitude: 103.8, Continent: "AS"},
			{Name: "eu-central", Latitude: 50.1, Longitude: 8.7, Continent: "EU"},
		},
		VersionBind: "gslbd test",
		Zones: []config.Zone{{
			Apex: z, TTL: sec(300), WhoAmI: true,
			SOA: config.SOA{MName: "ns1." + z, RName: "hostmaster." + z, Serial: 7, Refresh: sec(3600),
				Retry: sec(600), Expire: sec(604800), Minimum: sec(60), TTL: sec(300)},
			Nameservers: []config.Nameserver{{Name: "ns1." + z, Addresses: []string{"127.0.0.1"}}, {Name: "ns2.example.net."}},
			Records: []config.Record{
				rec("www."+z, "A", "192.0.2.80", config.RData{Addr: "192.0.2.80"}),
				rec("www."+z, "AAAA", "2001:db8::80", config.RData{Addr: "2001:db8::80"}),
				rec("alias."+z, "CNAME", "www."+z, config.RData{Target: "www." + z}),
				rec("chain."+z, "CNAME", "alias."+z, config.RData{Target: "alias." + z}),
				rec("ext."+z, "CNAME", "www.example.com.", config.RData{Target: "www.example.com."}),
				rec("dangling."+z, "CNAME", "nothere."+z, config.RData{Target: "nothere." + z}),
				rec("loop1."+z, "CNAME", "loop2."+z, config.RData{Target: "loop2." + z}),
				rec("loop2."+z, "CNAME", "loop1."+z, config.RData{Target: "loop1." + z}),
				rec("toapp."+z, "CNAME", "app."+z, config.RData{Target: "app." + z}),
				rec("toother."+z, "CNAME", "www.other.test.", config.RData{Target: "www.other.test."}),
				rec("todeep."+z, "CNAME", "x.deep."+z, config.RData{Target: "x.deep." + z}),
				rec("tosub."+z, "CNAME", "host.sub."+z, config.RData{Target: "host.sub." + z}),
				rec("a.b.c."+z, "TXT", "deep", config.RData{Text: []string{"deep"}}),
				rec("sub."+z, "NS", "ns.sub."+z, config.RData{Target: "ns.sub." + z}),
				rec("ns.sub."+z, "A", "192.0.2.53", config.RData{Addr: "192.0.2.53"}),
				rec("lb-eu."+z, "A", "198.51.100.99", config.RData{Addr: "198.51.100.99"}),
				// These three carry no Parsed form, to cover parsing Value.
				rec("mail."+z, "MX", "10 mx.example.net.", config.RData{}),
				rec("_sip._tcp."+z, "SRV", "1 2 5060 sip", config.RData{}),
				rec("@", "CAA", `0 issue "ca.example"`, config.RData{}),
			},
			Names: []config.Name{app, app2, fo, all, wt, gm, res, resOpen, closed, single, lb, db, dbAuto},
		}, {
			Apex: "deep." + z, TTL: sec(120),
			SOA:         config.SOA{MName: "ns1." + z, RName: "hostmaster." + z, Serial: 1, Minimum: sec(30), TTL: sec(120)},
			Nameservers: []config.Nameserver{{Name: "ns1." + z}},
			Records:     []config.Record{rec("y.deep."+z, "A", "192.0.2.90", config.RData{Addr: "192.0.2.90"})},
		}, {
			Apex: "other.test.", TTL: sec(300),
			SOA:         config.SOA{MName: "ns1." + z, RName: "hostmaster.other.test.", Serial: 1, Minimum: sec(45), TTL: sec(300)},
			Nameservers: []config.Nameserver{{Name: "ns1." + z}},
			Records:     []config.Record{rec("www.other.test.", "A", "192.0.2.100", config.RData{Addr: "192.0.2.100"})},
		}},
	}
}

// testLocator knows a few networks (addresses used here are answer data
// and test clients only; nothing connects to them).
func testLocator(t testing.TB) *geo.Locator {
	t.Helper()
	l, err := geo.NewLocator([]geo.CIDREntry{
		{Network: netip.MustParsePrefix("81.2.69.0/24"), Country: "GB", Continent: "EU", Lat: 51.5, Lon: -0.12, HasCoords: true},
		{Network: netip.MustParsePrefix("216.160.83.0/24"), Country: "US", Continent: "NA", Lat: 47.4, Lon: -122.3, HasCoords: true},
		{Network: netip.MustParsePrefix("175.16.199.0/24"), Country: "CN", Continent: "AS", Lat: 43.9, Lon: 125.3, HasCoords: true},
		{Network: netip.MustParsePrefix("100.64.0.0/16"), Country: "DE", Continent: "EU", Lat: 50.1, Lon: 8.7, HasCoords: true},
		// Mapped to eu-central but placed near Singapore: the region must win.
		{Network: netip.MustParsePrefix("198.18.0.0/24"), Region: "eu-central", Country: "SG", Continent: "AS", Lat: 1.3, Lon: 103.8, HasCoords: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Test clients.
var (
	london    = Client{Addr: netip.MustParseAddr("81.2.69.0"), SourcePrefix: 24, ECS: true}
	seattle   = Client{Addr: netip.MustParseAddr("216.160.83.0"), SourcePrefix: 24, ECS: true}
	changchun = Client{Addr: netip.MustParseAddr("175.16.199.0"), SourcePrefix: 24, ECS: true}
	frankfurt = Client{Addr: netip.MustParseAddr("100.64.1.1"), SourcePrefix: 32}
	mapped    = Client{Addr: netip.MustParseAddr("198.18.0.0"), SourcePrefix: 24, ECS: true}
	nowhere   = Client{Addr: netip.MustParseAddr("192.0.2.200"), SourcePrefix: 32}
)

// viewOf returns a View with every endpoint of cfg Ready except those
// given in states. Each test endpoint has a probe target of its own,
// named like it (ep), so a state is given by endpoint ID.
func viewOf(cfg *config.Config, states map[string]State) View {
	v := View{Self: "node-a", Synced: true, FirstRound: true, Quorum: true, Expect: 1, Targets: map[string]TargetState{}, At: t0}
	for _, z := range cfg.Zones {
		for _, n := range z.Names {
			for _, e := range n.Endpoints {
				st, ok := states[e.ID]
				if !ok {
					st = Ready
				}
				es := TargetState{State: st, Since: t0.Add(-time.Hour)}
				if st == Down {
					es.Failed = 1 // this (solo) node saw the probes fail
				}
				v.Targets[e.ProbeID] = es
			}
		}
	}
	return v
}

func newSnap(t testing.TB, states map[string]State) *Snapshot {
	t.Helper()
	cfg := testConfig()
	s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), View: viewOf(cfg, states), Now: t0,
		Rand: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fmtRec(r Record) string {
	return fmt.Sprintf("%s %s %d %s", r.Name, TypeString(r.Type), r.TTL, rdataString(r))
}

func fmtRecs(rs []Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmtRec(r))
	}
	return out
}

func addrs(rs []Record) []string {
	out := []string{}
	for _, r := range rs {
		if r.Type == TypeA || r.Type == TypeAAAA {
			out = append(out, r.Data.Addr.String())
		} else if r.Type == TypeCNAME {
			out = append(out, "CNAME "+r.Data.Target)
		}
	}
	return out
}

func config0() config.RData { return config.RData{} }

// settle plays the cluster's part for a Snapshot: it accepts every
// proposal as the record in force (proposed by the View's node alone,
// as a solo node does) and rebuilds, until nothing more is proposed.
func settle(t testing.TB, s *Snapshot) *Snapshot {
	t.Helper()
	for range 5 {
		props := s.Proposals()
		if len(props) == 0 {
			return s
		}
		v := s.View()
		act := maps.Clone(v.Active)
		if act == nil {
			act = map[string]WriteActive{}
		}
		for _, p := range props {
			p.By, p.Backers = v.Self, []string{v.Self}
			act[p.Name] = p
		}
		v.Active = act
		s = s.WithView(v, s.BuiltAt())
	}
	t.Fatalf("write proposals did not settle: %+v", s.Proposals())
	return nil
}

// endpointIDs lists every endpoint ID of s in config order.
func endpointIDs(s *Snapshot) []string {
	out := make([]string, len(s.c.eps))
	for i, e := range s.c.eps {
		out[i] = e.id
	}
	return out
}
