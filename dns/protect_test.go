package dns

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

// TestLimitClassify: which bucket a full-path reply is charged to.
func TestLimitClassify(t *testing.T) {
	q := query("www."+zone, mdns.TypeAAAA)
	nx := reply(q, mdns.RcodeNameError)
	nx.Ns = append(nx.Ns, &mdns.SOA{Hdr: mdns.RR_Header{Name: zone, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET}})
	for _, tc := range []struct {
		name  string
		resp  *mdns.Msg
		cls   rrlClass
		key   string
		qtype uint16
	}{
		{"answer", reply(q, mdns.RcodeSuccess), rrlResponse, "www." + zone, mdns.TypeAAAA},
		{"NXDOMAIN by zone", nx, rrlNXDomain, zone, 0},
		{"NXDOMAIN without SOA by name", reply(q, mdns.RcodeNameError), rrlNXDomain, "www." + zone, 0},
		{"REFUSED", reply(q, mdns.RcodeRefused), rrlError, "", 0},
		{"SERVFAIL", reply(q, mdns.RcodeServerFailure), rrlError, "", 0},
	} {
		cls, key, qtype := classify(q, tc.resp)
		if cls != tc.cls || key != tc.key || qtype != tc.qtype {
			t.Errorf("%s: %v %q %d, want %v %q %d", tc.name, cls, key, qtype, tc.cls, tc.key, tc.qtype)
		}
	}
}

// TestLimitSlipReplies: a slipped reply is empty with TC=1, or BADCOOKIE
// carrying a fresh cookie when the query had a client cookie; TCP is not
// limited at all.
func TestLimitSlipReplies(t *testing.T) {
	c := testRRLConfig()
	c.ResponsesPerSecond, c.Slip = 1, 1
	r, _, _ := newTestRRL(t, c)
	h, _ := newTestHandler(loaderOf(wwwAnswerer()), Options{RRL: r})

	plain := withEDNS(query("www."+zone, mdns.TypeA), 1232)
	if m := exchange(t, h, plain, udpWriter()); len(m.Answer) != 1 {
		t.Fatalf("first reply: %v", m)
	}
	m := exchange(t, h, plain, udpWriter())
	if !m.Truncated || len(m.Answer) != 0 || m.Rcode != mdns.RcodeSuccess || m.IsEdns0() == nil {
		t.Fatalf("slipped reply: %v", m)
	}
	withCookie := withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"})
	m = exchange(t, h, withCookie, udpWriter())
	if m.Rcode != mdns.RcodeBadCookie || m.Truncated || len(m.Answer) != 0 || len(replyCookieHex(m)) != 48 {
		t.Fatalf("slipped reply to a client cookie: %v", m)
	}
	// The client retries with the server cookie it was given: answered.
	retry := withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: replyCookieHex(m)})
	if m := exchange(t, h, retry, udpWriter()); len(m.Answer) != 1 || m.Rcode != mdns.RcodeSuccess {
		t.Fatalf("retry with the server cookie: %v", m)
	}
	for range 5 {
		if m := exchange(t, h, plain, tcpWriter()); len(m.Answer) != 1 || m.Truncated {
			t.Fatalf("TCP limited: %v", m)
		}
	}
}

