package dns

import (
	"encoding/binary"
	"errors"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

// The UDP fast path answers the common query (one IN question, at most
// one OPT holding at most an ECS and a COOKIE option) straight from and
// to wire bytes:
// no mdns.Msg, no allocation. It calls the same Snapshot.Answer as the
// full path and encodes the records itself. Whenever the query or the
// answer is anything else it declines, and the packet takes the full path
// (handler.ServeDNS through miekg), which stays the one reference: the
// differential fuzz test requires the two to write identical bytes.
//
// The reply is written uncompressed because that is exactly what the full
// path writes for every reply that fits the client's size (miekg's
// Truncate turns compression off then); a reply that does not fit is left
// to the full path, which compresses and truncates. Records are encoded
// from the Answer on each query rather than copied from images packed
// per Snapshot: for the A/AAAA/CNAME/SOA records answered here the
// encoding is a copy of the owner name's labels plus a few fixed fields,
// close to the cost of copying an image, without a second, cached form
// of the data that would need building on every published Snapshot.

// DNS wire constants the fast path needs: miekg/dns's values, so the
// two paths cannot disagree on a code.
const (
	classINET      = mdns.ClassINET
	typeOPT        = mdns.TypeOPT
	typeANY        = mdns.TypeANY
	typeAXFR       = mdns.TypeAXFR
	typeIXFR       = mdns.TypeIXFR
	optionECS      = mdns.EDNS0SUBNET
	optionCookie   = mdns.EDNS0COOKIE
	rcodeBadCookie = mdns.RcodeBadCookie // extended: the high bits go in the OPT
	maxNameLen     = 255                 // wire length of a name, RFC 1035 §2.3.4
	minUDPSize     = 512

	flagQR     = 1 << 15
	flagAA     = 1 << 10
	flagRD     = 1 << 8
	flagCD     = 1 << 4
	opcodeMask = 0xf << 11
)

// wireQuery is a query as the fast path parsed it. The byte slices point
// into the packet or into the struct itself; one value per UDP worker is
// reused for every query.
type wireQuery struct {
	id    uint16
	flags uint16
	// qname is the question's name as sent (wire form); question is the
	// whole question as sent (name, type, class), echoed in the reply.
	question []byte
	qtype    uint16
	// lower is the name's presentation form in lower case, with the
	// trailing dot ("app.gslb.test."); lowerLen bytes of it are used.
	lower    [maxNameLen + 1]byte
	lowerLen int
	edns     bool
	udpSize  uint16 // the client's, when edns
	ecs      bool
	ecsFam   uint16
	ecsNet   netip.Prefix // masked
	// cookie is the COOKIE option's data (nil: none); fastCookie sets
	// what it showed and the reply's option data, in cookieBuf.
	cookie    []byte
	cookieSt  cookieStatus
	cookieOut []byte
	cookieBuf [cookieMaxLen]byte
}

// errDecline marks a query or answer the fast path leaves to the full
// path.
var errDecline = errors.New("dns: left to the full path")

// errRateLimited says RRL dropped the reply: nothing is sent.
var errRateLimited = errors.New("dns: reply dropped by rate limiting")

// parse reads pkt into q; false means the full path must take it
// (it is not a plain IN query, or not well-formed: the full path is the
// one that answers FORMERR and NOTIMP). Responses (QR=1) are the
// caller's business, before this.
func (q *wireQuery) parse(pkt []byte) bool {
	if len(pkt) < headerSize {
		return false
	}
	q.id = binary.BigEndian.Uint16(pkt[0:])
	q.flags = binary.BigEndian.Uint16(pkt[2:])
	if q.flags&(flagQR|opcodeMask) != 0 {
		return false
	}
	qd := binary.BigEndian.Uint16(pkt[4:])
	an := binary.BigEndian.Uint16(pkt[6:])
	ns := binary.BigEndian.Uint16(pkt[8:])
	ar := binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return false
	}
	off, ok := q.parseName(pkt, headerSize)
	if !ok || off+4 > len(pkt) {
		return false
	}
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != classINET {
		return false
	}
	switch q.qtype {
	case typeANY, typeAXFR, typeIXFR, typeOPT:
		return false
	}
	off += 4
	q.question = pkt[headerSize:off]
	q.edns, q.ecs, q.cookie, q.cookieSt = false, false, nil, cookieNone
	if ar == 0 {
		return off == len(pkt)
	}
	return q.parseOPT(pkt[off:])
}

