package dns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dchest/siphash"
)

// DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018:
//
//	server cookie = Version (1) | Reserved (3) | Timestamp (4) | Hash (8)
//	Hash = SipHash-2-4(secret, Client Cookie | Version | Reserved | Timestamp | Client IP)
//
// Every node that shares a secret (BIND's and Knot's cookie-secret use the
// same construction) validates the others' cookies.
const (
	cookieClientLen    = 8
	cookieServerLen    = 16 // what we issue: the RFC 9018 layout
	cookieMinServerLen = 8  // RFC 7873 §4.2
	cookieMaxServerLen = 32
	cookieMaxLen       = cookieClientLen + cookieMaxServerLen
	cookieVersion      = 1
	cookieLifetime     = 3600 // seconds a server cookie is accepted (RFC 9018 §4.3)
	cookieRenewAge     = 1800 // a valid cookie older than this is replaced
	cookieMaxSkew      = 300  // seconds a timestamp may be ahead (clock skew between nodes)
)

// CookieSecret is a 128-bit SipHash-2-4 key.
type CookieSecret [16]byte

// cookieStatus is what a query's COOKIE option says about its client.
type cookieStatus uint8

const (
	cookieNone       cookieStatus = iota // no COOKIE option
	cookieMalformed                      // bad length: FORMERR (RFC 7873 §5.2.2)
	cookieClientOnly                     // client cookie only: it learns ours
	cookieBad                            // a server cookie that is not ours, altered or expired
	cookieValid                          // one of ours, in date: exempt from RRL
)

var cookieStatusNames = [...]string{"none", "malformed", "client_only", "bad", "valid"}

func (s cookieStatus) String() string { return cookieStatusNames[s] }

// sipKey is a CookieSecret split into SipHash's two key words.
type sipKey struct{ k0, k1 uint64 }

func sipKeyOf(s CookieSecret) sipKey {
	return sipKey{binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:])}
}

// Cookies issues and checks server cookies. The first secret makes new
// cookies, every secret validates, so a secret is rotated by adding the
// new one second on every node, then moving it first, then dropping the
// old one. It is safe for concurrent use and does not allocate.
type Cookies struct {
	mu      sync.Mutex // serialises SetSecrets
	keys    atomic.Pointer[[]sipKey]
	random  bool // keys came from crypto/rand: no secret was configured
	require atomic.Bool
	// coarse is the unix second kept by Run; 0 while Run is not running.
	coarse atomic.Uint32
	// fixed, when set (tests), is the clock instead, so that the fast and
	// the full path write the same bytes.
	fixed func() uint32
}

// NewCookies returns Cookies using secrets, or one random secret when
// there are none: cookies then validate on this process only.
func NewCookies(secrets []CookieSecret) *Cookies {
	c := &Cookies{}
	c.SetSecrets(secrets)
	return c
}

func unixNow() uint32 { return uint32(time.Now().Unix()) }

// coarseClockSlack is how long after each whole second the coarse clocks
// (cookies', RRL's) tick: a timer that fired a hair before the boundary
// would read the old second, and a few milliseconds late is nothing to
// a clock counted in seconds.
const coarseClockSlack = 2 * time.Millisecond

// untilNextSecond is how long a coarse clock sleeps after reading now:
// until just past the next whole second. Ticking once a second at the
// boundary keeps the clock as right as a 100 ms ticker did (closer: at
// most the slack behind instead of up to 100 ms) with a tenth of the
// wake-ups, which are most of what an idle node costs. A timer that fires
// early reads the old second and sleeps again only the remainder.
func untilNextSecond(now time.Time) time.Duration {
	return time.Second - time.Duration(now.Nanosecond()) + coarseClockSlack
}

// Run keeps a coarse clock that cookies are made and checked at until ctx
// is done: time.Now costs about as much as checking a cookie on virtual
// machines, and every query with a cookie needs the time.
func (c *Cookies) Run(ctx context.Context) error {
	now := time.Now()
	c.coarse.Store(uint32(now.Unix()))
	t := time.NewTimer(untilNextSecond(now))
	defer t.Stop()
	defer c.coarse.Store(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := time.Now()
			c.coarse.Store(uint32(now.Unix()))
			t.Reset(untilNextSecond(now))
		}
	}
}

