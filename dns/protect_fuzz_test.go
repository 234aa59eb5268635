package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// FuzzHandlerProtected is FuzzHandler with RRL (1/s, slip 1, so most
// replies are limited and slipped) and cookies on, seeded with cookie and
// NSID options: no input may panic, and every reply unpacks, fits and is
// a response.
func FuzzHandlerProtected(f *testing.F) {
	cookies := NewCookies([]CookieSecret{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}})
	valid := cookies.appendCookie(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netipLoopback, 0)
	for _, m := range []*mdns.Msg{
		withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_LOCAL{Code: mdns.EDNS0COOKIE, Data: valid}),
		withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_LOCAL{Code: mdns.EDNS0COOKIE, Data: []byte{1, 2, 3}}),
		withEDNS(query("nope."+zone, mdns.TypeA), 1232, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID}, ecsOption("192.0.2.0/24")),
		withEDNS(query("www."+zone, mdns.TypeA), 1232,
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"},
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		query("www."+zone, mdns.TypeA),
	} {
		raw, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	c := testRRLConfig()
	c.ResponsesPerSecond, c.Slip = 1, 1
	r, err := NewRRL(c, nil, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	fake := funcAnswerer(fuzzAnswer)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, w := range []*fakeWriter{udpWriter(), tcpWriter()} {
			h, reg := newTestHandler(loaderOf(fake), Options{RRL: r, Cookies: cookies})
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
			if protoOf(w) == protoUDP && len(w.out[0]) > int(h.udpSize) {
				t.Fatalf("reply of %d bytes over %d", len(w.out[0]), h.udpSize)
			}
			m := new(mdns.Msg)
			if err := m.Unpack(w.out[0]); err != nil || !m.Response {
				t.Fatalf("reply does not unpack as a response: %v", err)
			}
		}
	})
}