// parseName reads the question name at off: plain labels only (no
// compression pointer), of letters, digits, '-' and '_', which print as
// themselves, so the lower-case presentation form needs no escapes.
func (q *wireQuery) parseName(pkt []byte, off int) (int, bool) {
	start, n := off, 0
	for {
		if off >= len(pkt) {
			return 0, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(pkt) || off+l-start >= maxNameLen {
			return 0, false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				return 0, false
			}
			q.lower[n] = c
			n++
		}
		q.lower[n] = '.'
		n++
		off += l
	}
	if n == 0 {
		q.lower[0] = '.'
		n = 1
	}
	q.lowerLen = n
	return off, true
}

// parseOPT reads the one additional record, which must be an OPT of
// version 0 that ends the packet and holds nothing but, at most, one
// well-formed ECS option and one COOKIE option (NSID, padding and the
// rest: full path).
func (q *wireQuery) parseOPT(b []byte) bool {
	// owner (root), type, class (UDP size), TTL (ext. rcode, version, flags), rdlength
	if len(b) < 11 || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != typeOPT {
		return false
	}
	if b[5] != 0 || b[6] != 0 { // extended rcode, version
		return false
	}
	rdlen := int(binary.BigEndian.Uint16(b[9:]))
	opts := b[11:]
	if len(opts) != rdlen {
		return false
	}
	q.edns = true
	q.udpSize = binary.BigEndian.Uint16(b[3:])
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		code := binary.BigEndian.Uint16(opts)
		l := int(binary.BigEndian.Uint16(opts[2:]))
		if len(opts) < 4+l {
			return false
		}
		switch data := opts[4 : 4+l]; {
		case code == optionECS && !q.ecs && q.parseECS(data):
		case code == optionCookie && q.parseCookie(data):
		default:
			return false
		}
		opts = opts[4+l:]
	}
	return true
}

// parseECS accepts an IPv4 or IPv6 client subnet whose address has
// exactly the bytes its source prefix needs and no bit set past it, and
// whose scope fits the family (the scope is otherwise ignored). Every
// other form (family 0, short or long addresses, stray bits) is left to
// the full path, which knows which of them are FORMERR.
func (q *wireQuery) parseECS(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	fam, src, scope := binary.BigEndian.Uint16(b), int(b[2]), int(b[3])
	addr := b[4:]
	if len(addr) != (src+7)/8 {
		return false
	}
	var a netip.Addr
	switch fam {
	case familyIPv4:
		if src > 32 || scope > 32 {
			return false
		}
		var ip [4]byte
		copy(ip[:], addr)
		a = netip.AddrFrom4(ip)
	case familyIPv6:
		if src > 128 || scope > 128 {
			return false
		}
		var ip [16]byte
		copy(ip[:], addr)
		a = netip.AddrFrom16(ip)
	default:
		return false
	}
	p := netip.PrefixFrom(a, src)
	if p.Masked() != p {
		return false
	}
	q.ecs, q.ecsFam, q.ecsNet = true, fam, p
	return true
}

// ownerAnswerer is implemented by *gslb.Snapshot: it finds a name held
// in a reused buffer, without allocating or keeping it, and answers what
// it found, so the name is looked up once.
type ownerAnswerer interface {
	Lookup(name []byte) gslb.Owner
	AnswerOwner(o gslb.Owner, qtype uint16, c gslb.Client) (gslb.Answer, error)
}

var _ ownerAnswerer = (*gslb.Snapshot)(nil)

