package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

// fakeAnswerer stands in for a *gslb.Snapshot: it returns canned answers
// and records what it was asked.
type fakeAnswerer struct {
	answer  func(gslb.Question, gslb.Client) (gslb.Answer, error)
	node    string
	version string

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	q gslb.Question
	c gslb.Client
}

func (f *fakeAnswerer) Answer(q gslb.Question, c gslb.Client) (gslb.Answer, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{q, c})
	f.mu.Unlock()
	if f.answer == nil {
		return gslb.Answer{}, gslb.ErrNotAuthoritative
	}
	return f.answer(q, c)
}

func (f *fakeAnswerer) NodeName() string    { return f.node }
func (f *fakeAnswerer) VersionBind() string { return f.version }

func (f *fakeAnswerer) lastCall(t *testing.T) fakeCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("Answer was not called")
	}
	return f.calls[len(f.calls)-1]
}

// canned returns the same answer and error for every question.
func canned(a gslb.Answer, err error) func(gslb.Question, gslb.Client) (gslb.Answer, error) {
	return func(gslb.Question, gslb.Client) (gslb.Answer, error) { return a, err }
}

func loaderOf(a Answerer) func() Answerer { return func() Answerer { return a } }

// fakeWriter is an in-memory ResponseWriter; remote decides the transport.
type fakeWriter struct {
	remote net.Addr
	out    [][]byte
}

func udpWriter() *fakeWriter {
	return &fakeWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
}

func tcpWriter() *fakeWriter {
	return &fakeWriter{remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
}

func (w *fakeWriter) LocalAddr() net.Addr {
	if _, ok := w.remote.(*net.TCPAddr); ok {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *fakeWriter) RemoteAddr() net.Addr { return w.remote }
func (w *fakeWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *fakeWriter) Write(b []byte) (int, error) {
	w.out = append(w.out, append([]byte(nil), b...))
	return len(b), nil
}
func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return nil }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}

// serveRaw feeds one packet through the path the miekg server takes
// (server.go serveDNS): header, our accept func, unpack (FORMERR on
// failure, after our invalid func), then the handler.
func serveRaw(h *handler, raw []byte, w *fakeWriter) {
	proto := protoOf(w)
	if len(raw) < headerSize {
		invalidFunc(h.m, proto)(raw, mdns.ErrShortRead)
		return
	}
	dh := mdns.Header{
		Id:      binary.BigEndian.Uint16(raw[0:]),
		Bits:    binary.BigEndian.Uint16(raw[2:]),
		Qdcount: binary.BigEndian.Uint16(raw[4:]),
		Ancount: binary.BigEndian.Uint16(raw[6:]),
		Nscount: binary.BigEndian.Uint16(raw[8:]),
		Arcount: binary.BigEndian.Uint16(raw[10:]),
	}
	if acceptFunc(h.m)(dh) != mdns.MsgAccept {
		return
	}
	req := new(mdns.Msg)
	if err := req.Unpack(raw); err != nil {
		invalidFunc(h.m, proto)(raw, err)
		resp := &mdns.Msg{}
		resp.Id = dh.Id
		resp.Response = true
		resp.Rcode = mdns.RcodeFormatError
		_ = w.WriteMsg(resp)
		return
	}
	h.ServeDNS(w, req)
}

// newTestHandler builds a handler on its own registry.
func newTestHandler(load func() Answerer, o Options) (*handler, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o = o.withDefaults()
	return newHandler(load, o, newMetrics(reg)), reg
}

// exchange packs req, serves it and unpacks the single reply (nil when
// the handler wrote nothing).
func exchange(t testing.TB, h *handler, req *mdns.Msg, w *fakeWriter) *mdns.Msg {
	t.Helper()
	raw, err := req.Pack()
	if err != nil {
		t.Fatalf("pack query: %v", err)
	}
	return exchangeRaw(t, h, raw, w)
}

func exchangeRaw(t testing.TB, h *handler, raw []byte, w *fakeWriter) *mdns.Msg {
	t.Helper()
	serveRaw(h, raw, w)
	switch len(w.out) {
	case 0:
		return nil
	case 1:
	default:
		t.Fatalf("handler wrote %d replies, want at most 1", len(w.out))
	}
	resp := new(mdns.Msg)
	if err := resp.Unpack(w.out[0]); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return resp
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	m.RecursionDesired = false
	return m
}

func withEDNS(m *mdns.Msg, size uint16, opts ...mdns.EDNS0) *mdns.Msg {
	o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
	o.SetUDPSize(size)
	o.Option = opts
	m.Extra = append(m.Extra, o)
	return m
}

func ecsOption(prefix string) *mdns.EDNS0_SUBNET {
	p := netip.MustParsePrefix(prefix)
	fam := uint16(1)
	if p.Addr().Is6() {
		fam = 2
	}
	return &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: fam,
		SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
}

// rawECS builds an ECS option byte for byte, so tests can send what
// miekg's packer would refuse or fix.
func rawECS(family uint16, source, scope uint8, addr ...byte) *mdns.EDNS0_LOCAL {
	b := make([]byte, 4, 4+len(addr))
	binary.BigEndian.PutUint16(b, family)
	b[2], b[3] = source, scope
	return &mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: append(b, addr...)}
}

func replyECS(t testing.TB, m *mdns.Msg) *mdns.EDNS0_SUBNET {
	t.Helper()
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}

// Records used by the tests. Addresses are documentation ranges: data only.
func aRec(name, addr string) gslb.Record {
	return gslb.Record{Name: name, Type: gslb.TypeA, TTL: 30, Data: gslb.RData{Addr: netip.MustParseAddr(addr)}}
}

func soaRec(zone string) gslb.Record {
	return gslb.Record{Name: zone, Type: gslb.TypeSOA, TTL: 60, Data: gslb.RData{Rare: &gslb.Rare{
		MName: "ns1." + zone, RName: "hostmaster." + zone,
		Serial: 2024010101, Refresh: 3600, Retry: 600, Expire: 86400, Minimum: 60,
	}}}
}

// testHandler is the query handler Server uses, reading src once per
// query and registering the same metrics as NewServer on o.Registerer.
func testHandler(src Source, o Options) mdns.Handler {
	o = o.withDefaults()
	return newHandler(snapshotLoader(src), o, newMetrics(o.Registerer))
}

// benchWorker is a UDP worker for benchmarks that feed its batch buffers
// directly and call handle: its socket exists but is never read.
func benchWorker(b *testing.B, h *handler) *udpWorker {
	b.Helper()
	conn, err := listenUDP("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	w, err := newUDPWorker(h, h.m.newShard(), h.log, conn)
	if err != nil {
		b.Fatal(err)
	}
	return w
}
