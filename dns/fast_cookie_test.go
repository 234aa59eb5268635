package dns

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The cookie cases' fixed clock and secrets: the fast and the full path
// must write the same bytes, timestamps included.
const testCookieNow = 1767225600 // 2026-01-01T00:00:00Z

var (
	testCookieSecret = CookieSecret{0x6a, 0x1c, 0x0e, 0x5f, 0x3b, 0x9d, 0x47, 0xe2, 0x8c, 0x41, 0xd2, 0xa7, 0xf0, 0x5b, 0x9e, 0x13}
	// testCookieOld is being retired: it validates, it no longer issues.
	testCookieOld = CookieSecret{0xdd, 0x3b, 0xdf, 0x93, 0x44, 0xb6, 0x78, 0xb1, 0x85, 0xa6, 0xf5, 0xcb, 0x60, 0xfc, 0xa7, 0x15}
	testCookieSrc = netip.MustParseAddr("127.0.0.1")
)

// fixedCookies are Cookies with the test secrets and the fixed clock.
func fixedCookies() *Cookies {
	c := NewCookies([]CookieSecret{testCookieSecret, testCookieOld})
	c.fixed = func() uint32 { return testCookieNow }
	return c
}

// serverCookie is a client+server cookie for src made with secret at made.
func serverCookie(secret CookieSecret, src netip.Addr, made uint32) []byte {
	return NewCookies([]CookieSecret{secret}).appendCookie(nil, []byte("clientck"), src, made)
}

func cookieOpt(b []byte) *mdns.EDNS0_LOCAL {
	return &mdns.EDNS0_LOCAL{Code: mdns.EDNS0COOKIE, Data: b}
}

// fastCookieCases are cookie queries from testCookieSrc the fast path
// answers: a client cookie alone, valid server cookies (echoed, or renewed
// when old or made with the retiring secret), bad ones (replaced), with
// and without ECS on either side of the cookie.
func fastCookieCases() []*mdns.Msg { return cookieCasesFor(testCookieSrc) }

func cookieCasesFor(src netip.Addr) []*mdns.Msg {
	const z = "gslb.test."
	client := []byte("clientck")
	valid := serverCookie(testCookieSecret, src, testCookieNow-10)
	altered := bytes.Clone(valid)
	altered[len(altered)-1] ^= 1
	www := func(opts ...mdns.EDNS0) *mdns.Msg { return withEDNS(query("www."+z, mdns.TypeA), 1232, opts...) }
	return []*mdns.Msg{
		www(cookieOpt(client)),
		www(cookieOpt(valid)),
		www(cookieOpt(serverCookie(testCookieSecret, src, testCookieNow-cookieRenewAge-1))), // renewed
		www(cookieOpt(serverCookie(testCookieOld, src, testCookieNow-10))),                  // retiring secret: renewed
		www(cookieOpt(serverCookie(testCookieSecret, src, testCookieNow-cookieLifetime-1))), // expired
		www(cookieOpt(serverCookie(testCookieSecret, src, testCookieNow+cookieMaxSkew+1))),  // from the future
		www(cookieOpt(altered)),
		www(cookieOpt(append(bytes.Clone(client), 1, 2, 3, 4, 5, 6, 7, 8))),              // someone else's 8-octet server cookie
		www(cookieOpt(append(bytes.Clone(client), make([]byte, cookieMaxServerLen)...))), // 32 octets
		www(&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		withEDNS(query("nope."+z, mdns.TypeA), 1232, cookieOpt(client)),
		withEDNS(query("app."+z, mdns.TypeA), 4096, cookieOpt(valid), ecsOption("81.2.69.160/27")),
		withEDNS(query("app."+z, mdns.TypeAAAA), 1232, ecsOption("2001:db8::/48"), cookieOpt(client)),
		withEDNS(query("www."+z, mdns.TypeAAAA), 512, cookieOpt(altered)),
	}
}

// declinedCookieCases are cookie queries left to the full path: malformed
// options (FORMERR), two cookies, and a cookie with NSID.
func declinedCookieCases() []*mdns.Msg {
	const z = "gslb.test."
	www := func(opts ...mdns.EDNS0) *mdns.Msg { return withEDNS(query("www."+z, mdns.TypeA), 1232, opts...) }
	client := []byte("clientck")
	return []*mdns.Msg{
		www(cookieOpt(client[:7])),
		www(cookieOpt(append(bytes.Clone(client), 1))),
		www(cookieOpt(append(bytes.Clone(client), make([]byte, 7)...))),
		www(cookieOpt(append(bytes.Clone(client), make([]byte, cookieMaxServerLen+1)...))),
		www(cookieOpt(nil)),
		www(cookieOpt(client), cookieOpt(client)),
		www(cookieOpt(client), &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID}),
	}
}