// clock is the unix time (serial arithmetic) for cookies: Run's coarse
// clock, or time.Now when Run is not running.
func (c *Cookies) clock() uint32 {
	if c.fixed != nil {
		return c.fixed()
	}
	if s := c.coarse.Load(); s != 0 {
		return s
	}
	return unixNow()
}

// SetRequire sets the policy for UDP queries that carry a client cookie
// but no valid server cookie: answered normally with a fresh server
// cookie (false, the default), or answered BADCOOKIE with the fresh
// cookie and nothing else (true, BIND's require-server-cookie), so that
// only clients that proved their address get answers over UDP. Queries
// without any cookie and TCP queries are answered either way.
func (c *Cookies) SetRequire(require bool) { c.require.Store(require) }

func (c *Cookies) required() bool { return c.require.Load() }

// SetSecrets replaces the secrets (a config reload). With none, a random
// secret already in use is kept, so a reload does not invalidate every
// client's cookie.
func (c *Cookies) SetSecrets(secrets []CookieSecret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(secrets) == 0 {
		if c.random && c.keys.Load() != nil {
			return
		}
		var s CookieSecret
		_, _ = rand.Read(s[:]) // crypto/rand.Read never fails (Go 1.24+)
		keys := []sipKey{sipKeyOf(s)}
		c.keys.Store(&keys)
		c.random = true
		return
	}
	keys := make([]sipKey, len(secrets))
	for i, s := range secrets {
		keys[i] = sipKeyOf(s)
	}
	c.keys.Store(&keys)
	c.random = false
}

// check classifies a query's COOKIE option data from src at now (unix
// seconds, serial arithmetic). renew says a valid cookie should still be
// replaced in the reply: it is old, or made with a secret being retired.
func (c *Cookies) check(opt []byte, src netip.Addr, now uint32) (st cookieStatus, renew bool) {
	switch n := len(opt); {
	case n == cookieClientLen:
		return cookieClientOnly, true
	case n < cookieClientLen+cookieMinServerLen || n > cookieMaxLen:
		return cookieMalformed, false
	case n != cookieClientLen+cookieServerLen || opt[cookieClientLen] != cookieVersion:
		return cookieBad, true // another server's format: not ours
	}
	server := opt[cookieClientLen:]
	ts := binary.BigEndian.Uint32(server[4:8])
	age := int32(now - ts) // RFC 1982 serial arithmetic
	if age > cookieLifetime || age < -cookieMaxSkew {
		return cookieBad, true
	}
	want := binary.LittleEndian.Uint64(server[8:16])
	for i, k := range *c.keys.Load() {
		// The reserved octets are hashed as received (RFC 9018 §4.2).
		if cookieHash(k, opt[:cookieClientLen], server[:8], src) == want {
			return cookieValid, i > 0 || age > cookieRenewAge
		}
	}
	return cookieBad, true
}

// appendCookie appends the reply's COOKIE option data, client cookie then
// a fresh server cookie for src made at now with the first secret.
func (c *Cookies) appendCookie(dst, client []byte, src netip.Addr, now uint32) []byte {
	var head [8]byte
	head[0] = cookieVersion
	binary.BigEndian.PutUint32(head[4:], now)
	h := cookieHash((*c.keys.Load())[0], client, head[:], src)
	dst = append(dst, client[:cookieClientLen]...)
	dst = append(dst, head[:]...)
	return binary.LittleEndian.AppendUint64(dst, h)
}

// cookieHash is RFC 9018's SipHash-2-4 over the client cookie, the server
// cookie's first 8 octets (version, reserved, timestamp) and the client's
// address (4 octets for IPv4, 16 for IPv6).
func cookieHash(k sipKey, client, head []byte, src netip.Addr) uint64 {
	var in [cookieClientLen + 8 + 16]byte
	n := copy(in[:], client[:cookieClientLen])
	n += copy(in[n:], head[:8])
	src = src.Unmap()
	if src.Is4() {
		a := src.As4()
		n += copy(in[n:], a[:])
	} else {
		a := src.As16()
		n += copy(in[n:], a[:])
	}
	return siphash.Hash(k.k0, k.k1, in[:n])
}