// fastAnswer answers pkt (parsed into q) into out and returns the reply's
// length, or errDecline. src is the socket's client address; c the
// worker's metrics shard. It may call Snapshot.Answer before declining;
// Answer is pure, so the full path asking again gives the same answer
// (a weighted draw aside, which only picks among equals).
func (h *handler) fastAnswer(q *wireQuery, src netip.Addr, out []byte, c *shard) (int, error) {
	a := h.load()
	if a == nil || q.cookie != nil && !h.fastCookie(q, src) {
		return 0, errDecline
	}
	client := gslb.Client{Addr: src, SourcePrefix: src.BitLen()}
	if q.ecs {
		client = gslb.Client{Addr: q.ecsNet.Addr(), SourcePrefix: q.ecsNet.Bits(), ECS: true}
	}
	lower := q.lower[:q.lowerLen]
	var ans gslb.Answer
	var err error
	if oa, ok := a.(ownerAnswerer); ok {
		o := oa.Lookup(lower)
		if o.Write() {
			// Write names follow the cluster's decisions (quorum, terms):
			// the full path alone answers them.
			return 0, errDecline
		}
		ans, err = oa.AnswerOwner(o, q.qtype, client)
	} else {
		ans, err = a.Answer(gslb.Question{Name: string(lower), Type: q.qtype}, client)
	}

	o, known := outcomeOf(err)
	if !known || (err == nil && !ans.Authoritative) {
		return 0, errDecline // logged by the full path; referrals: NS and glue
	}
	flags := uint16(flagQR) | q.flags&(flagRD|flagCD)
	if err == nil || o.aa {
		flags |= flagAA
	}
	rcode, records := o.rcode, o.records
	if records && len(ans.Additional) > 0 {
		return 0, errDecline
	}

	limit := minUDPSize
	if q.edns {
		limit = max(int(min(q.udpSize, h.udpSize)), minUDPSize)
	}
	w := wireWriter{b: out[:0], limit: min(limit, cap(out))}
	w.u16(q.id)
	w.u16(flags | uint16(rcode))
	w.u16(1)
	an, ns := 0, 0
	if records {
		an, ns = len(ans.Answer), len(ans.Authority)
	}
	w.u16(uint16(an))
	w.u16(uint16(ns))
	if q.edns {
		w.u16(1)
	} else {
		w.u16(0)
	}
	w.bytes(q.question)
	if records {
		for i := range ans.Answer {
			w.record(&ans.Answer[i])
		}
		for i := range ans.Authority {
			w.record(&ans.Authority[i])
		}
	}
	if q.edns {
		w.opt(h.udpSize, q, ans.Scope)
	}
	if w.err != nil {
		return 0, errDecline
	}
	h.cookieC.count(q.cookieSt)

	if err == nil && ans.Region != "" {
		c.answerOwned(h.names, ans.GSLBName, ans.Region)
	}
	if h.rrl != nil && q.cookieSt != cookieValid {
		// As the full path's limit (protect.go): charged to the packet's
		// source, never to the ECS network the client chose, and never
		// for a client that returned a valid server cookie.
		switch h.fastLimit(q, src, rcode, &ans) {
		case rrlDrop:
			return 0, errRateLimited
		case rrlSlip:
			rc := rcodeBadCookie
			if q.cookie == nil {
				rc = slipRcode
				c.truncated.Add(1)
			}
			c.query(protoUDPIdx, q.qtype, rc)
			return len(appendSlipReply(out[:0], q.id, q.flags, q.question, q.edns, h.udpSize, q.slipCookie())), nil
		}
	}
	c.query(protoUDPIdx, q.qtype, rcode)
	return len(w.b), nil
}

// wireWriter appends to a buffer of fixed capacity; err is set, and
// writing stops, when the next write would pass limit or a record cannot
// be encoded here.
type wireWriter struct {
	b     []byte
	limit int
	err   error
}

func (w *wireWriter) room(n int) bool {
	if w.err != nil {
		return false
	}
	if len(w.b)+n > w.limit {
		w.err = errDecline
		return false
	}
	return true
}

