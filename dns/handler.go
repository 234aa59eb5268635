package dns

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/gslb"
)

// Source yields the current Snapshot; *gslb.Store implements it. Load may
// return nil before the first Snapshot is published: queries then get
// SERVFAIL.
type Source interface{ Load() *gslb.Snapshot }

// Answerer is what one query needs from a Snapshot. *gslb.Snapshot
// provides it; tests substitute fakes.
type Answerer interface {
	// Answer answers one question for one client; see gslb's sentinel errors.
	Answer(gslb.Question, gslb.Client) (gslb.Answer, error)
	// NodeName is the node's name, answered to CHAOS id.server/hostname.bind.
	NodeName() string
	// VersionBind is the text for CHAOS version.bind; "" refuses it.
	VersionBind() string
}

// snapshotLoader adapts a Source. A nil *gslb.Snapshot must become a nil
// Answerer, not a non-nil interface holding a nil pointer.
func snapshotLoader(src Source) func() Answerer {
	return func() Answerer {
		if src == nil {
			return nil
		}
		s := src.Load()
		if s == nil {
			return nil
		}
		return s
	}
}

// *gslb.Snapshot is the production Answerer.
var _ Answerer = (*gslb.Snapshot)(nil)

// handler answers queries. It is stateless apart from its configuration
// and metrics, so one value serves every socket concurrently.
type handler struct {
	load    func() Answerer
	udpSize uint16
	log     *zap.Logger
	m       *metrics
	rrl     *RRL // nil: no rate limiting
	cookies *Cookies
	cookieC cookieCounters
	names   *nameSeries
}

func newHandler(load func() Answerer, o Options, m *metrics) *handler {
	return &handler{load: load, udpSize: o.UDPSize, log: o.Logger, m: m,
		rrl: o.RRL, cookies: o.Cookies, cookieC: newCookieCounters(o.Registerer), names: newNameSeries(o.AnswerMetricNames)}
}

// ServeDNS is the one request path: respond builds the reply, limit
// (RRL, UDP only) may drop it or slip a short one instead, write
// truncates and writes it once. A panic anywhere in it is recovered here,
// answered SERVFAIL and counted.
func (h *handler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	start := time.Now()
	proto := protoOf(w)
	defer func() {
		if p := recover(); p != nil {
			h.m.shared.panics.Add(1)
			h.log.Error("dns handler panic", zap.Any("panic", p), zap.Stack("stack"))
			h.writeAfterPanic(w, req, proto, start)
		}
	}()
	src := remoteAddr(w)
	resp, ck := h.respond(req, src, proto == protoUDP)
	if resp == nil {
		h.m.shared.dropped[dropResponseIdx].Add(1)
		return
	}
	// Rate limiting: UDP only (a TCP client proved its address), and never
	// for a client that returned a valid server cookie.
	if h.rrl != nil && proto == protoUDP && ck != cookieValid {
		if resp = h.limit(req, resp, src, ck, start); resp == nil {
			return // counted in gslbd_dns_rrl_limited_total
		}
	}
	h.write(w, req, resp, proto, start)
}

// writeAfterPanic answers SERVFAIL; a second panic (in the writer) is
// swallowed so that one bad packet can never take the process down.
func (h *handler) writeAfterPanic(w mdns.ResponseWriter, req *mdns.Msg, proto string, start time.Time) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("dns handler panic while answering SERVFAIL", zap.Any("panic", p))
		}
	}()
	if req == nil || req.Response {
		return
	}
	h.write(w, req, reply(req, mdns.RcodeServerFailure), proto, start)
}

// respond turns a request into its reply, or nil when no reply may be sent,
// and says what the query's DNS cookie showed. src is the socket's remote
// address (invalid when unknown); udp says the query came over UDP.
func (h *handler) respond(req *mdns.Msg, src netip.Addr, udp bool) (*mdns.Msg, cookieStatus) {
	if req.Response {
		return nil, cookieNone
	}
	if req.Opcode != mdns.OpcodeQuery {
		return reply(req, mdns.RcodeNotImplemented), cookieNone
	}
	if len(req.Question) != 1 {
		return reply(req, mdns.RcodeFormatError), cookieNone
	}
	resp := reply(req, mdns.RcodeSuccess)

	opt, nopt := findOPT(req)
	if nopt > 1 { // RFC 6891 §6.1.1
		resp.Rcode = mdns.RcodeFormatError
		return resp, cookieNone
	}
	var ours *mdns.OPT
	var ck cookieQuery
	if opt != nil {
		ours = h.newOPT()
		resp.Extra = append(resp.Extra, ours)
		if opt.Version() != 0 { // RFC 6891 §6.1.3
			resp.Rcode = mdns.RcodeBadVers
			return resp, cookieNone
		}
		ck = h.readCookie(opt, src)
		h.cookieC.count(ck.status)
		switch ck.status {
		case cookieMalformed: // RFC 7873 §5.2.2
			resp.Rcode = mdns.RcodeFormatError
			return resp, ck.status
		case cookieNone:
		default:
			ours.Option = append(ours.Option, h.replyCookie(&ck, src))
			if udp && ck.status != cookieValid && h.cookies.required() {
				// RFC 7873 §5.2.3-4: the client retries with the fresh cookie.
				resp.Rcode = mdns.RcodeBadCookie
				return resp, ck.status
			}
		}
	}
	h.answer(req, resp, opt, ours, src)
	return resp, ck.status
}

