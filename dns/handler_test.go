package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

const zone = "gslb.test."

func TestHandlerAnswers(t *testing.T) {
	www := gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}
	soa := soaRec(zone)
	referral := gslb.Answer{
		Zone:       zone,
		Authority:  []gslb.Record{{Name: "sub." + zone, Type: gslb.TypeNS, TTL: 300, Data: gslb.RData{Target: "ns.sub." + zone}}},
		Additional: []gslb.Record{aRec("ns.sub."+zone, "192.0.2.53")},
	}
	cnameNX := gslb.Answer{Zone: zone, Authoritative: true,
		Answer:    []gslb.Record{{Name: "alias." + zone, Type: gslb.TypeCNAME, TTL: 30, Data: gslb.RData{Target: "gone." + zone}}},
		Authority: []gslb.Record{soa}}

	type want struct {
		rcode   int
		aa      bool
		answer  []string // RR types in the answer section
		ns      []string
		extra   []string // excluding OPT
		checkFn func(t *testing.T, m *mdns.Msg)
	}
	cases := []struct {
		name string
		ans  gslb.Answer
		err  error
		q    *mdns.Msg
		want want
	}{
		{"static A", www, nil, query("www."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeSuccess, aa: true, answer: []string{"A"}, checkFn: func(t *testing.T, m *mdns.Msg) {
				if a := m.Answer[0].(*mdns.A); !a.A.Equal(net.ParseIP("192.0.2.80")) || a.Hdr.Ttl != 30 {
					t.Errorf("answer = %v", a)
				}
			}}},
		{"NXDOMAIN carries SOA", gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soa}}, gslb.ErrNoSuchName,
			query("nope."+zone, mdns.TypeA), want{rcode: mdns.RcodeNameError, aa: true, ns: []string{"SOA"}, checkFn: func(t *testing.T, m *mdns.Msg) {
				s := m.Ns[0].(*mdns.SOA)
				if s.Serial != 2024010101 || s.Minttl != 60 || s.Ns != "ns1."+zone || s.Mbox != "hostmaster."+zone {
					t.Errorf("SOA = %v", s)
				}
			}}},
		{"NXDOMAIN after CNAME keeps the chain", cnameNX, gslb.ErrNoSuchName, query("alias."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeNameError, aa: true, answer: []string{"CNAME"}, ns: []string{"SOA"}}},
		{"NODATA carries SOA", gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soa}}, gslb.ErrNoData,
			query("www."+zone, mdns.TypeAAAA), want{rcode: mdns.RcodeSuccess, aa: true, ns: []string{"SOA"}}},
		{"outside the zone is REFUSED without AA", gslb.Answer{}, gslb.ErrNotAuthoritative, query("example.org.", mdns.TypeA),
			want{rcode: mdns.RcodeRefused}},
		{"AXFR refused", gslb.Answer{Zone: zone}, gslb.ErrRefused, query(zone, mdns.TypeAXFR),
			want{rcode: mdns.RcodeRefused}},
		{"nothing ready", gslb.Answer{Zone: zone}, gslb.ErrNoReadyEndpoint, query("app."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeServerFailure}},
		{"wrapped sentinel", gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soa}},
			fmt.Errorf("ent: %w", gslb.ErrNoData), query("ent."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeSuccess, aa: true, ns: []string{"SOA"}}},
		{"unknown error", gslb.Answer{}, errors.New("boom"), query("www."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeServerFailure}},
		{"referral without AA", referral, nil, query("x.sub."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeSuccess, ns: []string{"NS"}, extra: []string{"A"}}},
		{"record that does not fit its type", gslb.Answer{Zone: zone, Authoritative: true,
			Answer: []gslb.Record{{Name: "www." + zone, Type: gslb.TypeA, Data: gslb.RData{Addr: netip.MustParseAddr("2001:db8::1")}}}},
			nil, query("www."+zone, mdns.TypeA), want{rcode: mdns.RcodeServerFailure}},
		{"unsupported record type", gslb.Answer{Zone: zone, Authoritative: true,
			Answer: []gslb.Record{{Name: "www." + zone, Type: 99}}}, nil, query("www."+zone, mdns.TypeA),
			want{rcode: mdns.RcodeServerFailure}},
		{"name that cannot be packed", gslb.Answer{Zone: zone, Authoritative: true,
			Answer: []gslb.Record{{Name: "www." + zone, Type: gslb.TypeCNAME, Data: gslb.RData{Target: strings.Repeat("a", 70) + "." + zone}}}},
			nil, query("www."+zone, mdns.TypeCNAME), want{rcode: mdns.RcodeServerFailure}},
		{"question echoed as sent", www, nil, query("WwW.GsLb.TeSt.", mdns.TypeA),
			want{rcode: mdns.RcodeSuccess, aa: true, answer: []string{"A"}, checkFn: func(t *testing.T, m *mdns.Msg) {
				if m.Question[0].Name != "WwW.GsLb.TeSt." {
					t.Errorf("question = %q", m.Question[0].Name)
				}
			}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAnswerer{answer: canned(tc.ans, tc.err)}
			h, reg := newTestHandler(loaderOf(f), Options{})
			m := exchange(t, h, tc.q, udpWriter())
			if m == nil {
				t.Fatal("no reply")
			}
			if m.Rcode != tc.want.rcode {
				t.Errorf("rcode = %s, want %s", rcodeLabel(m.Rcode), rcodeLabel(tc.want.rcode))
			}
			if m.Authoritative != tc.want.aa {
				t.Errorf("AA = %v, want %v", m.Authoritative, tc.want.aa)
			}
			if !m.Response || m.Id != tc.q.Id || len(m.Question) != 1 || m.Question[0] != tc.q.Question[0] {
				t.Errorf("header/question not echoed: %v", m)
			}
			if m.RecursionAvailable {
				t.Error("RA set by an authoritative server")
			}
			checkTypes(t, "answer", m.Answer, tc.want.answer)
			checkTypes(t, "authority", m.Ns, tc.want.ns)
			checkTypes(t, "additional", m.Extra, tc.want.extra)
			if tc.want.checkFn != nil {
				tc.want.checkFn(t, m)
			}
			got := f.lastCall(t)
			if got.q.Name != tc.q.Question[0].Name || got.q.Type != tc.q.Question[0].Qtype {
				t.Errorf("gslb asked %+v", got.q)
			}
			if n := queriesValue(t, reg, "udp", qtypeLabel(tc.q), rcodeLabel(tc.want.rcode)); n != 1 {
				t.Errorf("queries_total = %v, want 1", n)
			}
		})
	}
}