func (w *wireWriter) u16(v uint16) {
	if w.room(2) {
		w.b = binary.BigEndian.AppendUint16(w.b, v)
	}
}

func (w *wireWriter) u32(v uint32) {
	if w.room(4) {
		w.b = binary.BigEndian.AppendUint32(w.b, v)
	}
}

func (w *wireWriter) bytes(p []byte) {
	if w.room(len(p)) {
		w.b = append(w.b, p...)
	}
}

// name writes a presentation-form FQDN uncompressed. Names with escapes
// or empty labels are declined: only the full path's packer handles them.
func (w *wireWriter) name(s string) {
	if len(s) == 0 || s[len(s)-1] != '.' || len(s) > maxNameLen {
		w.err = errDecline
		return
	}
	if s == "." {
		if w.room(1) {
			w.b = append(w.b, 0)
		}
		return
	}
	if !w.room(len(s) + 1) {
		return
	}
	start := len(w.b)
	w.b = append(w.b, 0) // length of the first label, set below
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			w.err = errDecline
			return
		case c == '.':
			l := len(w.b) - start - 1
			if l == 0 || l > 63 {
				w.err = errDecline
				return
			}
			w.b[start] = byte(l)
			start = len(w.b)
			w.b = append(w.b, 0)
		default:
			w.b = append(w.b, c)
		}
	}
	// The loop ended on the final dot: its label byte is the root's 0.
}

// record writes one class-IN record of a type the fast path encodes.
func (w *wireWriter) record(r *gslb.Record) {
	w.name(r.Name)
	w.u16(r.Type)
	w.u16(classINET)
	w.u32(r.TTL)
	switch r.Type {
	case gslb.TypeA:
		if !r.Data.Addr.Is4() {
			w.err = errDecline
			return
		}
		ip := r.Data.Addr.As4()
		w.u16(4)
		w.bytes(ip[:])
	case gslb.TypeAAAA:
		if !r.Data.Addr.Is6() {
			w.err = errDecline
			return
		}
		ip := r.Data.Addr.As16()
		w.u16(16)
		w.bytes(ip[:])
	case gslb.TypeCNAME:
		w.rdata(func() { w.name(r.Data.Target) })
	case gslb.TypeSOA:
		if r.Data.Rare == nil {
			w.err = errDecline // the full path reports it
			return
		}
		w.rdata(func() {
			d := &r.Data
			w.name(d.MName)
			w.name(d.RName)
			w.u32(d.Serial)
			w.u32(d.Refresh)
			w.u32(d.Retry)
			w.u32(d.Expire)
			w.u32(d.Minimum)
		})
	default:
		w.err = errDecline
	}
}

// rdata writes a length-prefixed RDATA produced by fill.
func (w *wireWriter) rdata(fill func()) {
	at := len(w.b)
	w.u16(0)
	fill()
	if w.err == nil {
		binary.BigEndian.PutUint16(w.b[at:], uint16(len(w.b)-at-2))
	}
}

// opt writes our OPT record: our UDP size, version 0, no flags, the
// cookie option, and the client subnet echoed with the answer's scope (as
// clientSubnet.reply).
func (w *wireWriter) opt(udpSize uint16, q *wireQuery, scope int) {
	w.name(".")
	w.u16(typeOPT)
	w.u16(udpSize)
	w.u32(0)
	if !q.ecs {
		w.u16(uint16(q.cookieOptionLen()))
		w.cookie(q)
		return
	}
	src := q.ecsNet.Bits()
	scope = max(0, min(scope, src))
	n := (src + 7) / 8
	w.u16(uint16(q.cookieOptionLen() + 4 + 4 + n))
	w.cookie(q)
	w.u16(optionECS)
	w.u16(uint16(4 + n))
	w.u16(q.ecsFam)
	w.u16(uint16(src)<<8 | uint16(scope))
	if q.ecsFam == familyIPv4 {
		ip := q.ecsNet.Addr().As4()
		w.bytes(ip[:n])
	} else {
		ip := q.ecsNet.Addr().As16()
		w.bytes(ip[:n])
	}
}
