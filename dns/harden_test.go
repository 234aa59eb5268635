package dns

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/gslb"
)

// TestTCPPipelinedQueriesPast128 sends 300 queries on one TCP connection
// before reading any reply: miekg closes a connection after 128 queries by
// default, which lost every query pipelined behind the 128th.
func TestTCPPipelinedQueriesPast128(t *testing.T) {
	ts := startServer(t, wwwAnswerer(), Options{})
	conn, err := net.DialTimeout("tcp", ts.tcp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	const n = 300
	var out []byte
	for i := range n {
		q := query("www."+zone, mdns.TypeA)
		q.Id = uint16(1000 + i)
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	seen := map[uint16]bool{}
	for len(seen) < n {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatalf("after %d of %d replies: %v", len(seen), n, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatalf("after %d of %d replies: %v", len(seen), n, err)
		}
		m := new(mdns.Msg)
		if err := m.Unpack(b); err != nil || len(m.Answer) != 1 {
			t.Fatalf("reply %d: %v %v", len(seen), m, err)
		}
		seen[m.Id] = true
	}
}

// bigTXT answers 400 TXT records of 200 bytes each: about 82 KB, more than
// any DNS message can carry.
func bigTXT() *fakeAnswerer {
	return &fakeAnswerer{answer: func(q gslb.Question, _ gslb.Client) (gslb.Answer, error) {
		var rrs []gslb.Record
		for i := range 400 {
			txt := strings.Repeat(string(rune('a'+i%26)), 196) + "-" + string(rune('a'+i/26%26)) + string(rune('a'+i%26)) + "x"
			rrs = append(rrs, gslb.Record{Name: q.Name, Type: gslb.TypeTXT, TTL: 30, Data: gslb.RData{Rare: &gslb.Rare{Text: []string{txt}}}})
		}
		return gslb.Answer{Zone: zone, Authoritative: true, Answer: rrs}, nil
	}}
}

// TestTCPOversizeRRsetIsServfail: over TCP an RRset too large for one
// message went out cut to what fitted, without any sign that records were
// missing. It is SERVFAIL now; UDP still truncates with TC set.
func TestTCPOversizeRRsetIsServfail(t *testing.T) {
	ts := startServer(t, bigTXT(), Options{})
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	m, _, err := c.Exchange(withEDNS(query("big."+zone, mdns.TypeTXT), 1232), ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rcode != mdns.RcodeServerFailure || len(m.Answer) != 0 {
		t.Fatalf("TCP reply: rcode %s with %d of 400 records, want SERVFAIL with none",
			mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	if m.IsEdns0() == nil {
		t.Error("SERVFAIL lost the OPT record")
	}
	if got := counterValue(t, ts.s.o.Registerer.(*prometheus.Registry), "gslbd_dns_tcp_oversize_total", "", ""); got != 1 {
		t.Errorf("gslbd_dns_tcp_oversize_total = %v, want 1", got)
	}

	u := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	m, _, err = u.Exchange(withEDNS(query("big."+zone, mdns.TypeTXT), 1232), ts.udp)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated {
		t.Errorf("UDP reply not truncated: %d records", len(m.Answer))
	}
}

// TestTCPOversizeOnlyGlueDropped: losing only additional records over TCP
// still answers, without TC.
func TestTCPOversizeOnlyGlueDropped(t *testing.T) {
	h, _ := newTestHandler(loaderOf(&fakeAnswerer{answer: func(q gslb.Question, _ gslb.Client) (gslb.Answer, error) {
		a := gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec(q.Name, "192.0.2.1")}}
		for i := range 400 {
			txt := strings.Repeat("g", 190) + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
			a.Additional = append(a.Additional, gslb.Record{Name: "x." + zone, Type: gslb.TypeTXT, TTL: 30, Data: gslb.RData{Rare: &gslb.Rare{Text: []string{txt}}}})
		}
		return a, nil
	}}), Options{})
	m := exchange(t, h, query("www."+zone, mdns.TypeA), tcpWriter())
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 || m.Truncated {
		t.Fatalf("reply: rcode %s, %d answers, TC %t; want NOERROR, 1, no TC",
			mdns.RcodeToString[m.Rcode], len(m.Answer), m.Truncated)
	}
}

// TestTCPConnectionCap: idle TCP connections past the per-source cap are
// closed at accept, while UDP and the kept connections keep answering.
func TestTCPConnectionCap(t *testing.T) {
	ts := startServer(t, wwwAnswerer(), Options{TCPLimits: connlimit.Limits{Total: 8, PerSource: 3}})
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	var kept []*mdns.Conn
	defer func() {
		for _, k := range kept {
			k.Close()
		}
	}()
	for i := range 3 {
		conn, err := c.Dial(ts.tcp)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, conn)
		if _, _, err := c.ExchangeWithConn(query("www."+zone, mdns.TypeA), conn); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	// The refusal is a reset, which may already fail the dial.
	if over, err := c.Dial(ts.tcp); err == nil {
		_, _, err = c.ExchangeWithConn(query("www."+zone, mdns.TypeA), over)
		over.Close()
		if err == nil {
			t.Fatal("4th connection from one source answered past the per-source cap of 3")
		}
	}
	for i, k := range kept {
		if _, _, err := c.ExchangeWithConn(query("www."+zone, mdns.TypeA), k); err != nil {
			t.Fatalf("kept connection %d stopped answering: %v", i, err)
		}
	}
	u := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	if _, _, err := u.Exchange(query("www."+zone, mdns.TypeA), ts.udp); err != nil {
		t.Fatalf("UDP while TCP is at its cap: %v", err)
	}
	if ts.s.lim.Open() != 3 {
		t.Errorf("open TCP connections = %d, want 3", ts.s.lim.Open())
	}
}

// TestUDPReceiveDropsMetric: datagrams the kernel drops on a full receive
// buffer never reach the server, and were counted nowhere. A socket that
// is bound but not read (Listen without Serve) fills up; the drops show
// in gslbd_dns_udp_receive_drops_total.
func TestUDPReceiveDropsMetric(t *testing.T) {
	if _, err := os.Stat("/proc/net/udp"); err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	reg := prometheus.NewRegistry()
	s, err := newServer(Options{Addrs: []string{"127.0.0.1:0"}, Registerer: reg}, loaderOf(wwwAnswerer()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("udp", s.UDPAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, _ := query("www."+zone, mdns.TypeA).Pack()
	deadline := time.Now().Add(20 * time.Second)
	sent := 0
	for counterValue(t, reg, "gslbd_dns_udp_receive_drops_total", "", "") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no drops counted after %d datagrams to an unread socket", sent)
		}
		for range 2000 {
			_, _ = c.Write(q)
			sent++
		}
	}
	t.Logf("drops counted after %d datagrams", sent)
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:0035":                         "127.0.0.1:53",
		"00000000:14E9":                         "0.0.0.0:5353",
		"00000000000000000000000001000000:0035": "[::1]:53",
	} {
		got, ok := parseProcAddr(in)
		if !ok || got.String() != want {
			t.Errorf("parseProcAddr(%q) = %v %t, want %s", in, got, ok, want)
		}
	}
}
