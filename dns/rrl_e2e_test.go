package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// flood sends n copies of query from one UDP socket, paced over about
// span, and returns every reply that arrives until the server has been
// quiet for a moment (bounded by a deadline).
func flood(t *testing.T, addr string, query []byte, n int, span time.Duration) (replies [][]byte) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(4 << 20)
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan [][]byte, 1)
	go func() {
		var out [][]byte
		buf := make([]byte, 65535)
		for {
			// A reply comes within this of the last one unless the
			// server is done; the whole read is bounded by the count.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, err := conn.Read(buf)
			if err != nil || len(out) >= n {
				got <- out
				return
			}
			out = append(out, append([]byte(nil), buf[:k]...))
		}
	}()
	start := time.Now()
	const batch = 20
	for i := range n {
		if _, err := conn.WriteToUDP(query, dst); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if i%batch == batch-1 { // pace: query i leaves at about i/n of span
			if d := time.Until(start.Add(span * time.Duration(i) / time.Duration(n))); d > 0 {
				time.Sleep(d)
			}
		}
	}
	select {
	case out := <-got:
		return out
	case <-time.After(time.Minute):
		t.Fatal("reader did not finish")
		return nil
	}
}

func packQuery(t *testing.T, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type replyCounts struct{ full, tc, badcookie, other int }

func countReplies(t *testing.T, replies [][]byte) (c replyCounts) {
	t.Helper()
	for _, b := range replies {
		m := new(mdns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("bad reply: %v", err)
		}
		switch {
		case m.Rcode == mdns.RcodeBadCookie:
			c.badcookie++
		case m.Truncated && len(m.Answer) == 0:
			c.tc++
		case m.Rcode == mdns.RcodeSuccess && len(m.Answer) == 1:
			c.full++
		default:
			c.other++
		}
	}
	return c
}

// TestRRLEndToEnd is the scenario over real sockets: 1,000
// identical queries from one source in one second with
// responses_per_second 10 and slip 2 get about 10 full answers and TC for
// half the rest; TCP, and a client with a valid server cookie, are not
// limited even while the prefix is.
func TestRRLEndToEnd(t *testing.T) {
	c := testRRLConfig()
	c.ResponsesPerSecond, c.Window, c.Slip = 10, 15*time.Second, 2
	r, reg, logs := newTestRRL(t, c)
	ts := startServer(t, wwwAnswerer(), Options{RRL: r})

	q := packQuery(t, withEDNS(query("www."+zone, mdns.TypeA), 1232))
	cnt := countReplies(t, flood(t, ts.udp, q, 1000, time.Second))
	t.Logf("1000 queries in 1s: %d full answers, %d TC, %d other", cnt.full, cnt.tc, cnt.other)
	// 10 a second; a second boundary in the first few queries may add a few.
	if cnt.full < 10 || cnt.full > 20 || cnt.other != 0 {
		t.Errorf("full answers = %d (other %d), want 10..20", cnt.full, cnt.other)
	}
	// The kernel may drop a few queries when the server is descheduled on
	// a loaded machine: judge the slip ratio by what the server counted.
	slipped := int(testutil.ToFloat64(r.limitedC[rrlResponse][1]))
	dropped := int(testutil.ToFloat64(r.limitedC[rrlResponse][0]))
	if seen := slipped + dropped + cnt.full; seen < 900 || seen > 1000 {
		t.Errorf("server saw %d of 1000 queries", seen)
	}
	if limited := slipped + dropped; slipped < limited/2-1 || slipped > limited/2+1 || cnt.tc != slipped {
		t.Errorf("TC replies: client saw %d, server slipped %d of %d limited; want half", cnt.tc, slipped, limited)
	}
	if n, _ := testutil.GatherAndCount(reg, "gslbd_dns_rrl_limited_total"); n == 0 {
		t.Error("no gslbd_dns_rrl_limited_total series")
	}
	if logs.FilterMessage("rate limiting started").Len() != 1 {
		t.Errorf("want one start line, got %v", logs.All())
	}

	t.Run("TCP not limited", func(t *testing.T) {
		cl := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
		conn, err := cl.Dial(ts.tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range 50 {
			m, _, err := cl.ExchangeWithConn(query("www."+zone, mdns.TypeA), conn)
			if err != nil || m.Truncated || len(m.Answer) != 1 {
				t.Fatalf("TCP query %d: %v %v", i, m, err)
			}
		}
	})

	t.Run("valid cookie not limited", func(t *testing.T) {
		// Learn the server cookie over TCP: over UDP the prefix is limited.
		cq := withEDNS(query("www."+zone, mdns.TypeA), 1232,
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0a0b0c0d0e0f1011"})
		m, _, err := (&mdns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(cq, ts.tcp)
		if err != nil {
			t.Fatal(err)
		}
		cookie := replyCookieHex(m)
		if len(cookie) != 48 {
			t.Fatalf("no server cookie over TCP: %v", m)
		}
		valid := packQuery(t, withEDNS(query("www."+zone, mdns.TypeA), 1232,
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: cookie}))
		// Every reply is a full answer (a loaded kernel may lose a query).
		if got := countReplies(t, flood(t, ts.udp, valid, 200, 200*time.Millisecond)); got.full < 190 || got.tc+got.badcookie+got.other != 0 {
			t.Fatalf("valid cookie over UDP: %+v, want 200 full answers", got)
		}

		// Altered, the cookie buys nothing: limited replies slip as
		// BADCOOKIE (with a fresh cookie), never as answers.
		altered := cookie[:46] + flipHex(cookie[46:])
		bad := packQuery(t, withEDNS(query("www."+zone, mdns.TypeA), 1232,
			&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: altered}))
		got := countReplies(t, flood(t, ts.udp, bad, 100, 100*time.Millisecond))
		if got.full != 0 || got.badcookie < 40 || got.badcookie > 50 {
			t.Fatalf("altered cookie over UDP: %+v, want ~50 BADCOOKIE and no answers", got)
		}
	})
}

func replyCookieHex(m *mdns.Msg) string {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if c, ok := e.(*mdns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}

// TestRRLAmplification measures reply bytes out per query byte in for a
// one-source flood, RRL off and on (responses_per_second 10, slip 2).
func TestRRLAmplification(t *testing.T) {
	if testing.Short() {
		t.Skip("flood in -short mode")
	}
	q := packQuery(t, withEDNS(query("www."+zone, mdns.TypeA), 1232))
	const n = 2000
	factor := func(o Options) float64 {
		ts := startServer(t, wwwAnswerer(), o)
		out := 0
		replies := flood(t, ts.udp, q, n, 2*time.Second)
		for _, b := range replies {
			out += len(b)
		}
		in := n * len(q)
		t.Logf("RRL %v: %d queries, %d bytes in, %d replies, %d bytes out: factor %.3f",
			o.RRL != nil, n, in, len(replies), out, float64(out)/float64(in))
		return float64(out) / float64(in)
	}
	off := factor(Options{})
	c := testRRLConfig()
	c.ResponsesPerSecond, c.Window, c.Slip = 10, 15*time.Second, 2
	r, _, _ := newTestRRL(t, c)
	on := factor(Options{RRL: r})
	if off < 1 || on > off/2 {
		t.Errorf("amplification off %.3f, on %.3f: want RRL to halve it at least", off, on)
	}
	c.Slip = 0
	r0, _, _ := newTestRRL(t, c)
	if drop := factor(Options{RRL: r0}); drop > 0.05 {
		t.Errorf("amplification with slip 0 is %.3f, want about 0", drop)
	}

	// A flood whose queries carry a client cookie (a spoofer can send
	// one, never the victim's server cookie): slipped replies are
	// BADCOOKIE with a fresh cookie, and with cookies.require every reply
	// is one, as small as an answer can be.
	q = packQuery(t, withEDNS(query("www."+zone, mdns.TypeA), 1232, cookieOpt([]byte("spoofed!"))))
	c.Slip = 2
	rc, _, _ := newTestRRL(t, c)
	offC := factor(Options{})
	onC := factor(Options{RRL: rc})
	require := NewCookies(nil)
	require.SetRequire(true)
	reqC := factor(Options{Cookies: require})
	t.Logf("with a client cookie: RRL off %.3f, RRL on %.3f, cookies.require %.3f", offC, onC, reqC)
	if onC > offC/2 || reqC > offC*3/4 {
		t.Errorf("amplification with client cookies: off %.3f, RRL on %.3f, require %.3f: want both well under off", offC, onC, reqC)
	}
}
