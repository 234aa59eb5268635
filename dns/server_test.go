package dns

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

// testServer is a real Server on 127.0.0.1:0 answering from a fake.
type testServer struct {
	s      *Server
	udp    string
	tcp    string
	cancel context.CancelFunc // stops Serve without waiting
	stop   func() error       // cancels Serve and returns its result
}

func startServer(t *testing.T, a Answerer, o Options) *testServer {
	t.Helper()
	if o.Addrs == nil {
		o.Addrs = []string{"127.0.0.1:0"}
	}
	o.Registerer = prometheus.NewRegistry()
	s, err := newServer(o, loaderOf(a))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(30 * time.Second):
				serveErr = errors.New("Serve did not return within 30s")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{s: s, udp: s.UDPAddrs()[0].String(), tcp: s.TCPAddrs()[0].String(), cancel: cancel, stop: stop}
}

func wwwAnswerer() *fakeAnswerer {
	return &fakeAnswerer{node: "node-a", answer: func(q gslb.Question, c gslb.Client) (gslb.Answer, error) {
		if !strings.EqualFold(q.Name, "www."+zone) {
			return gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soaRec(zone)}}, gslb.ErrNoSuchName
		}
		return gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}, nil
	}}
}

func TestServerUDPAndTCP(t *testing.T) {
	ts := startServer(t, wwwAnswerer(), Options{})
	if ts.udp != ts.tcp {
		t.Errorf("port 0 gave UDP %s and TCP %s; want one port", ts.udp, ts.tcp)
	}
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			c := &mdns.Client{Net: proto, Timeout: 5 * time.Second}
			addr := ts.udp
			if proto == "tcp" {
				addr = ts.tcp
			}
			m, _, err := c.Exchange(query("www."+zone, mdns.TypeA), addr)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rcode != mdns.RcodeSuccess || !m.Authoritative || len(m.Answer) != 1 ||
				m.Answer[0].(*mdns.A).A.String() != "192.0.2.80" {
				t.Fatalf("reply = %v", m)
			}
			m, _, err = c.Exchange(query("nope."+zone, mdns.TypeA), addr)
			if err != nil || m.Rcode != mdns.RcodeNameError || len(m.Ns) != 1 {
				t.Fatalf("reply = %v, %v", m, err)
			}
		})
	}
}

func TestServerTCPSeveralQueriesAndIdleTimeout(t *testing.T) {
	ts := startServer(t, wwwAnswerer(), Options{TCPIdleTimeout: 200 * time.Millisecond})
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	conn, err := c.Dial(ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 5 {
		q := query("www."+zone, mdns.TypeA)
		q.Id = uint16(100 + i)
		m, _, err := c.ExchangeWithConn(q, conn)
		if err != nil {
			t.Fatalf("query %d on one connection: %v", i, err)
		}
		if m.Id != q.Id || len(m.Answer) != 1 {
			t.Fatalf("query %d: reply = %v", i, m)
		}
	}
	// Idle now: the server must close the connection; the read ends
	// with EOF long before this deadline.
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); !errors.Is(err, io.EOF) {
		t.Fatalf("read on an idle connection = %v, want EOF (closed by the server)", err)
	}
}

func TestServerTruncatesUDPNotTCP(t *testing.T) {
	var recs []gslb.Record
	for i := range 100 {
		recs = append(recs, aRec("app."+zone, "192.0.2."+strconv.Itoa(i+1)))
	}
	f := &fakeAnswerer{answer: canned(gslb.Answer{Zone: zone, Authoritative: true, Answer: recs}, nil)}
	ts := startServer(t, f, Options{})
	udp := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	m, _, err := udp.Exchange(query("app."+zone, mdns.TypeA), ts.udp)
	if err != nil || !m.Truncated || len(m.Answer) >= 100 {
		t.Fatalf("UDP reply = %v, %v", m, err)
	}
	tcp := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	m, _, err = tcp.Exchange(query("app."+zone, mdns.TypeA), ts.tcp)
	if err != nil || m.Truncated || len(m.Answer) != 100 {
		t.Fatalf("TCP reply = %v, %v", m, err)
	}
}

func TestServerDropsResponses(t *testing.T) {
	ts := startServer(t, wwwAnswerer(), Options{})
	conn, err := net.Dial("udp", ts.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp := query("www."+zone, mdns.TypeA)
	resp.Response = true
	resp.Id = 1
	raw, _ := resp.Pack()
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	// A normal query after it is answered; the response packet is not.
	q := query("www."+zone, mdns.TypeA)
	q.Id = 2
	raw, _ = q.Pack()
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(buf[:n]); err != nil || m.Id != 2 {
		t.Fatalf("first reply = %v, %v; want the reply to id 2 only", m, err)
	}
}

func TestListenAddressInUse(t *testing.T) {
	t.Run("tcp taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		checkInUse(t, l.Addr().String())
	})
	t.Run("udp taken, tcp released", func(t *testing.T) {
		// A UDP port whose TCP twin is free: otherwise another test's
		// connection on that TCP port would read as a leak.
		var pc net.PacketConn
		for range 20 {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if l, err := net.Listen("tcp", c.LocalAddr().String()); err == nil {
				l.Close()
				pc = c
				break
			}
			c.Close()
		}
		if pc == nil {
			t.Fatal("no UDP port with a free TCP twin in 20 tries")
		}
		defer pc.Close()
		addr := pc.LocalAddr().String()
		checkInUse(t, addr)
		// Listen must have closed the TCP socket it bound before failing.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("TCP socket leaked by the failed Listen: %v", err)
		}
		l.Close()
	})
}

