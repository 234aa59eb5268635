package dns

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
	"github.com/gslbd/gslbd/gslb"
)

// fastConfig is a zone with every kind of data the two paths must agree
// on: static records the fast path encodes and ones it leaves to the full
// path, a delegation, GSLB names of each policy, a write name, a CNAME
// endpoint and a name with nothing ready.
const fastConfig = `
node: node-a
regions:
  - {name: us-east, latitude: 39.0, longitude: -77.5, continent: NA}
  - {name: eu-west, latitude: 53.3, longitude: -6.3, continent: EU}
  - {name: ap-southeast, latitude: 1.35, longitude: 103.8, continent: AS}
zones:
  - apex: gslb.test.
    whoami: true
    nameservers:
      - {name: ns1, addresses: ["127.0.0.1"]}
    soa: {rname: hostmaster, serial: 7}
    records:
      - {name: www, type: A, value: 192.0.2.80}
      - {name: www, type: AAAA, value: "2001:db8::80"}
      - {name: many, type: A, value: 192.0.2.1}
      - {name: many, type: A, value: 192.0.2.2}
      - {name: many, type: A, value: 192.0.2.3}
      - {name: alias, type: CNAME, value: www}
      - {name: out, type: CNAME, value: elsewhere.example.}
      - {name: "@", type: MX, value: 10 mail}
      - {name: mail, type: A, value: 192.0.2.25}
      - {name: txt, type: TXT, value: '"hello"'}
      - {name: sub, type: NS, value: ns.sub}
      - {name: ns.sub, type: A, value: 192.0.2.53}
    names:
      - name: app
        policy: nearest
        endpoints:
          - {region: us-east, addresses: ["192.0.2.10", "2001:db8::10"]}
          - {region: eu-west, addresses: ["198.51.100.10", "2001:db8::20"]}
          - {region: ap-southeast, addresses: ["203.0.113.10", "2001:db8::30"]}
      - name: two
        policy: nearest
        answers: 2
        endpoints:
          - {region: us-east, addresses: ["192.0.2.11"]}
          - {region: eu-west, addresses: ["198.51.100.11"]}
          - {region: ap-southeast, addresses: ["203.0.113.11"]}
      - name: wt
        policy: weighted
        endpoints:
          - {region: us-east, addresses: ["192.0.2.12"], weight: 2}
          - {region: eu-west, addresses: ["198.51.100.12"]}
      - name: fo
        policy: failover
        order: [eu-west, us-east]
        endpoints:
          - {region: us-east, addresses: ["192.0.2.13"]}
          - {region: eu-west, addresses: ["198.51.100.13"]}
      - name: v4only
        policy: nearest
        endpoints:
          - {region: us-east, addresses: ["192.0.2.14"]}
      - name: cdn
        policy: nearest
        endpoints:
          - {region: us-east, target: us.cdn.example.}
          - {region: eu-west, target: eu.cdn.example.}
      - name: dead
        policy: nearest
        all_down: closed
        endpoints:
          - {region: us-east, addresses: ["192.0.2.15"], liveness: {address: "192.0.2.15:80"}}
      - name: db
        role: write
        policy: failover
        order: [us-east, eu-west]
        endpoints:
          - {region: us-east, addresses: ["192.0.2.16"]}
          - {region: eu-west, addresses: ["198.51.100.16"]}
`

// cityDB is MaxMind's synthetic test City database, embedded for -dev.
const cityDB = "../cmd/gslbd/devdata/GeoIP2-City-Test.mmdb"

// realSnapshot builds a Snapshot from fastConfig with the City database;
// every endpoint is ready except dead's.
func realSnapshot(t testing.TB) *gslb.Snapshot { return buildSnapshot(t, true) }