// queriesValue reads one gslbd_dns_queries_total series (0 when absent).
func queriesValue(t *testing.T, reg *prometheus.Registry, proto, qtype, rcode string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gslbd_dns_queries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["proto"] == proto && l["qtype"] == qtype && l["rcode"] == rcode {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func checkTypes(t *testing.T, section string, rrs []mdns.RR, want []string) {
	t.Helper()
	var got []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == mdns.TypeOPT {
			continue
		}
		got = append(got, mdns.TypeToString[rr.Header().Rrtype])
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s section = %v, want %v", section, got, want)
	}
}

func TestHandlerRecordTypes(t *testing.T) {
	long := strings.Repeat("x", 300)
	recs := []gslb.Record{
		aRec("a."+zone, "192.0.2.1"),
		{Name: "aaaa." + zone, Type: gslb.TypeAAAA, TTL: 1, Data: gslb.RData{Addr: netip.MustParseAddr("2001:db8::1")}},
		{Name: "c." + zone, Type: gslb.TypeCNAME, TTL: 2, Data: gslb.RData{Target: "a." + zone}},
		{Name: zone, Type: gslb.TypeNS, TTL: 3, Data: gslb.RData{Target: "ns1." + zone}},
		{Name: zone, Type: gslb.TypeMX, TTL: 4, Data: gslb.RData{Pref: 10, Target: "mx." + zone}},
		{Name: zone, Type: gslb.TypeTXT, TTL: 5, Data: gslb.RData{Rare: &gslb.Rare{Text: []string{"v=spf1 -all", long}}}},
		{Name: "_sip._udp." + zone, Type: gslb.TypeSRV, TTL: 6, Data: gslb.RData{Priority: 1, Weight: 2, Port: 5060, Target: "sip." + zone}},
		{Name: zone, Type: gslb.TypeCAA, TTL: 7, Data: gslb.RData{Rare: &gslb.Rare{Flag: 128, Tag: "issue", Value: "ca.example"}}},
		soaRec(zone),
	}
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: recs}, nil)}
	h, _ := newTestHandler(loaderOf(f), Options{})
	m := exchange(t, h, query(zone, mdns.TypeANY), tcpWriter())
	if m == nil || len(m.Answer) != len(recs) {
		t.Fatalf("reply = %v", m)
	}
	want := []string{
		"a.gslb.test.\t30\tIN\tA\t192.0.2.1",
		"aaaa.gslb.test.\t1\tIN\tAAAA\t2001:db8::1",
		"c.gslb.test.\t2\tIN\tCNAME\ta.gslb.test.",
		"gslb.test.\t3\tIN\tNS\tns1.gslb.test.",
		"gslb.test.\t4\tIN\tMX\t10 mx.gslb.test.",
		"gslb.test.\t5\tIN\tTXT\t\"v=spf1 -all\" \"" + long[:255] + "\" \"" + long[255:] + "\"",
		"_sip._udp.gslb.test.\t6\tIN\tSRV\t1 2 5060 sip.gslb.test.",
		"gslb.test.\t7\tIN\tCAA\t128 issue \"ca.example\"",
		"gslb.test.\t60\tIN\tSOA\tns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 600 86400 60",
	}
	for i, rr := range m.Answer {
		if rr.String() != want[i] {
			t.Errorf("record %d = %q\nwant %q", i, rr.String(), want[i])
		}
	}
}