func checkInUse(t *testing.T, addr string) {
	t.Helper()
	s, err := NewServer(Options{Addrs: []string{"127.0.0.1:0", addr}, Source: &gslb.Store{}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Listen()
	if err == nil {
		s.Close()
		t.Fatalf("Listen on %s succeeded while in use", addr)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q does not name %s and the cause", err, addr)
	}
	if len(s.UDPAddrs()) != 0 || len(s.TCPAddrs()) != 0 {
		t.Error("failed Listen kept sockets")
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	cases := map[string]Options{
		"no source":    {Addrs: []string{"127.0.0.1:0"}},
		"no address":   {Source: &gslb.Store{}},
		"no port":      {Addrs: []string{"127.0.0.1"}, Source: &gslb.Store{}},
		"bad port":     {Addrs: []string{"127.0.0.1:99999"}, Source: &gslb.Store{}},
		"textual port": {Addrs: []string{"127.0.0.1:dns"}, Source: &gslb.Store{}},
	}
	for name, o := range cases {
		if _, err := NewServer(o); err == nil {
			t.Errorf("%s: NewServer succeeded", name)
		}
	}
	s, err := NewServer(Options{Addrs: []string{"127.0.0.1:0"}, Source: &gslb.Store{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("Serve before Listen succeeded")
	}
}

// blockingAnswerer blocks every Answer until released.
type blockingAnswerer struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingAnswerer) Answer(q gslb.Question, c gslb.Client) (gslb.Answer, error) {
	select { // never block here: later queries may arrive during the test
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec("www."+zone, "192.0.2.80")}}, nil
}
func (*blockingAnswerer) NodeName() string    { return "" }
func (*blockingAnswerer) VersionBind() string { return "" }

func TestServeGracefulStop(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			b := &blockingAnswerer{entered: make(chan struct{}, 1), release: make(chan struct{})}
			ts := startServer(t, b, Options{})
			type result struct {
				m   *mdns.Msg
				err error
			}
			got := make(chan result, 1)
			go func() {
				c := &mdns.Client{Net: proto, Timeout: 20 * time.Second}
				m, _, err := c.Exchange(query("www."+zone, mdns.TypeA), ts.udp)
				got <- result{m, err}
			}()
			select {
			case <-b.entered:
			case <-time.After(20 * time.Second):
				t.Fatal("query never reached the handler")
			}
			ts.cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- ts.stop() }()
			// Wait until the server stops taking new queries: then the
			// shutdown is under way while the first query is in flight.
			c := &mdns.Client{Net: proto, Timeout: 100 * time.Millisecond}
			for i := 0; ; i++ {
				if _, _, err := c.Exchange(query("www."+zone, mdns.TypeA), ts.udp); err != nil {
					break
				}
				if i == 100 {
					t.Fatal("server kept answering new queries after cancel")
				}
			}
			select {
			case err := <-stopped:
				t.Fatalf("Serve returned (%v) with a query in flight", err)
			case r := <-got:
				t.Fatalf("query finished before release: %v %v", r.m, r.err)
			default:
			}
			close(b.release)
			r := <-got
			if r.err != nil || r.m.Rcode != mdns.RcodeSuccess || len(r.m.Answer) != 1 {
				t.Fatalf("in-flight query: %v, %v", r.m, r.err)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if _, _, err := c.Exchange(query("www."+zone, mdns.TypeA), ts.udp); err == nil {
				t.Error("server still answers after Serve returned")
			}
		})
	}
}

func TestServerCloseWithoutServe(t *testing.T) {
	s, err := NewServer(Options{Addrs: []string{"127.0.0.1:0"}, Source: &gslb.Store{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.TCPAddrs()[0].String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("socket not released by Close: %v", err)
	}
	l.Close()
}

// TestServeLeavesNoGoroutines checks that Serve's goroutines (one per
// socket, one per query or connection) are gone once it returns.
func TestServeLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, wwwAnswerer(), Options{Addrs: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	for _, proto := range []string{"udp", "tcp"} {
		c := &mdns.Client{Net: proto, Timeout: 5 * time.Second}
		if _, _, err := c.Exchange(query("www."+zone, mdns.TypeA), ts.udp); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Serve returned, %d before:\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline, not synchronisation
	}
}
