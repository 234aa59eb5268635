package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestUDPWorkersShareThePort serves one address with several SO_REUSEPORT
// workers: they all bind the first worker's port, every query sent from
// many source ports (which the kernel spreads over the workers) is
// answered, and the metrics sum every worker's shard.
func TestUDPWorkersShareThePort(t *testing.T) {
	const workers, queries = 3, 60
	ts := startServer(t, wwwAnswerer(), Options{UDPWorkers: workers})
	ts.s.mu.Lock()
	socks := ts.s.udp[0]
	ts.s.mu.Unlock()
	if len(socks) != workers && reusePort {
		t.Fatalf("%d UDP sockets, want %d", len(socks), workers)
	}
	for _, pc := range socks {
		if pc.LocalAddr().String() != ts.udp {
			t.Fatalf("worker socket on %s, want %s", pc.LocalAddr(), ts.udp)
		}
	}
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	for i := range queries {
		m, _, err := c.Exchange(query("www."+zone, mdns.TypeA), ts.udp) // a new socket each time
		if err != nil || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
			t.Fatalf("query %d: %v %v", i, m, err)
		}
	}
	reg := ts.s.o.Registerer.(*prometheus.Registry)
	if n := queriesValue(t, reg, "udp", "A", "NOERROR"); n != queries {
		t.Errorf("queries_total{udp,A,NOERROR} = %v, want %d", n, queries)
	}
}

// TestUDPWorkerAnswersIPv6 serves ::1: the batch path reads and answers
// IPv6 source addresses too.
func TestUDPWorkerAnswersIPv6(t *testing.T) {
	if l, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	ts := startServer(t, wwwAnswerer(), Options{Addrs: []string{"[::1]:0"}})
	m, _, err := (&mdns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(
		withEDNS(query("www."+zone, mdns.TypeA), 1232, ecsOption("2001:db8::/48")), ts.udp)
	if err != nil || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("reply %v, %v", m, err)
	}
	if e := replyECS(t, m); e == nil || e.Family != 2 || e.SourceNetmask != 48 {
		t.Fatalf("ECS echo %v", e)
	}
}