func TestHandlerPacketChecks(t *testing.T) {
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}, nil)}

	t.Run("QR=1 gets no reply and is counted", func(t *testing.T) {
		h, reg := newTestHandler(loaderOf(f), Options{})
		q := query("www."+zone, mdns.TypeA)
		q.Response = true
		if m := exchange(t, h, q, udpWriter()); m != nil {
			t.Fatalf("reply to a response: %v", m)
		}
		if n := counterValue(t, reg, "gslbd_dns_dropped_total", "reason", dropResponse); n != 1 {
			t.Errorf("dropped{response} = %v, want 1", n)
		}
	})
	t.Run("QR=1 reaching the handler directly is dropped", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(f), Options{})
		q := query("www."+zone, mdns.TypeA)
		q.Response = true
		w := udpWriter()
		h.ServeDNS(w, q)
		if len(w.out) != 0 {
			t.Fatal("handler answered a response")
		}
	})
	for _, op := range []int{mdns.OpcodeNotify, mdns.OpcodeUpdate, mdns.OpcodeStatus, mdns.OpcodeIQuery} {
		t.Run("opcode "+mdns.OpcodeToString[op], func(t *testing.T) {
			h, _ := newTestHandler(loaderOf(f), Options{})
			q := query("www."+zone, mdns.TypeA)
			q.Opcode = op
			m := exchange(t, h, q, udpWriter())
			if m == nil || m.Rcode != mdns.RcodeNotImplemented || m.Opcode != op || m.Authoritative {
				t.Fatalf("reply = %v", m)
			}
		})
	}
	for _, n := range []int{0, 2} {
		t.Run(fmt.Sprintf("%d questions", n), func(t *testing.T) {
			h, _ := newTestHandler(loaderOf(f), Options{})
			q := query("www."+zone, mdns.TypeA)
			q.Question = nil
			for range n {
				q.Question = append(q.Question, mdns.Question{Name: "www." + zone, Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
			}
			m := exchange(t, h, q, udpWriter())
			if m == nil || m.Rcode != mdns.RcodeFormatError || len(m.Answer) != 0 {
				t.Fatalf("reply = %v", m)
			}
		})
	}
	t.Run("truncated packet gets FORMERR", func(t *testing.T) {
		h, reg := newTestHandler(loaderOf(f), Options{})
		raw, _ := query("www."+zone, mdns.TypeA).Pack()
		m := exchangeRaw(t, h, raw[:len(raw)-3], udpWriter())
		if m == nil || m.Rcode != mdns.RcodeFormatError {
			t.Fatalf("reply = %v", m)
		}
		if n := queriesValue(t, reg, "udp", "none", "FORMERR"); n != 1 {
			t.Errorf("FORMERR count = %v", n)
		}
	})
	t.Run("short packet dropped", func(t *testing.T) {
		h, reg := newTestHandler(loaderOf(f), Options{})
		if m := exchangeRaw(t, h, []byte{1, 2, 3}, udpWriter()); m != nil {
			t.Fatalf("reply = %v", m)
		}
		if n := counterValue(t, reg, "gslbd_dns_dropped_total", "reason", dropShort); n != 1 {
			t.Errorf("dropped{short} = %v", n)
		}
	})
	t.Run("two OPT records", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(f), Options{})
		q := withEDNS(withEDNS(query("www."+zone, mdns.TypeA), 1232), 1232)
		if m := exchange(t, h, q, udpWriter()); m == nil || m.Rcode != mdns.RcodeFormatError {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("class other than IN/CH", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(f), Options{})
		q := query("www."+zone, mdns.TypeA)
		q.Question[0].Qclass = mdns.ClassHESIOD
		if m := exchange(t, h, q, udpWriter()); m == nil || m.Rcode != mdns.RcodeRefused || m.Authoritative {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("no snapshot yet", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(nil), Options{})
		if m := exchange(t, h, query("www."+zone, mdns.TypeA), udpWriter()); m == nil || m.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("handler with an empty store", func(t *testing.T) {
		hh := testHandler(&gslb.Store{}, Options{Registerer: prometheus.NewRegistry()})
		w := udpWriter()
		hh.ServeDNS(w, query("www."+zone, mdns.TypeA))
		m := new(mdns.Msg)
		if len(w.out) != 1 || m.Unpack(w.out[0]) != nil || m.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("panic is recovered as SERVFAIL", func(t *testing.T) {
		p := &fakeAnswerer{answer: func(gslb.Question, gslb.Client) (gslb.Answer, error) { panic("bad snapshot") }}
		h, reg := newTestHandler(loaderOf(p), Options{})
		m := exchange(t, h, query("www."+zone, mdns.TypeA), udpWriter())
		if m == nil || m.Rcode != mdns.RcodeServerFailure || len(m.Answer) != 0 {
			t.Fatalf("reply = %v", m)
		}
		if n := counterValue(t, reg, "gslbd_dns_panics_total", "", ""); n != 1 {
			t.Errorf("panics = %v", n)
		}
	})
}

// counterValue reads a counter from reg; label "" reads an unlabelled one.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" {
				return m.GetCounter().GetValue()
			}
			for _, p := range m.GetLabel() {
				if p.GetName() == label && p.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestHandlerEDNS(t *testing.T) {
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}, nil)}
	h, _ := newTestHandler(loaderOf(f), Options{UDPSize: 1400})

	t.Run("OPT echoed with our size, no DO", func(t *testing.T) {
		q := withEDNS(query("www."+zone, mdns.TypeA), 4096)
		q.IsEdns0().SetDo()
		m := exchange(t, h, q, udpWriter())
		opt := m.IsEdns0()
		if m.Rcode != mdns.RcodeSuccess || opt == nil {
			t.Fatalf("reply = %v", m)
		}
		if opt.UDPSize() != 1400 || opt.Version() != 0 || opt.Do() || len(opt.Option) != 0 {
			t.Errorf("OPT = %v", opt)
		}
	})
	t.Run("no OPT without EDNS", func(t *testing.T) {
		if m := exchange(t, h, query("www."+zone, mdns.TypeA), udpWriter()); m.IsEdns0() != nil {
			t.Errorf("OPT in reply to a plain query: %v", m)
		}
	})
	t.Run("BADVERS", func(t *testing.T) {
		q := withEDNS(query("www."+zone, mdns.TypeA), 1232)
		q.IsEdns0().SetVersion(1)
		m := exchange(t, h, q, udpWriter())
		if m.Rcode != mdns.RcodeBadVers || m.IsEdns0() == nil || m.IsEdns0().Version() != 0 || len(m.Answer) != 0 {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("unknown options not echoed", func(t *testing.T) {
		q := withEDNS(query("www."+zone, mdns.TypeA), 1232,
			&mdns.EDNS0_LOCAL{Code: 65001, Data: []byte("hello")},
			&mdns.EDNS0_NSID{Code: mdns.EDNS0NSID},
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"})
		m := exchange(t, h, q, udpWriter())
		if m.Rcode != mdns.RcodeSuccess {
			t.Fatalf("reply = %v", m)
		}
		// COOKIE and NSID are answered (cookie_test.go, TestNSID); the
		// unknown option is not echoed.
		for _, o := range m.IsEdns0().Option {
			if o.Option() != mdns.EDNS0COOKIE && o.Option() != mdns.EDNS0NSID {
				t.Errorf("option %d echoed: %v", o.Option(), m)
			}
		}
	})
}

func TestHandlerECS(t *testing.T) {
	cases := []struct {
		name       string
		opt        mdns.EDNS0
		scope      int
		wantClient gslb.Client
		wantEcho   string // String() of the echoed option
	}{
		{"v4 /24 scope 20", ecsOption("81.2.69.0/24"), 20,
			gslb.Client{Addr: netip.MustParseAddr("81.2.69.0"), SourcePrefix: 24, ECS: true}, "81.2.69.0/24/20"},
		{"scope never longer than source", ecsOption("81.2.69.160/27"), 32,
			gslb.Client{Addr: netip.MustParseAddr("81.2.69.160"), SourcePrefix: 27, ECS: true}, "81.2.69.160/27/27"},
		{"static answer scope 0", ecsOption("175.16.199.0/24"), 0,
			gslb.Client{Addr: netip.MustParseAddr("175.16.199.0"), SourcePrefix: 24, ECS: true}, "175.16.199.0/24/0"},
		{"v6 /56", ecsOption("2001:db8:1234:5600::/56"), 48,
			gslb.Client{Addr: netip.MustParseAddr("2001:db8:1234:5600::"), SourcePrefix: 56, ECS: true}, "[2001:db8:1234:5600::]/56/48"},
		{"/0 means no location", ecsOption("0.0.0.0/0"), 24,
			gslb.Client{Addr: netip.IPv4Unspecified(), SourcePrefix: 0, ECS: true}, "0.0.0.0/0/0"},
		{"family 0 /0 (dig +subnet=0)", rawECS(0, 0, 0), 24,
			gslb.Client{Addr: netip.IPv4Unspecified(), SourcePrefix: 0, ECS: true}, "0.0.0.0/0/0"},
		{"short address form", rawECS(1, 20, 0, 198, 51, 96), 16,
			gslb.Client{Addr: netip.MustParseAddr("198.51.96.0"), SourcePrefix: 20, ECS: true}, "198.51.96.0/20/16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Scope: tc.scope,
				Answer: []gslb.Record{aRec("app."+zone, "198.51.100.10")}}, nil)}
			h, _ := newTestHandler(loaderOf(f), Options{})
			m := exchange(t, h, withEDNS(query("app."+zone, mdns.TypeA), 1232, tc.opt), udpWriter())
			if m.Rcode != mdns.RcodeSuccess {
				t.Fatalf("reply = %v", m)
			}
			if got := f.lastCall(t).c; got != tc.wantClient {
				t.Errorf("client = %+v, want %+v", got, tc.wantClient)
			}
			e := replyECS(t, m)
			if e == nil || e.String() != tc.wantEcho {
				t.Errorf("echoed ECS = %v, want %s", e, tc.wantEcho)
			}
		})
	}

	t.Run("negative answer echoes scope", func(t *testing.T) {
		f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soaRec(zone)}}, gslb.ErrNoSuchName)}
		h, _ := newTestHandler(loaderOf(f), Options{})
		m := exchange(t, h, withEDNS(query("nx."+zone, mdns.TypeA), 1232, ecsOption("81.2.69.0/24")), udpWriter())
		if e := replyECS(t, m); m.Rcode != mdns.RcodeNameError || e == nil || e.SourceScope != 0 || e.SourceNetmask != 24 {
			t.Fatalf("reply = %v", m)
		}
	})
	t.Run("socket address without ECS", func(t *testing.T) {
		f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Scope: 24,
			Answer: []gslb.Record{aRec("app."+zone, "198.51.100.10")}}, nil)}
		h, _ := newTestHandler(loaderOf(f), Options{})
		w := udpWriter()
		w.remote = &net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 5}
		m := exchange(t, h, withEDNS(query("app."+zone, mdns.TypeA), 1232), w)
		want := gslb.Client{Addr: netip.MustParseAddr("127.0.0.1"), SourcePrefix: 32}
		if got := f.lastCall(t).c; got != want {
			t.Errorf("client = %+v, want %+v", got, want)
		}
		if replyECS(t, m) != nil {
			t.Error("ECS echoed to a query without ECS")
		}
	})

	malformed := []struct {
		name string
		opt  mdns.EDNS0
	}{
		{"bits past the prefix", rawECS(1, 24, 0, 81, 2, 69, 7)},
		{"v6 bits past the prefix", rawECS(2, 8, 0, 0x20, 0x01)},
		{"prefix longer than IPv4", rawECS(1, 33, 0, 1, 2, 3, 4, 5)},
		{"prefix longer than IPv6", rawECS(2, 129, 0)},
		{"unknown family", rawECS(3, 8, 0, 10)},
		{"family 0 with a prefix", rawECS(0, 8, 0, 10)},
		{"too short", &mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: []byte{0, 1}}},
	}
	for _, tc := range malformed {
		t.Run("FORMERR "+tc.name, func(t *testing.T) {
			f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("app."+zone, "198.51.100.10")}}, nil)}
			h, _ := newTestHandler(loaderOf(f), Options{})
			m := exchange(t, h, withEDNS(query("app."+zone, mdns.TypeA), 1232, tc.opt), udpWriter())
			if m == nil || m.Rcode != mdns.RcodeFormatError || len(m.Answer) != 0 {
				t.Fatalf("reply = %v", m)
			}
			if len(f.calls) != 0 {
				t.Error("malformed ECS reached gslb")
			}
		})
	}
	t.Run("FORMERR two ECS options", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(&fakeAnswerer{}), Options{})
		q := withEDNS(query("app."+zone, mdns.TypeA), 1232, ecsOption("81.2.69.0/24"), ecsOption("81.2.69.0/24"))
		if m := exchange(t, h, q, udpWriter()); m.Rcode != mdns.RcodeFormatError {
			t.Fatalf("reply = %v", m)
		}
	})
}