// TestFastPathCookies: what the fast path's cookie replies say (the
// byte-for-byte comparison with the full path is in
// TestFastPathMatchesFullPath), the metric, and the require policy.
func TestFastPathCookies(t *testing.T) {
	snap := realSnapshot(t)
	src := netip.AddrPortFrom(testCookieSrc, 40000)
	pack := func(t *testing.T, m *mdns.Msg) []byte {
		t.Helper()
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	client := []byte("clientck")
	valid := serverCookie(testCookieSecret, testCookieSrc, testCookieNow-10)
	bad := bytes.Clone(valid)
	bad[9] ^= 1
	www := func(ck []byte) *mdns.Msg {
		return withEDNS(query("www.gslb.test.", mdns.TypeA), 1232, cookieOpt(ck))
	}

	t.Run("replies and counts", func(t *testing.T) {
		h, _ := newTestHandler(loaderOf(snap), Options{Cookies: fixedCookies()})
		fresh := hex.EncodeToString(fixedCookies().appendCookie(nil, client, testCookieSrc, testCookieNow))
		for _, tc := range []struct {
			name   string
			cookie []byte
			want   string
		}{
			{"client only: a fresh server cookie", client, fresh},
			{"valid: echoed", valid, hex.EncodeToString(valid)},
			{"bad: a fresh one", bad, fresh},
		} {
			fast, _ := twoPaths(t, h, pack(t, www(tc.cookie)), src)
			m, ok := unpackOrErr(fast).(*mdns.Msg)
			if !ok || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 || replyCookieHex(m) != tc.want {
				t.Errorf("%s: fast reply %v, want cookie %s", tc.name, unpackOrErr(fast), tc.want)
			}
		}
		// twoPaths asks both paths: each status counted twice.
		for st, want := range map[cookieStatus]float64{cookieClientOnly: 2, cookieValid: 2, cookieBad: 2} {
			if v := testutil.ToFloat64(h.cookieC[st]); v != want {
				t.Errorf("gslbd_dns_cookies_total{result=%q} = %v, want %v", st, v, want)
			}
		}
		if h.cookieC[cookieNone] != nil {
			t.Error("queries without a cookie have a cookie series")
		}
	})

	t.Run("require", func(t *testing.T) {
		c := fixedCookies()
		c.SetRequire(true)
		h, _ := newTestHandler(loaderOf(snap), Options{Cookies: c})
		fresh := hex.EncodeToString(c.appendCookie(nil, client, testCookieSrc, testCookieNow))
		for _, ck := range [][]byte{client, bad} {
			fast, full := twoPaths(t, h, pack(t, www(ck)), src)
			if fast != nil {
				t.Fatalf("fast path answered %x, which the policy refuses", ck)
			}
			m, ok := unpackOrErr(full).(*mdns.Msg)
			if !ok || m.Rcode != mdns.RcodeBadCookie || len(m.Answer) != 0 || m.Truncated || replyCookieHex(m) != fresh {
				t.Fatalf("cookie %x: full reply %v, want BADCOOKIE with %s", ck, unpackOrErr(full), fresh)
			}
		}
		fast, full := twoPaths(t, h, pack(t, www(valid)), src)
		if m, ok := unpackOrErr(fast).(*mdns.Msg); !ok || len(m.Answer) != 1 || !bytes.Equal(fast, full) {
			t.Fatalf("valid cookie: fast %v, full %v", unpackOrErr(fast), unpackOrErr(full))
		}
		// No cookie at all: not cookie-aware, answered as always.
		fast, _ = twoPaths(t, h, pack(t, withEDNS(query("www.gslb.test.", mdns.TypeA), 1232)), src)
		if m, ok := unpackOrErr(fast).(*mdns.Msg); !ok || len(m.Answer) != 1 {
			t.Fatalf("no cookie: %v", unpackOrErr(fast))
		}
		// Over TCP the client proved its address: answered.
		w := tcpWriter()
		if m := exchange(t, h, www(client), w); m == nil || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
			t.Fatalf("TCP with a client cookie: %v", m)
		}
		// Turned off again (a reload): answered normally.
		c.SetRequire(false)
		if fast, _ := twoPaths(t, h, pack(t, www(client)), src); fast == nil {
			t.Fatal("require off: the fast path still declines a client cookie")
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		rc := testRRLConfig()
		rc.ResponsesPerSecond, rc.Slip = 1, 1
		r, _, _ := newTestRRL(t, rc)
		r.clock.Store(testCookieNow) // Run's coarse clock, stopped: no token comes back
		h, _ := newTestHandler(loaderOf(snap), Options{RRL: r, Cookies: fixedCookies()})
		twoPaths(t, h, pack(t, www(client)), src) // the bucket's one reply
		for _, ck := range [][]byte{client, bad} {
			fast, full := twoPaths(t, h, pack(t, www(ck)), src)
			m, ok := unpackOrErr(fast).(*mdns.Msg)
			if !ok || m.Rcode != mdns.RcodeBadCookie || m.Truncated || len(m.Answer) != 0 || len(replyCookieHex(m)) != 48 {
				t.Fatalf("cookie %x: slipped reply %v, want BADCOOKIE with a fresh cookie", ck, unpackOrErr(fast))
			}
			if !bytes.Equal(fast, full) {
				t.Fatalf("slipped replies differ\nfast %x\nfull %x", fast, full)
			}
		}
		fast, full := twoPaths(t, h, pack(t, withEDNS(query("www.gslb.test.", mdns.TypeA), 1232)), src)
		if m, ok := unpackOrErr(fast).(*mdns.Msg); !ok || !m.Truncated || !bytes.Equal(fast, full) {
			t.Fatalf("no cookie: fast %v, full %v, want the same TC reply", unpackOrErr(fast), unpackOrErr(full))
		}
		for i := range 5 {
			fast, full := twoPaths(t, h, pack(t, www(valid)), src)
			if m, ok := unpackOrErr(fast).(*mdns.Msg); !ok || len(m.Answer) != 1 || !bytes.Equal(fast, full) {
				t.Fatalf("valid cookie, query %d: limited: fast %v, full %v", i, unpackOrErr(fast), unpackOrErr(full))
			}
		}
	})
}

// BenchmarkUDPPathCookies is BenchmarkUDPPath with a DNS cookie: a client
// cookie alone (a server cookie made per reply) and a valid server cookie
// (checked and echoed), each also with RRL on (log_only at the highest
// rate; a valid cookie skips it). The coarse clocks run, as in gslbd.
// All must stay at 0 allocs/op.
func BenchmarkUDPPathCookies(b *testing.B) {
	cookies := NewCookies([]CookieSecret{testCookieSecret})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = cookies.Run(ctx) }()
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	valid := cookies.appendCookie(nil, []byte("clientck"), src.Addr(), unixNow())
	for _, bc := range []struct {
		name   string
		cookie []byte
		rrl    bool
	}{
		{"client", []byte("clientck"), false},
		{"valid", valid, false},
		{"client+rrl", []byte("clientck"), true},
		{"valid+rrl", valid, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var r *RRL
			if bc.rrl {
				c := testRRLConfig()
				c.ResponsesPerSecond, c.NXDomainsPerSecond, c.LogOnly = rrlMaxRate, rrlMaxRate, true
				var err error
				if r, err = NewRRL(c, nil, prometheus.NewRegistry()); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = r.Run(ctx) }()
			}
			h, _ := newTestHandler(loaderOf(realSnapshot(b)), Options{RRL: r, Cookies: cookies})
			raw, err := withEDNS(query("www.gslb.test.", mdns.TypeA), 1232, cookieOpt(bc.cookie)).Pack()
			if err != nil {
				b.Fatal(err)
			}
			w := benchWorker(b, h)
			copy(w.in[0], raw)
			w.io.setLength(0, len(raw))
			w.src[0] = src
			b.ReportAllocs()
			var reply []byte
			var fast bool
			for b.Loop() {
				reply, fast = w.handle(0)
			}
			m, ok := unpackOrErr(reply).(*mdns.Msg)
			if !fast || !ok || len(m.Answer) != 1 || len(replyCookieHex(m)) != 48 {
				b.Fatalf("not answered with a cookie by the fast path: %v", unpackOrErr(reply))
			}
		})
	}
}