// BenchmarkServeDNSProtection is the full path's cost of RRL and cookies
// against BenchmarkServeDNS's plain query: "rrl" charges every reply to a
// bucket (the rate is never reached), "cookie" validates and echoes a
// server cookie, "client-cookie+rrl" issues a fresh one and charges RRL.
func BenchmarkServeDNSProtection(b *testing.B) {
	a := staticAnswerer{gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}}
	cookies := NewCookies(nil)
	valid := cookies.appendCookie(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netipLoopback, uint32(time.Now().Unix()))
	for _, bc := range []struct {
		name   string
		rrl    bool
		cookie string
	}{
		{"plain", false, ""},
		{"rrl", true, ""},
		{"cookie", false, hexOf(valid)},
		{"cookie+rrl", true, hexOf(valid)},
		{"client-cookie+rrl", true, "0102030405060708"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var r *RRL
			if bc.rrl {
				c := testRRLConfig()
				c.ResponsesPerSecond = rrlMaxRate
				var err error
				if r, err = NewRRL(c, nil, prometheus.NewRegistry()); err != nil {
					b.Fatal(err)
				}
			}
			h, _ := newTestHandler(loaderOf(a), Options{RRL: r, Cookies: cookies})
			req := withEDNS(query("www."+zone, mdns.TypeA), 1232)
			if bc.cookie != "" {
				req.IsEdns0().Option = append(req.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: bc.cookie})
			}
			w := udpWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.out = w.out[:0]
				h.ServeDNS(w, req)
			}
			if len(w.out) != 1 {
				b.Fatal("no reply")
			}
		})
	}
}

var netipLoopback = netip.MustParseAddr("127.0.0.1")

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func TestAppendWireName(t *testing.T) {
	for _, name := range []string{"www.gslb.test.", "WWW.Gslb.Test.", ".", "a.b", "xn--bcher-kva.example.", strings.Repeat("a", 63) + ".", strings.Repeat("a.", 127)} {
		want := make([]byte, 256)
		n, err := mdns.PackDomainName(mdns.Fqdn(name), want, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendWireName(nil, name)
		if !ok || !bytes.Equal(got, want[:n]) {
			t.Errorf("%q: %x %v, want %x", name, got, ok, want[:n])
		}
	}
	for _, name := range []string{`a\.b.`, "a..b.", strings.Repeat("a", 64) + ".", strings.Repeat("abcdefghi.", 26), strings.Repeat("a.", 127) + "b."} {
		if got, ok := appendWireName([]byte{9}, name); ok || !bytes.Equal(got, []byte{9}) {
			t.Errorf("%q accepted: %x", name, got)
		}
	}
}

// TestSlipReplyWire: the fast path's slip reply is byte for byte the full
// path's, with and without EDNS (and ECS, which the slip does not echo).
func TestSlipReplyWire(t *testing.T) {
	c := testRRLConfig()
	c.ResponsesPerSecond, c.Slip = 1, 1
	for _, tc := range []struct {
		name string
		q    *mdns.Msg
	}{
		{"plain", query("www."+zone, mdns.TypeA)},
		{"EDNS", withEDNS(query("WWW."+zone, mdns.TypeAAAA), 4096)},
		{"ECS", withEDNS(query("www."+zone, mdns.TypeA), 1232, ecsOption("192.0.2.0/24"))},
		{"RD CD", func() *mdns.Msg {
			m := query("www."+zone, mdns.TypeA)
			m.RecursionDesired, m.CheckingDisabled = true, true
			return m
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRRL(t, c)
			h, _ := newTestHandler(loaderOf(wwwAnswerer()), Options{RRL: r})
			raw, err := tc.q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			serveRaw(h, raw, udpWriter())
			w := udpWriter()
			serveRaw(h, raw, w)
			if len(w.out) != 1 {
				t.Fatalf("no slip reply")
			}
			qend := headerSize
			for raw[qend] != 0 {
				qend += int(raw[qend]) + 1
			}
			qend += 5
			id := binary.BigEndian.Uint16(raw)
			flags := binary.BigEndian.Uint16(raw[2:])
			got := appendSlipReply(nil, id, flags, raw[headerSize:qend], tc.q.IsEdns0() != nil, h.udpSize, nil)
			if !bytes.Equal(got, w.out[0]) {
				t.Fatalf("fast slip %x\nfull slip %x", got, w.out[0])
			}
		})
	}
}

func BenchmarkRRLAccountName(b *testing.B) {
	r, _, _ := newTestRRL(b, testRRLConfig())
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.accountName(now, netipLoopback, rrlNXDomain, "gslb.example.com.", 0)
	}
}

func BenchmarkAppendSlipReply(b *testing.B) {
	q := []byte("\x03www\x04gslb\x04test\x00\x00\x01\x00\x01")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendSlipReply(buf[:0], 4242, 0, q, true, 1232, nil)
	}
}