// buildSnapshot is realSnapshot; without a view, the Snapshot is a node's
// at start-up, before its first probe round (GSLB names: SERVFAIL).
func buildSnapshot(t testing.TB, withView bool) *gslb.Snapshot {
	t.Helper()
	cfg, err := config.Parse([]byte(fastConfig), "fast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := geo.LoadDatabase(cityDB)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := geo.NewLocator(nil, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Only dead's endpoint has a probe (never run here): its target is
	// down; the others have none and are ready.
	v := gslb.View{Self: "node-a", Synced: true, FirstRound: true, Quorum: true, At: now, Targets: map[string]gslb.TargetState{}}
	for _, z := range cfg.Zones {
		for _, n := range z.Names {
			for _, e := range n.Endpoints {
				st := gslb.Ready
				if n.Name == "dead.gslb.test." {
					st = gslb.Down
				}
				if e.ProbeID != "" {
					v.Targets[e.ProbeID] = gslb.TargetState{State: st, Since: now.Add(-time.Hour)}
				}
			}
		}
	}
	if !withView {
		v = gslb.View{}
	}
	s, err := gslb.NewSnapshot(gslb.Options{Config: cfg, Locator: loc, View: v, Now: now,
		Rand: func() float64 { return 0.4 }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// twoPaths answers raw through the fast path and through the full path
// (miekg's server steps and handler.ServeDNS) of one handler. fast is nil
// when the fast path declined.
func twoPaths(t testing.TB, h *handler, raw []byte, src netip.AddrPort) (fast, full []byte) {
	t.Helper()
	var q wireQuery
	if q.parse(raw) {
		out := make([]byte, 0, h.udpSize)
		if n, err := h.fastAnswer(&q, src.Addr(), out, h.m.newShard()); err == nil {
			fast = out[:n]
		}
	}
	fw := &fallbackWriter{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}}
	fw.reset(src, nil)
	h.serveWire(raw, fw)
	return fast, fw.reply()
}

// fastCases are queries the fast path must answer, each byte for byte as
// the full path does.
func fastCases() []*mdns.Msg {
	const z = "gslb.test."
	ecs := func(m *mdns.Msg, prefix string) *mdns.Msg { return withEDNS(m, 1232, ecsOption(prefix)) }
	rd := query("www."+z, mdns.TypeA)
	rd.RecursionDesired, rd.CheckingDisabled = true, true
	return append([]*mdns.Msg{
		query("www."+z, mdns.TypeA),
		query("WwW.GsLb.TeSt.", mdns.TypeAAAA),
		rd,
		withEDNS(query("www."+z, mdns.TypeA), 4096),
		withEDNS(query("many."+z, mdns.TypeA), 512),
		query("alias."+z, mdns.TypeA),
		query("out."+z, mdns.TypeAAAA),
		query("mail."+z, mdns.TypeA),
		query("nope."+z, mdns.TypeA),
		withEDNS(query("nope."+z, mdns.TypeTXT), 1232),
		query("www."+z, mdns.TypeMX),
		query(z, mdns.TypeA),
		query("example.org.", mdns.TypeA),
		query(".", mdns.TypeA),
		ecs(query("app."+z, mdns.TypeA), "81.2.69.160/27"),
		ecs(query("app."+z, mdns.TypeAAAA), "175.16.199.0/24"),
		ecs(query("app."+z, mdns.TypeA), "216.160.83.56/29"),
		ecs(query("app."+z, mdns.TypeA), "2001:db8::/48"),
		ecs(query("app."+z, mdns.TypeA), "192.0.2.0/24"),
		ecs(query("app."+z, mdns.TypeA), "0.0.0.0/0"),
		ecs(query("app."+z, mdns.TypeA), "81.2.69.161/32"),
		ecs(query("two."+z, mdns.TypeA), "81.2.69.160/27"),
		ecs(query("wt."+z, mdns.TypeA), "81.2.69.160/27"),
		ecs(query("fo."+z, mdns.TypeA), "81.2.69.160/27"),
		ecs(query("v4only."+z, mdns.TypeAAAA), "81.2.69.160/27"),
		ecs(query("cdn."+z, mdns.TypeA), "81.2.69.160/27"),
		ecs(query("cdn."+z, mdns.TypeTXT), "81.2.69.160/27"),
		ecs(query("dead."+z, mdns.TypeA), "81.2.69.160/27"),
		query("app."+z, mdns.TypeA),
		query("app."+z, mdns.TypeTXT),
		query("www."+z, mdns.TypeAXFR+1000),
	}, fastCookieCases()...)
}

// declinedCases are queries the fast path must leave to the full path.
func declinedCases() []*mdns.Msg {
	const z = "gslb.test."
	chaosQ := query("id.server.", mdns.TypeTXT)
	chaosQ.Question[0].Qclass = mdns.ClassCHAOS
	notify := query(z, mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	badVers := withEDNS(query("www."+z, mdns.TypeA), 1232)
	badVers.IsEdns0().SetVersion(1)
	return append([]*mdns.Msg{
		chaosQ, notify, badVers,
		query("www."+z, mdns.TypeANY),
		query(z, mdns.TypeAXFR),
		query(z, mdns.TypeMX),
		query("txt."+z, mdns.TypeTXT),
		query("db."+z, mdns.TypeA),
		query("x.sub."+z, mdns.TypeA),
		query("whoami."+z, mdns.TypeTXT),
		withEDNS(query("www."+z, mdns.TypeA), 1232, rawECS(1, 24, 0, 81, 2, 69, 7)),
		withEDNS(query("www."+z, mdns.TypeA), 1232, rawECS(0, 0, 0)),
		withEDNS(query("a\\.b."+z, mdns.TypeA), 1232),
	}, declinedCookieCases()...)
}

func TestFastPathMatchesFullPath(t *testing.T) {
	snap := realSnapshot(t)
	h, _ := newTestHandler(loaderOf(snap), Options{Cookies: fixedCookies()})
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	for _, m := range fastCases() {
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		fast, full := twoPaths(t, h, raw, src)
		if fast == nil {
			t.Errorf("%v: fast path declined", m.Question[0])
			continue
		}
		if !bytes.Equal(fast, full) {
			t.Errorf("%v: fast and full replies differ\nfast %x\nfull %x\n%v", m.Question[0], fast, full, unpackOrErr(full))
		}
	}
	for _, m := range declinedCases() {
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if fast, _ := twoPaths(t, h, raw, src); fast != nil {
			t.Errorf("%v: fast path answered what it must leave to the full path", m.Question[0])
		}
	}
	t.Run("GSLB answers are real answers", func(t *testing.T) {
		// Guards the cases above against a Snapshot that answers every
		// GSLB name alike (SERVFAIL at start-up, say).
		raw, err := withEDNS(query("app.gslb.test.", mdns.TypeA), 1232, ecsOption("81.2.69.160/27")).Pack()
		if err != nil {
			t.Fatal(err)
		}
		fast, _ := twoPaths(t, h, raw, src)
		m, ok := unpackOrErr(fast).(*mdns.Msg)
		if !ok || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != "198.51.100.10" {
			t.Fatalf("London must get eu-west: %v", unpackOrErr(fast))
		}
		if e := replyECS(t, m); e == nil || e.SourceScope == 0 {
			t.Fatalf("London's answer must carry a scope: %v", e)
		}
	})
	t.Run("start-up, no view yet", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(buildSnapshot(t, false)), Options{})
		raw, err := withEDNS(query("app.gslb.test.", mdns.TypeA), 1232, ecsOption("81.2.69.160/27")).Pack()
		if err != nil {
			t.Fatal(err)
		}
		fast, full := twoPaths(t, h, raw, src)
		if m, ok := unpackOrErr(full).(*mdns.Msg); !ok || m.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("full path: %v, want SERVFAIL", unpackOrErr(full))
		}
		if !bytes.Equal(fast, full) {
			t.Errorf("fast and full replies differ\nfast %x\nfull %x", fast, full)
		}
	})
}

func unpackOrErr(b []byte) any {
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		return err
	}
	return m
}