func TestHandlerChaos(t *testing.T) {
	cases := []struct {
		name, qname string
		qtype       uint16
		version     string
		rcode       int
		text        string
	}{
		{"id.server", "id.server.", mdns.TypeTXT, "", mdns.RcodeSuccess, "node-a"},
		{"hostname.bind mixed case", "HostName.Bind.", mdns.TypeTXT, "", mdns.RcodeSuccess, "node-a"},
		{"version.bind unset", "version.bind.", mdns.TypeTXT, "", mdns.RcodeRefused, ""},
		{"version.bind set", "version.bind.", mdns.TypeTXT, "gslbd 1.0", mdns.RcodeSuccess, "gslbd 1.0"},
		{"other name", "authors.bind.", mdns.TypeTXT, "x", mdns.RcodeRefused, ""},
		{"other type", "id.server.", mdns.TypeA, "", mdns.RcodeRefused, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAnswerer{node: "node-a", version: tc.version}
			h, _ := newTestHandler(loaderOf(f), Options{})
			q := query(tc.qname, tc.qtype)
			q.Question[0].Qclass = mdns.ClassCHAOS
			m := exchange(t, h, q, udpWriter())
			if m.Rcode != tc.rcode {
				t.Fatalf("reply = %v", m)
			}
			if tc.text == "" {
				if len(m.Answer) != 0 {
					t.Errorf("answer = %v", m.Answer)
				}
				return
			}
			txt, ok := m.Answer[0].(*mdns.TXT)
			if len(m.Answer) != 1 || !ok || txt.Hdr.Class != mdns.ClassCHAOS || txt.Hdr.Name != tc.qname ||
				strings.Join(txt.Txt, "") != tc.text || !m.Authoritative {
				t.Errorf("reply = %v", m)
			}
			if len(f.calls) != 0 {
				t.Error("CHAOS query reached gslb")
			}
		})
	}
}

