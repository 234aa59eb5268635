package dns

import (
	"encoding/hex"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

// This file joins RRL, cookies and NSID to the full (miekg) path. The
// wire-level parts live in rrl.go and cookie.go, so that a UDP fast path
// can call them on raw packets without allocating.

// cookieCounters count queries with a COOKIE option by what it showed,
// indexed by cookieStatus; cookieNone's is nil: queries without a cookie
// are gslbd_dns_queries_total's business.
type cookieCounters [len(cookieStatusNames)]prometheus.Counter

func newCookieCounters(reg prometheus.Registerer) cookieCounters {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gslbd_dns_cookies_total",
		Help: "Queries with a DNS COOKIE option by what it showed: malformed, client_only, bad (not ours, altered or expired) or valid.",
	}, []string{"result"})
	if reg != nil {
		vec = register(reg, vec)
	}
	var c cookieCounters
	for i, name := range cookieStatusNames {
		if cookieStatus(i) != cookieNone {
			c[i] = vec.WithLabelValues(name)
		}
	}
	return c
}

// count counts a query's cookie status.
func (c *cookieCounters) count(st cookieStatus) {
	if st != cookieNone {
		c[st].Inc()
	}
}

// cookieQuery is what the full path learnt from a query's COOKIE option.
type cookieQuery struct {
	status cookieStatus
	renew  bool
	now    uint32             // when it was checked: a fresh cookie is made at the same second
	data   [cookieMaxLen]byte // the option as received
	n      int
}

// client is the query's client cookie (only for client_only, bad, valid).
func (q *cookieQuery) client() []byte { return q.data[:cookieClientLen] }

// readCookie finds the COOKIE option of a query and checks it. More than
// one COOKIE option is malformed, as is one that is not hex-decodable.
func (h *handler) readCookie(opt *mdns.OPT, src netip.Addr) cookieQuery {
	q := cookieQuery{now: h.cookies.clock()}
	for _, o := range opt.Option {
		c, ok := o.(*mdns.EDNS0_COOKIE)
		if !ok {
			continue
		}
		n, ok := decodeHex(q.data[:], c.Cookie)
		if q.status != cookieNone || !ok {
			q.status = cookieMalformed
			return q
		}
		q.n = n
		q.status, q.renew = h.cookies.check(q.data[:n], src, q.now)
	}
	return q
}

// decodeHex decodes the hex string miekg keeps a COOKIE option in into
// dst, without the allocation of hex.Decode's []byte argument.
func decodeHex(dst []byte, s string) (int, bool) {
	if len(s)%2 != 0 || len(s)/2 > len(dst) {
		return 0, false
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := fromHexChar(s[i])
		lo, ok2 := fromHexChar(s[i+1])
		if !ok1 || !ok2 {
			return 0, false
		}
		dst[i/2] = hi<<4 | lo
	}
	return len(s) / 2, true
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// cookieOption is a reply's COOKIE option with its bytes in the same
// allocation.
type cookieOption struct {
	mdns.EDNS0_LOCAL
	buf [cookieMaxLen]byte
}

// replyCookie is the COOKIE option for the reply: the query's own cookie
// echoed when it is valid and need not be renewed, else a fresh one.
func (h *handler) replyCookie(q *cookieQuery, src netip.Addr) mdns.EDNS0 {
	o := &cookieOption{EDNS0_LOCAL: mdns.EDNS0_LOCAL{Code: mdns.EDNS0COOKIE}}
	if q.status == cookieValid && !q.renew {
		o.Data = append(o.buf[:0], q.data[:q.n]...)
	} else {
		o.Data = h.cookies.appendCookie(o.buf[:0], q.client(), src, q.now)
	}
	return &o.EDNS0_LOCAL
}

// wantsNSID says whether the query asks for the server's NSID (RFC 5001).
func wantsNSID(opt *mdns.OPT) bool {
	for _, o := range opt.Option {
		if o.Option() == mdns.EDNS0NSID {
			return true
		}
	}
	return false
}

// nsidOption answers NSID with the node name, so an operator can tell
// which node of an anycast or round-robin set answered.
func nsidOption(node string) mdns.EDNS0 {
	return &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID, Nsid: hex.EncodeToString([]byte(node))}
}