// FuzzFastPath is the differential test of the two UDP answer paths:
// whenever the fast path answers a packet, the full path must answer it
// with the same bytes (the Snapshot's weighted draw is fixed, so both
// are deterministic).
func FuzzFastPath(f *testing.F) {
	src := netip.MustParseAddrPort("[2001:db8::1]:40000")
	for _, m := range append(append(fastCases(), declinedCases()...), cookieCasesFor(src.Addr())...) {
		raw, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	snap := realSnapshot(f)
	h, _ := newTestHandler(loaderOf(snap), Options{Cookies: fixedCookies()})
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, full := twoPaths(t, h, raw, src)
		if fast != nil && !bytes.Equal(fast, full) {
			t.Fatalf("fast and full replies differ for %x\nfast %x\nfull %x", raw, fast, full)
		}
	})
}

// BenchmarkUDPPath is the whole UDP path of a worker, bytes in to bytes
// out: the response check, the fast path's parse, the Snapshot's answer
// (City database lookup, nearest ranking, health) and the reply with
// the ECS echo. It must stay at 0 allocs/op.
func BenchmarkUDPPath(b *testing.B) {
	for _, bc := range []struct {
		name  string
		m     *mdns.Msg
		rcode int
	}{
		{"static", withEDNS(query("www.gslb.test.", mdns.TypeA), 1232), mdns.RcodeSuccess},
		{"gslb-ecs", withEDNS(query("app.gslb.test.", mdns.TypeA), 1232, ecsOption("81.2.69.160/27")), mdns.RcodeSuccess},
		{"nxdomain", withEDNS(query("nope.gslb.test.", mdns.TypeA), 1232), mdns.RcodeNameError},
	} {
		b.Run(bc.name, func(b *testing.B) {
			snap := realSnapshot(b)
			h, _ := newTestHandler(loaderOf(snap), Options{})
			raw, err := bc.m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			w := benchWorker(b, h)
			copy(w.in[0], raw)
			w.io.setLength(0, len(raw))
			w.src[0] = netip.MustParseAddrPort("127.0.0.1:40000")
			b.ReportAllocs()
			var r []byte
			for b.Loop() {
				r, _ = w.handle(0)
			}
			m, ok := unpackOrErr(r).(*mdns.Msg)
			if !ok || m.Rcode != bc.rcode || (bc.rcode == mdns.RcodeSuccess && len(m.Answer) == 0) {
				b.Fatalf("reply: %v", unpackOrErr(r))
			}
		})
	}
}