func TestHandlerTruncation(t *testing.T) {
	// 400 records: the whole TCP reply (about 6.5 KB) outgrows the pooled
	// pack buffer.
	const n = 400
	var recs []gslb.Record
	for i := range n {
		recs = append(recs, aRec("app."+zone, fmt.Sprintf("192.0.%d.%d", 2+i/250, i%250+1)))
	}
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: recs}, nil)}
	cases := []struct {
		name     string
		edns     uint16 // 0: no EDNS
		w        func() *fakeWriter
		tc       bool
		maxBytes int
	}{
		{"UDP without EDNS", 0, udpWriter, true, 512},
		{"UDP EDNS 4096 capped at our 1232", 4096, udpWriter, true, 1232},
		{"UDP EDNS below 512 means 512", 100, udpWriter, true, 512},
		{"TCP whole", 0, tcpWriter, false, 65535},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, reg := newTestHandler(loaderOf(f), Options{})
			q := query("app."+zone, mdns.TypeA)
			if tc.edns != 0 {
				q = withEDNS(q, tc.edns)
			}
			w := tc.w()
			m := exchange(t, h, q, w)
			if m.Truncated != tc.tc {
				t.Errorf("TC = %v, want %v", m.Truncated, tc.tc)
			}
			if len(w.out[0]) > tc.maxBytes {
				t.Errorf("reply is %d bytes, limit %d", len(w.out[0]), tc.maxBytes)
			}
			if tc.tc && (len(m.Answer) == 0 || len(m.Answer) >= n) {
				t.Errorf("truncated reply has %d answers", len(m.Answer))
			}
			if !tc.tc && len(m.Answer) != n {
				t.Errorf("whole reply has %d answers", len(m.Answer))
			}
			if tc.edns != 0 && m.IsEdns0() == nil {
				t.Error("OPT lost by truncation")
			}
			want := 0.0
			if tc.tc {
				want = 1
			}
			if n := counterValue(t, reg, "gslbd_dns_truncated_total", "", ""); n != want {
				t.Errorf("truncated_total = %v, want %v", n, want)
			}
		})
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	_ = testHandler(&gslb.Store{}, Options{Registerer: reg})
	if _, err := NewServer(Options{Addrs: []string{"127.0.0.1:0"}, Source: &gslb.Store{}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkServeDNS(b *testing.B) {
	a := staticAnswerer{gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}}
	h, _ := newTestHandler(loaderOf(a), Options{})
	req := withEDNS(query("www."+zone, mdns.TypeA), 1232)
	w := udpWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.out = w.out[:0]
		h.ServeDNS(w, req)
	}
	if len(w.out) != 1 {
		b.Fatal("no reply")
	}
}

// staticAnswerer answers every question alike and records nothing, so a
// benchmark measures the handler only.
type staticAnswerer struct{ a gslb.Answer }

func (s staticAnswerer) Answer(gslb.Question, gslb.Client) (gslb.Answer, error) { return s.a, nil }
func (staticAnswerer) NodeName() string                                         { return "" }
func (staticAnswerer) VersionBind() string                                      { return "" }

func TestHandlerCountsGSLBAnswersByRegion(t *testing.T) {
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, GSLBName: "app." + zone, Region: "eu-west",
		Answer: []gslb.Record{aRec("app."+zone, "198.51.100.10")}}, nil)}
	h, reg := newTestHandler(loaderOf(f), Options{})
	for range 3 {
		if m := exchange(t, h, query("app."+zone, mdns.TypeA), udpWriter()); m == nil || len(m.Answer) != 1 {
			t.Fatalf("reply = %v", m)
		}
	}
	if n := counterValue(t, reg, "gslbd_dns_gslb_answers_total", "region", "eu-west"); n != 3 {
		t.Errorf("gslb_answers_total{region=eu-west} = %v, want 3", n)
	}
}