// limit applies RRL to a UDP reply: it returns resp unchanged, nil to
// drop it, or the slip reply. A slipped reply is empty with TC=1, so a
// real client retries over TCP; when the query had a client cookie it is
// BADCOOKIE with a fresh server cookie instead (the reply's OPT already
// has it), so the client retries over UDP with a cookie that exempts it.
// Replies to clients with a valid server cookie never get here.
func (h *handler) limit(req, resp *mdns.Msg, src netip.Addr, ck cookieStatus, now time.Time) *mdns.Msg {
	cls, name, qtype := classify(req, resp)
	switch h.rrl.accountName(now, src, cls, name, qtype) {
	case rrlDrop:
		return nil
	case rrlSlip:
		// The slip reply carries no answer, so no ECS scope nor NSID
		// either: a bare OPT, plus the cookie the client is to retry with.
		slip := reply(req, mdns.RcodeSuccess)
		if opt, _ := findOPT(resp); opt != nil {
			ours := h.newOPT()
			for _, o := range opt.Option {
				if o.Option() == mdns.EDNS0COOKIE {
					ours.Option = append(ours.Option, o)
				}
			}
			slip.Extra = []mdns.RR{ours}
		}
		if ck == cookieClientOnly || ck == cookieBad {
			slip.Rcode = mdns.RcodeBadCookie
		} else {
			slip.Truncated = true
		}
		return slip
	}
	return resp
}

// slipRcode is the rcode of a slipped reply without a cookie (TC=1).
const slipRcode = mdns.RcodeSuccess

// fastLimit is limit for the fast path: the same classes and keys, from
// the parsed query and the Answer instead of messages.
func (h *handler) fastLimit(q *wireQuery, src netip.Addr, rcode int, ans *gslb.Answer) rrlAction {
	now := h.rrl.now()
	switch rcode {
	case mdns.RcodeSuccess:
		return h.rrl.account(now, src, rrlResponse, q.question[:len(q.question)-4], q.qtype)
	case mdns.RcodeNameError:
		for i := range ans.Authority {
			if ans.Authority[i].Type == gslb.TypeSOA {
				return h.rrl.accountName(now, src, rrlNXDomain, ans.Authority[i].Name, 0)
			}
		}
		return h.rrl.account(now, src, rrlNXDomain, q.question[:len(q.question)-4], 0)
	}
	return h.rrl.account(now, src, rrlError, nil, 0)
}

// classify gives the RRL class of a reply and the name it is keyed by:
// answers by query name and type, NXDOMAIN by the zone (the SOA owner in
// the authority section), errors by nothing but the client prefix.
func classify(req, resp *mdns.Msg) (cls rrlClass, name string, qtype uint16) {
	switch resp.Rcode {
	case mdns.RcodeSuccess:
		if len(req.Question) != 1 {
			return rrlError, "", 0
		}
		return rrlResponse, req.Question[0].Name, req.Question[0].Qtype
	case mdns.RcodeNameError:
		for _, rr := range resp.Ns {
			if rr.Header().Rrtype == mdns.TypeSOA {
				return rrlNXDomain, rr.Header().Name, 0
			}
		}
		if len(req.Question) == 1 {
			return rrlNXDomain, req.Question[0].Name, 0
		}
	}
	return rrlError, "", 0
}

// wireNameString is a wire-form name in presentation form, for logs.
func wireNameString(name []byte) string {
	s, _, err := mdns.UnpackDomainName(name, 0)
	if err != nil {
		return "(bad name)"
	}
	return s
}

func typeString(t uint16) string { return mdns.Type(t).String() }
