package dns

import "net/netip"

// DNS Cookies in the UDP fast path. parseOPT keeps a COOKIE option of a
// length that may be well-formed (a client cookie alone, or with a server
// cookie of 8 to 32 octets); fastCookie checks it with the same Cookies
// and clock as the full path and prepares the reply's option, which opt
// writes before the ECS echo, as the full path orders them. The cases
// that are not a normal answer stay with the full path: a malformed
// option (FORMERR) and, when the policy requires a valid server cookie,
// a query without one (BADCOOKIE). A rate-limited reply slipped to a
// client with a cookie is BADCOOKIE with the fresh cookie; the fast path
// writes it itself (appendSlipReply), since the query has been charged.

// fastCookie checks q's COOKIE option from src and puts the reply's
// option data in q.cookieOut: the query's cookie echoed when it is valid
// and need not be renewed, else a fresh server cookie. It returns false
// for a query the full path must answer.
func (h *handler) fastCookie(q *wireQuery, src netip.Addr) bool {
	now := h.cookies.clock()
	st, renew := h.cookies.check(q.cookie, src, now)
	switch {
	case st == cookieMalformed, st != cookieValid && h.cookies.required():
		return false
	case st == cookieValid && !renew:
		q.cookieOut = append(q.cookieBuf[:0], q.cookie...)
	default:
		q.cookieOut = h.cookies.appendCookie(q.cookieBuf[:0], q.cookie, src, now)
	}
	q.cookieSt = st
	return true
}

// cookieOptionLen is the length of the reply's COOKIE option, header
// included; 0 when the query had none.
func (q *wireQuery) cookieOptionLen() int {
	if q.cookie == nil {
		return 0
	}
	return 4 + len(q.cookieOut)
}

// cookie writes the reply's COOKIE option, if any.
func (w *wireWriter) cookie(q *wireQuery) {
	if q.cookie == nil {
		return
	}
	w.u16(optionCookie)
	w.u16(uint16(len(q.cookieOut)))
	w.bytes(q.cookieOut)
}

// parseCookie keeps a COOKIE option's data, at most one and of a length
// check may find valid: 8 octets, or 16 to 40.
func (q *wireQuery) parseCookie(b []byte) bool {
	n := len(b)
	if q.cookie != nil || n != cookieClientLen && (n < cookieClientLen+cookieMinServerLen || n > cookieMaxLen) {
		return false
	}
	q.cookie = b
	return true
}

// slipCookie is the cookie a slipped reply carries (see appendSlipReply):
// the fresh one, when the query had a cookie.
func (q *wireQuery) slipCookie() []byte {
	if q.cookie == nil {
		return nil
	}
	return q.cookieOut
}