// answer fills resp for the one question of req; opt and ours are the
// query's and the reply's OPT (nil without EDNS).
func (h *handler) answer(req, resp *mdns.Msg, opt, ours *mdns.OPT, src netip.Addr) {
	ecs, err := findECS(opt)
	if err != nil {
		resp.Rcode = mdns.RcodeFormatError
		return
	}

	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassCHAOS {
		resp.Rcode = mdns.RcodeRefused
		return
	}
	a := h.load()
	if a == nil { // nothing published yet
		resp.Rcode = mdns.RcodeServerFailure
		return
	}
	if opt != nil && a.NodeName() != "" && wantsNSID(opt) {
		ours.Option = append(ours.Option, nsidOption(a.NodeName()))
	}
	if q.Qclass == mdns.ClassCHAOS {
		chaos(resp, q, a)
		return
	}

	client := gslb.Client{Addr: src, SourcePrefix: src.BitLen()}
	if ecs != nil {
		client = ecs.client()
	}
	ans, err := a.Answer(gslb.Question{Name: q.Name, Type: q.Qtype}, client)
	h.fill(resp, q, ans, err)
	if err == nil && ans.Region != "" {
		h.m.shared.answer(h.names.label(ans.GSLBName), ans.Region)
	}
	if ecs != nil {
		ours.Option = append(ours.Option, ecs.reply(ans.Scope))
	}
}

// fill maps an Answer and its error onto the reply: this is the one place
// where gslb's sentinel errors become rcodes.
func (h *handler) fill(resp *mdns.Msg, q mdns.Question, ans gslb.Answer, err error) {
	o, known := outcomeOf(err)
	if !known {
		h.log.Warn("dns answer failed", zap.String("name", q.Name),
			zap.String("qtype", mdns.Type(q.Qtype).String()), zap.Error(err))
		resp.Rcode = mdns.RcodeServerFailure
		return
	}
	resp.Rcode = o.rcode
	if err == nil {
		resp.Authoritative = ans.Authoritative // false for referrals
	} else {
		resp.Authoritative = o.aa
	}
	if !o.records {
		return
	}
	var cerr error
	if resp.Answer, cerr = toRRs(ans.Answer, resp.Answer); cerr == nil {
		if resp.Ns, cerr = toRRs(ans.Authority, resp.Ns); cerr == nil {
			resp.Extra, cerr = toRRs(ans.Additional, resp.Extra)
		}
	}
	if cerr != nil {
		h.log.Warn("dns answer has a bad record", zap.String("name", q.Name),
			zap.String("qtype", mdns.Type(q.Qtype).String()), zap.Error(cerr))
		resp.Answer, resp.Ns = nil, nil
		resp.Extra = keepOPT(resp.Extra)
		resp.Authoritative = false
		resp.Rcode = mdns.RcodeServerFailure
	}
}

// outcome is how an Answer's error shapes the reply.
type outcome struct {
	rcode   int
	aa      bool // for errors; a positive answer says itself
	records bool // the Answer's records go into the reply
}

// outcomeOf maps gslb's sentinel errors to rcodes: the one mapping both
// the full path (fill) and the UDP fast path use. known is false for an
// unexpected error (the full path logs it and answers SERVFAIL).
func outcomeOf(err error) (o outcome, known bool) {
	switch {
	case err == nil:
		return outcome{rcode: mdns.RcodeSuccess, records: true}, true
	case errors.Is(err, gslb.ErrNoSuchName):
		return outcome{rcode: mdns.RcodeNameError, aa: true, records: true}, true
	case errors.Is(err, gslb.ErrNoData):
		return outcome{rcode: mdns.RcodeSuccess, aa: true, records: true}, true
	case errors.Is(err, gslb.ErrNotAuthoritative), errors.Is(err, gslb.ErrRefused):
		return outcome{rcode: mdns.RcodeRefused}, true
	case errors.Is(err, gslb.ErrNoReadyEndpoint), errors.Is(err, gslb.ErrUnavailable):
		// SERVFAIL makes resolvers ask another of the zone's name servers:
		// nothing is ready, or this node cannot vouch for the answer now
		// (no view yet at start-up, or a write name without quorum).
		return outcome{rcode: mdns.RcodeServerFailure}, true
	}
	return outcome{}, false
}