// TestRRLFastPath: the fast path charges the same buckets as the full
// path (answers by name and type, NXDOMAIN by zone) and sends the same
// slip reply, or nothing when RRL drops.
func TestRRLFastPath(t *testing.T) {
	c := testRRLConfig()
	c.ResponsesPerSecond, c.NXDomainsPerSecond, c.Slip = 2, 2, 2
	r, _, _ := newTestRRL(t, c)
	h, _ := newTestHandler(loaderOf(wwwAnswerer()), Options{RRL: r})
	src := netip.MustParseAddrPort("192.0.2.1:5353")
	fast := func(m *mdns.Msg) ([]byte, error) {
		t.Helper()
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var q wireQuery
		if !q.parse(raw) {
			t.Fatalf("fast path declined %v", m)
		}
		out := make([]byte, 0, h.udpSize)
		n, err := h.fastAnswer(&q, src.Addr(), out, h.m.newShard())
		return out[:n], err
	}
	www := withEDNS(query("www."+zone, mdns.TypeA), 1232)
	for i := range 2 {
		if b, err := fast(www); err != nil || len(b) == 0 {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if _, err := fast(www); err != errRateLimited {
		t.Fatalf("third answer in a second: %v, want dropped", err)
	}
	b, err := fast(www)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := www.Pack()
	if want := appendSlipReply(nil, www.Id, binary.BigEndian.Uint16(raw[2:]), raw[headerSize:len(raw)-11], true, h.udpSize, nil); !bytes.Equal(b, want) {
		t.Fatalf("fast slip %x, want %x", b, want)
	}
	// The full path shares the bucket: it is limited too.
	w := &fakeWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5353}}
	if m := exchange(t, h, www, w); m != nil && len(m.Answer) != 0 {
		t.Fatalf("full path answered a limited bucket: %v", m)
	}
	// NXDOMAIN for two names of the zone share one bucket.
	for i, name := range []string{"a.", "b.", "c."} {
		_, err := fast(withEDNS(query(name+zone, mdns.TypeA), 1232))
		if (i < 2) != (err == nil) {
			t.Fatalf("NXDOMAIN %d (%s): %v", i, name, err)
		}
	}
}

// BenchmarkUDPPathRRL is BenchmarkUDPPath with RRL on (log_only, so every
// reply is charged to a bucket and still sent): the fast path's cost of
// rate limiting is the difference. It must stay at 0 allocs/op.
func BenchmarkUDPPathRRL(b *testing.B) {
	for _, bc := range []struct {
		name string
		m    *mdns.Msg
	}{
		{"static", withEDNS(query("www.gslb.test.", mdns.TypeA), 1232)},
		{"gslb-ecs", withEDNS(query("app.gslb.test.", mdns.TypeA), 1232, ecsOption("81.2.69.160/27"))},
		{"nxdomain", withEDNS(query("nope.gslb.test.", mdns.TypeA), 1232)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := testRRLConfig()
			// log_only: a loop faster than the highest rate is accounted in
			// full but still answered.
			c.ResponsesPerSecond, c.NXDomainsPerSecond, c.LogOnly = rrlMaxRate, rrlMaxRate, true
			r, err := NewRRL(c, nil, prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = r.Run(ctx) }() // the coarse clock, as in gslbd
			h, _ := newTestHandler(loaderOf(realSnapshot(b)), Options{RRL: r})
			raw, err := bc.m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			w := benchWorker(b, h)
			copy(w.in[0], raw)
			w.io.setLength(0, len(raw))
			w.src[0] = netip.MustParseAddrPort("127.0.0.1:40000")
			b.ReportAllocs()
			var reply []byte
			var fast bool
			for b.Loop() {
				reply, fast = w.handle(0)
			}
			if !fast || len(reply) == 0 {
				b.Fatalf("not answered by the fast path: %v", unpackOrErr(reply))
			}
		})
	}
}
