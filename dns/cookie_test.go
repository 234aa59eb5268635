package dns

import (
	"context"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustSecret(t testing.TB, s string) CookieSecret {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		t.Fatalf("secret %q: %v (%d bytes)", s, err, len(b))
	}
	return CookieSecret(b)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCookieRFC9018Vectors checks the construction byte for byte against
// RFC 9018 Appendix A: what we issue, and what we accept.
func TestCookieRFC9018Vectors(t *testing.T) {
	const (
		secretA = "e5e973e5a6b2a43f48e7dc849e37bfcf"
		oldB    = "dd3bdf9344b678b185a6f5cb60fca715"
		newB    = "445536bcd2513298075a5d379663c962"
	)
	issue := []struct {
		name, secret, client, ip string
		now                      uint32
		want                     string
	}{
		{"A.1 new cookie, IPv4", secretA, "2464c4abcf10c957", "198.51.100.100", 1559731985,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480"},
		{"A.2 renewed, IPv4", secretA, "2464c4abcf10c957", "198.51.100.100", 1559734385,
			"2464c4abcf10c957010000005cf7a871d4a564a1442aca77"},
		{"A.3 another client", secretA, "fc93fc62807ddb86", "203.0.113.203", 1559734700,
			"fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e"},
		{"A.4 IPv6 after the secret rolled", newB, "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
			"22681ab97d52c298010000005cf7c609a6bb79d16625507a"},
	}
	for _, tc := range issue {
		t.Run("issue "+tc.name, func(t *testing.T) {
			c := NewCookies([]CookieSecret{mustSecret(t, tc.secret)})
			got := c.appendCookie(nil, mustHex(t, tc.client), netip.MustParseAddr(tc.ip), tc.now)
			if hex.EncodeToString(got) != tc.want {
				t.Fatalf("cookie = %x, want %s", got, tc.want)
			}
		})
	}

	accept := []struct {
		name    string
		secrets []string
		ip      string
		cookie  string
		now     uint32
		want    cookieStatus
		renew   bool
	}{
		{"A.2 the A.1 cookie, 40 minutes on: valid, renew", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559734385, cookieValid, true},
		{"A.1 cookie at once: valid, keep", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985 + 10, cookieValid, false},
		{"A.3 reserved octets set by the client are hashed", []string{secretA}, "203.0.113.203",
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 0x5cf78f71 + 60, cookieValid, false},
		{"same cookie from another address", []string{secretA}, "203.0.113.204",
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 0x5cf78f71 + 60, cookieBad, true},
		{"A.4 old secret still accepted during rotation", []string{newB, oldB}, "2001:db8:220:1:59de:d0f4:8769:82b8",
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", 0x5cf7c579 + 60, cookieValid, true},
		{"A.4 old secret dropped", []string{newB}, "2001:db8:220:1:59de:d0f4:8769:82b8",
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", 0x5cf7c579 + 60, cookieBad, true},
		{"one hour old: last valid second", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985 + 3600, cookieValid, true},
		{"one hour and a second: expired", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985 + 3601, cookieBad, true},
		{"five minutes ahead: accepted (clock skew)", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985 - 300, cookieValid, false},
		{"more than five minutes ahead", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985 - 301, cookieBad, true},
		{"altered hash", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29481", 1559731985, cookieBad, true},
		{"altered client cookie", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c958010000005cf79f111f8130c3eee29480", 1559731985, cookieBad, true},
		{"version 2", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957020000005cf79f111f8130c3eee29480", 1559731985, cookieBad, true},
		{"client only", []string{secretA}, "198.51.100.100", "2464c4abcf10c957", 1, cookieClientOnly, true},
		{"8-byte server cookie: someone else's", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c9570102030405060708", 1, cookieBad, true},
		{"32-byte server cookie: someone else's", []string{secretA}, "198.51.100.100",
			"2464c4abcf10c957" + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", 1, cookieBad, true},
	}
	for _, tc := range accept {
		t.Run("check "+tc.name, func(t *testing.T) {
			var ss []CookieSecret
			for _, s := range tc.secrets {
				ss = append(ss, mustSecret(t, s))
			}
			c := NewCookies(ss)
			st, renew := c.check(mustHex(t, tc.cookie), netip.MustParseAddr(tc.ip), tc.now)
			if st != tc.want || renew != tc.renew {
				t.Fatalf("check = %v renew %v, want %v renew %v", st, renew, tc.want, tc.renew)
			}
		})
	}
}

// TestCookieLengths covers the lengths RFC 7873 §5.2.2 answers FORMERR.
func TestCookieLengths(t *testing.T) {
	c := NewCookies(nil)
	src := netip.MustParseAddr("192.0.2.1")
	for n := 0; n <= 48; n++ {
		st, _ := c.check(make([]byte, n), src, 1)
		want := cookieBad
		switch {
		case n == 8:
			want = cookieClientOnly
		case n < 16 || n > 40:
			want = cookieMalformed
		}
		if st != want {
			t.Errorf("%d bytes: %v, want %v", n, st, want)
		}
	}
}

// TestCookieRandomSecret: without a configured secret each process has
// its own, kept across SetSecrets(nil) (a reload with no secret).
func TestCookieRandomSecret(t *testing.T) {
	a, b := NewCookies(nil), NewCookies(nil)
	src := netip.MustParseAddr("2001:db8::1")
	client := mustHex(t, "0102030405060708")
	ck := a.appendCookie(nil, client, src, 1000)
	if st, _ := a.check(ck, src, 1000); st != cookieValid {
		t.Fatalf("own cookie: %v", st)
	}
	if st, _ := b.check(ck, src, 1000); st != cookieBad {
		t.Fatalf("another process's random secret validated: %v", st)
	}
	a.SetSecrets(nil)
	if st, _ := a.check(ck, src, 1000); st != cookieValid {
		t.Fatalf("after SetSecrets(nil): %v", st)
	}
}

// TestHandlerCookies drives the full path: the reply carries a server
// cookie, a valid one is echoed, an altered one is replaced, a malformed
// option gets FORMERR, and the metric counts each.
func TestHandlerCookies(t *testing.T) {
	f := wwwAnswerer()
	reg := prometheus.NewRegistry()
	h := newHandler(loaderOf(f), Options{Registerer: reg, Cookies: NewCookies([]CookieSecret{mustSecret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")})}.withDefaults(), newMetrics(reg))
	ask := func(cookie string) *mdns.Msg {
		t.Helper()
		q := withEDNS(query("www."+zone, mdns.TypeA), 1232)
		if cookie != "" {
			q.IsEdns0().Option = append(q.IsEdns0().Option, &mdns.EDNS0_LOCAL{Code: mdns.EDNS0COOKIE, Data: mustHex(t, cookie)})
		}
		return exchange(t, h, q, udpWriter())
	}
	got := func(m *mdns.Msg) string {
		for _, o := range m.IsEdns0().Option {
			if c, ok := o.(*mdns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
		return ""
	}

	m := ask("0102030405060708")
	server := got(m)
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 || len(server) != 48 || server[:16] != "0102030405060708" || server[16:18] != "01" {
		t.Fatalf("client-only query: cookie %q reply %v", server, m)
	}
	if m := ask(server); got(m) != server || len(m.Answer) != 1 {
		t.Fatalf("valid cookie not echoed: %q, reply %v", got(m), m)
	}
	altered := server[:46] + "00"
	if altered == server {
		altered = server[:46] + "01"
	}
	if m := ask(altered); got(m) != server || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("altered cookie: want a normal answer with a fresh cookie %q, got %q, reply %v", server, got(m), m)
	}
	if m := ask("01020304050607"); m.Rcode != mdns.RcodeFormatError || len(m.Answer) != 0 || got(m) != "" {
		t.Fatalf("7-byte cookie: %v", m)
	}
	if m := ask(""); got(m) != "" {
		t.Fatalf("no cookie asked, one given: %v", m)
	}
	for status, want := range map[string]float64{"client_only": 1, "valid": 1, "bad": 1, "malformed": 1} {
		if v := testutil.ToFloat64(h.cookieC[indexOf(cookieStatusNames[:], status)]); v != want {
			t.Errorf("gslbd_dns_cookies_total{result=%q} = %v, want %v", status, v, want)
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	panic(s)
}

// TestNSID: an NSID request is answered with the node name; no request,
// no NSID.
func TestNSID(t *testing.T) {
	h, _ := newTestHandler(loaderOf(wwwAnswerer()), Options{})
	q := withEDNS(query("www."+zone, mdns.TypeA), 1232, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
	m := exchange(t, h, q, udpWriter())
	var nsid string
	for _, o := range m.IsEdns0().Option {
		if n, ok := o.(*mdns.EDNS0_NSID); ok {
			nsid = n.Nsid
		}
	}
	if nsid != hex.EncodeToString([]byte("node-a")) {
		t.Fatalf("NSID = %q in %v", nsid, m)
	}
	m = exchange(t, h, withEDNS(query("www."+zone, mdns.TypeA), 1232), udpWriter())
	if len(m.IsEdns0().Option) != 0 {
		t.Fatalf("NSID not asked for: %v", m)
	}
}

func BenchmarkCookieCheckValid(b *testing.B) {
	c := NewCookies([]CookieSecret{mustSecret(b, "e5e973e5a6b2a43f48e7dc849e37bfcf")})
	src := netip.MustParseAddr("198.51.100.100")
	now := uint32(time.Now().Unix())
	ck := c.appendCookie(nil, mustHex(b, "2464c4abcf10c957"), src, now)
	b.ReportAllocs()
	for b.Loop() {
		if st, _ := c.check(ck, src, now); st != cookieValid {
			b.Fatal(st)
		}
	}
}

func BenchmarkCookieIssue(b *testing.B) {
	c := NewCookies(nil)
	src := netip.MustParseAddr("2001:db8::1")
	client := mustHex(b, "2464c4abcf10c957")
	var buf [cookieClientLen + cookieServerLen]byte
	b.ReportAllocs()
	for b.Loop() {
		_ = c.appendCookie(buf[:0], client, src, 1559731985)
	}
}

// TestCookieCoarseClock: while Run runs, cookies use its clock (whole
// seconds, close to time.Now); once it stops, time.Now again.
func TestCookieCoarseClock(t *testing.T) {
	c := NewCookies(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for c.coarse.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start its clock")
		}
		time.Sleep(time.Millisecond)
	}
	if d := int64(c.clock()) - time.Now().Unix(); d < -2 || d > 2 {
		t.Fatalf("coarse clock %d is %ds from time.Now", c.clock(), d)
	}
	// It ticks on: the next second comes without a query asking for it.
	first := c.coarse.Load()
	for c.coarse.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("the coarse clock did not advance")
		}
		time.Sleep(time.Millisecond)
	}
	if got, now := c.coarse.Load(), uint32(time.Now().Unix()); got <= first || got > now {
		t.Fatalf("coarse clock went from %d to %d (time.Now %d)", first, got, now)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.coarse.Load() != 0 {
		t.Fatal("clock still set after Run returned")
	}
	if d := int64(c.clock()) - time.Now().Unix(); d < -1 || d > 1 {
		t.Fatalf("clock without Run %d is %ds from time.Now", c.clock(), d)
	}
}

// TestUntilNextSecond: the coarse clocks wake just past each whole
// second, wherever in the second they read the time, and a wake-up a hair
// early sleeps only the rest of the second.
func TestUntilNextSecond(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ns := range []int{0, 1, 400_000_000, 999_000_000, 999_999_999} {
		now := base.Add(time.Duration(ns))
		d := untilNextSecond(now)
		if wake := now.Add(d); wake.Unix() != now.Unix()+1 || wake.Sub(base.Add(time.Second)) != coarseClockSlack {
			t.Errorf("at +%dns: sleeps %v, wakes at %v", ns, d, wake)
		}
	}
}