// write truncates resp to what the transport allows, packs it and writes
// it once. A reply that cannot be packed becomes SERVFAIL.
func (h *handler) write(w mdns.ResponseWriter, req, resp *mdns.Msg, proto string, start time.Time) {
	size := mdns.MaxMsgSize
	if proto == protoUDP {
		size = h.udpLimit(req)
	}
	nAns, nNs := len(resp.Answer), len(resp.Ns)
	resp.Truncate(size)
	if resp.Truncated && proto == protoUDP {
		h.m.shared.truncated.Add(1)
	}
	if resp.Truncated && proto != protoUDP {
		resp = h.tcpTooLarge(req, resp, nAns, nNs)
	}
	pb := packBufs.Get().(*[]byte)
	defer putPackBuf(pb)
	buf, err := resp.PackBuffer(*pb)
	if err != nil {
		h.log.Warn("dns reply cannot be packed", zap.Error(err))
		resp = reply(req, mdns.RcodeServerFailure)
		if buf, err = resp.Pack(); err != nil {
			h.m.shared.dropped[dropPackIdx].Add(1)
			return
		}
	}
	if _, err := w.Write(buf); err != nil {
		h.log.Debug("dns reply not written", zap.String("proto", proto), zap.Error(err))
	}
	h.m.shared.count(protoIndex(proto), req, resp.Rcode)
	h.m.shared.observe(time.Since(start))
}

// packBufs holds reply buffers: writers (miekg's UDP and TCP ones) do
// not keep the slice after Write returns, so one buffer serves query
// after query instead of one allocation per reply.
var packBufs = sync.Pool{New: func() any {
	b := make([]byte, packBufSize)
	return &b
}}

// packBufSize fits any UDP reply we send (UDPSize is at most 4096 in
// practice); larger TCP replies get a buffer of their own.
const packBufSize = 4096

func putPackBuf(b *[]byte) {
	if cap(*b) == packBufSize {
		packBufs.Put(b)
	}
}

// udpLimit is the largest UDP reply the client accepts: 512 without EDNS,
// else its advertised size, but never above our own UDPSize (large UDP
// replies fragment; DNS flag day 2020) nor below 512 (RFC 6891 §6.2.3).
func (h *handler) udpLimit(req *mdns.Msg) int {
	opt, _ := findOPT(req)
	if opt == nil {
		return mdns.MinMsgSize
	}
	n := min(opt.UDPSize(), h.udpSize)
	return max(int(n), mdns.MinMsgSize)
}

// newOPT is our OPT record: our UDP size, version 0, no flags (DO is not
// set: we do not sign), no options unless ECS is echoed.
func (h *handler) newOPT() *mdns.OPT {
	o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
	o.SetUDPSize(h.udpSize)
	return o
}

// reply starts a reply to req with the question echoed exactly as sent.
func reply(req *mdns.Msg, rcode int) *mdns.Msg {
	resp := &mdns.Msg{}
	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Rcode = rcode
	if len(req.Question) == 1 {
		resp.Question = req.Question
	}
	return resp
}

// findOPT returns the request's OPT record and how many it has.
func findOPT(req *mdns.Msg) (*mdns.OPT, int) {
	var opt *mdns.OPT
	n := 0
	for _, rr := range req.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

func keepOPT(extra []mdns.RR) []mdns.RR {
	for _, rr := range extra {
		if o, ok := rr.(*mdns.OPT); ok {
			return []mdns.RR{o}
		}
	}
	return nil
}

// CHAOS names (RFC 4892 and BIND's conventions).
const (
	chaosIDServer     = "id.server."
	chaosHostnameBind = "hostname.bind."
	chaosVersionBind  = "version.bind."
	chaosVersionSrv   = "version.server."
)

// chaos answers a CHAOS-class query: TXT for the node name or version,
// REFUSED for anything else or when the text is not configured.
func chaos(resp *mdns.Msg, q mdns.Question, a Answerer) {
	text := ""
	if q.Qtype == mdns.TypeTXT || q.Qtype == mdns.TypeANY {
		switch {
		case strings.EqualFold(q.Name, chaosIDServer), strings.EqualFold(q.Name, chaosHostnameBind):
			text = a.NodeName()
		case strings.EqualFold(q.Name, chaosVersionBind), strings.EqualFold(q.Name, chaosVersionSrv):
			text = a.VersionBind()
		}
	}
	if text == "" {
		resp.Rcode = mdns.RcodeRefused
		return
	}
	resp.Authoritative = true
	resp.Answer = append(resp.Answer, &mdns.TXT{
		Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassCHAOS},
		Txt: splitTXT([]string{text}),
	})
}

const (
	protoUDP = "udp"
	protoTCP = "tcp"
)

func protoOf(w mdns.ResponseWriter) string {
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		return protoTCP
	}
	return protoUDP
}

// remoteAddr is the client's socket address, IPv4-mapped IPv6 unmapped so
// a dual-stack socket reports IPv4 clients as IPv4 (/32).
func remoteAddr(w mdns.ResponseWriter) netip.Addr {
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}
