package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

// FuzzHandler feeds raw packets through the server's path (header, accept
// func, unpack, handler) over both transports. No input may panic: a
// panic the handler's edge recovered still fails the test through the
// panic counter. Every reply must unpack and fit the transport.
func FuzzHandler(f *testing.F) {
	seeds := []*mdns.Msg{
		query("www."+zone, mdns.TypeA),
		query("WwW.GsLb.TeSt.", mdns.TypeAAAA),
		withEDNS(query("app."+zone, mdns.TypeA), 4096, ecsOption("81.2.69.160/27")),
		withEDNS(query("app."+zone, mdns.TypeA), 1232, ecsOption("2001:db8::/48")),
		withEDNS(query("app."+zone, mdns.TypeA), 1232, rawECS(1, 24, 0, 81, 2, 69, 7)),
		withEDNS(query("app."+zone, mdns.TypeA), 1232, rawECS(0, 0, 0)),
		withEDNS(query("app."+zone, mdns.TypeA), 512, &mdns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}}),
		withEDNS(withEDNS(query("www."+zone, mdns.TypeA), 1232), 1232),
		query("nope."+zone, mdns.TypeTXT),
		query(zone, mdns.TypeAXFR),
		query("id.server.", mdns.TypeTXT),
	}
	chaosQ := query("version.bind.", mdns.TypeTXT)
	chaosQ.Question[0].Qclass = mdns.ClassCHAOS
	notify := query(zone, mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	twoQ := query("www."+zone, mdns.TypeA)
	twoQ.Question = append(twoQ.Question, twoQ.Question[0])
	resp := query("www."+zone, mdns.TypeA)
	resp.Response = true
	badVers := withEDNS(query("www."+zone, mdns.TypeA), 1232)
	badVers.IsEdns0().SetVersion(3)
	seeds = append(seeds, chaosQ, notify, twoQ, resp, badVers)
	for _, m := range seeds {
		raw, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x0c})

	fake := funcAnswerer(fuzzAnswer)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, w := range []*fakeWriter{udpWriter(), tcpWriter()} {
			h, reg := newTestHandler(loaderOf(fake), Options{})
			serveRaw(h, raw, w)
			if n := counterValue(t, reg, "gslbd_dns_panics_total", "", ""); n != 0 {
				t.Fatalf("handler panicked on %x", raw)
			}
			if len(w.out) > 1 {
				t.Fatalf("%d replies", len(w.out))
			}
			if len(w.out) == 0 {
				continue
			}
			limit := mdns.MaxMsgSize
			if protoOf(w) == protoUDP {
				limit = int(h.udpSize)
			}
			if len(w.out[0]) > limit {
				t.Fatalf("reply of %d bytes over a limit of %d", len(w.out[0]), limit)
			}
			m := new(mdns.Msg)
			if err := m.Unpack(w.out[0]); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if !m.Response {
				t.Fatal("reply without QR")
			}
		}
	})
}

// fuzzAnswer answers like a zone would: data for www, NXDOMAIN elsewhere,
// with a scope so ECS echo is exercised.
func fuzzAnswer(q gslb.Question, c gslb.Client) (gslb.Answer, error) {
	switch q.Type {
	case gslb.TypeA:
		return gslb.Answer{Zone: zone, Authoritative: true, Scope: 24,
			Answer: []gslb.Record{aRec(q.Name, "192.0.2.80")}}, nil
	case gslb.TypeAAAA:
		return gslb.Answer{Zone: zone, Authoritative: true, Scope: 48, Answer: []gslb.Record{{Name: q.Name,
			Type: gslb.TypeAAAA, TTL: 1, Data: gslb.RData{Addr: netip.MustParseAddr("2001:db8::80")}}}}, nil
	}
	return gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soaRec(zone)}}, gslb.ErrNoSuchName
}

// funcAnswerer answers with a function and records nothing, so long fuzz
// runs do not grow memory.
type funcAnswerer func(gslb.Question, gslb.Client) (gslb.Answer, error)

func (f funcAnswerer) Answer(q gslb.Question, c gslb.Client) (gslb.Answer, error) { return f(q, c) }
func (funcAnswerer) NodeName() string                                             { return "node-a" }
func (funcAnswerer) VersionBind() string                                          { return "" }
