package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// RRLConfig configures response rate limiting (RRL) in the style of BIND
// and Knot. Its zero value (ResponsesPerSecond 0) turns RRL off. The
// caller passes a complete, validated model (config owns the defaults);
// NewServer refuses values out of range.
type RRLConfig struct {
	// ResponsesPerSecond limits answers (NOERROR, including NODATA and
	// referrals) per client prefix, query name and type. 0 turns RRL off.
	ResponsesPerSecond int
	// ErrorsPerSecond limits REFUSED, SERVFAIL, FORMERR and other error
	// replies per client prefix. 0 does not limit them.
	ErrorsPerSecond int
	// NXDomainsPerSecond limits NXDOMAIN replies per client prefix and
	// zone. 0 does not limit them.
	NXDomainsPerSecond int
	// Window is the period, in whole seconds (at least 1s), over which a
	// client's rate is averaged: a prefix that went over its rate stays
	// limited until its average over the window falls below it.
	Window time.Duration
	// Slip sends every Slip-th limited reply as an empty TC=1 reply (or
	// BADCOOKIE when the query has a client cookie), so a real client
	// retries over TCP or with its cookie; the others are dropped. 0 drops
	// every limited reply; 1 slips every one.
	Slip int
	// IPv4Prefix and IPv6Prefix aggregate clients into prefixes of this
	// length (1-32 and 1-128).
	IPv4Prefix, IPv6Prefix int
	// Exempt clients are never limited (known resolvers, monitoring).
	Exempt []netip.Prefix
	// LogOnly counts and logs what would be limited but answers anyway.
	LogOnly bool
	// TableSize is the number of buckets (rounded up to a power of two, at
	// least 4096); memory is fixed at 48 bytes a bucket.
	TableSize int
}

// Limits on RRLConfig values: a balance of -Window × rate must fit a
// bucket's int32.
const (
	rrlMaxRate   = 1_000_000
	rrlMaxWindow = time.Hour
	rrlMinTable  = rrlWays * rrlLocks
	rrlMaxTable  = 1 << 24
	rrlMaxSlip   = 100
	rrlWays      = 4    // buckets per set: a new key evicts within its set only
	rrlLocks     = 1024 // striped set locks; a power of two
	rrlLogPerSec = 10   // start/stop log lines per second, all prefixes together
)

// rrlClass is the response class a bucket counts: classes have their own
// rates and never share a bucket.
type rrlClass uint8

const (
	rrlResponse rrlClass = iota // keyed by query name and type
	rrlNXDomain                 // keyed by zone
	rrlError                    // keyed by the prefix alone
	rrlClasses
)

var rrlClassNames = [rrlClasses]string{"response", "nxdomain", "error"}

func (c rrlClass) String() string { return rrlClassNames[c] }

// rrlAction is what to do with one reply.
type rrlAction uint8

const (
	rrlSend rrlAction = iota
	rrlDrop
	rrlSlip
)

// Actions for gslbd_dns_rrl_limited_total.
const (
	rrlLabelDropped = "dropped"
	rrlLabelSlipped = "slipped"
	rrlLabelLogOnly = "log_only" // would have been limited; sent (log_only)
)

// rrlBucket is one client prefix's account for one key. It holds no
// pointers, so the table costs the garbage collector nothing to scan.
type rrlBucket struct {
	key     uint64 // seeded hash of prefix, class, name and type; 0 = free
	last    int64  // unix second the balance was last credited
	balance int32  // replies left this second; negative is debt
	limited uint32 // limited replies since limiting started; 0 = not limiting
	prefix  [16]byte
	bits    uint8
	class   rrlClass
}

// rrlBucketBytes is the size of one bucket, for sizing documentation and
// the memory test.
const rrlBucketBytes = 48

// paddedMutex keeps each stripe lock on its own cache line, so workers
// updating different sets do not slow each other down.
type paddedMutex struct {
	sync.Mutex
	_ [56]byte
}

// rrlSettings is the immutable part of an RRL, swapped whole by Reconfigure.
type rrlSettings struct {
	rates  [rrlClasses]int32
	window int64 // seconds
	slip   uint32
	v4, v6 int
	exempt []netip.Prefix
	log    bool // log only
}

// RRL is a response rate limiter: a fixed-size table of buckets shared by
// every worker that answers UDP. Account is safe for concurrent use and
// does not allocate unless it logs a start or stop of limiting. Memory
// never grows after NewRRL, however many sources a (spoofed) flood uses:
// a new key takes a free bucket of its set of four, else the least
// recently credited one that is not limiting, else the least recently
// credited one.
type RRL struct {
	set     atomic.Pointer[rrlSettings]
	seed    maphash.Seed
	buckets []rrlBucket
	setMask uint64 // sets - 1
	locks   [rrlLocks]paddedMutex

	limiting atomic.Int64 // buckets currently limiting, so sweeps are free when 0
	clock    atomic.Int64 // unix second kept by Run; 0 while Run is not running

	log       *zap.Logger
	logSecond atomic.Int64
	logCount  atomic.Int64
	logSkip   atomic.Int64

	limitedC  [rrlClasses][3]prometheus.Counter // by class and action label
	evictions prometheus.Counter
}

// NewRRL builds the bucket table for c. It returns nil and no error when
// c turns RRL off. Metrics go to reg (nil registers nothing).
func NewRRL(c RRLConfig, log *zap.Logger, reg prometheus.Registerer) (*RRL, error) {
	if c.ResponsesPerSecond == 0 {
		return nil, nil
	}
	s, err := newRRLSettings(c)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	size := rrlMinTable
	for size < c.TableSize {
		size <<= 1
	}
	r := &RRL{
		seed:    maphash.MakeSeed(),
		buckets: make([]rrlBucket, size),
		setMask: uint64(size/rrlWays - 1),
		log:     log,
	}
	r.set.Store(s)
	r.initMetrics(reg)
	return r, nil
}

func newRRLSettings(c RRLConfig) (*rrlSettings, error) {
	var errs []error
	for _, v := range []struct {
		name string
		n    int
	}{{"responses per second", c.ResponsesPerSecond}, {"errors per second", c.ErrorsPerSecond}, {"NXDOMAINs per second", c.NXDomainsPerSecond}} {
		if v.n < 0 || v.n > rrlMaxRate {
			errs = append(errs, fmt.Errorf("rrl: %s %d is not in 0..%d", v.name, v.n, rrlMaxRate))
		}
	}
	if c.Window < time.Second || c.Window > rrlMaxWindow || c.Window%time.Second != 0 {
		errs = append(errs, fmt.Errorf("rrl: window %s is not a whole number of seconds in 1s..%s", c.Window, rrlMaxWindow))
	}
	if c.Slip < 0 || c.Slip > rrlMaxSlip {
		errs = append(errs, fmt.Errorf("rrl: slip %d is not in 0..%d", c.Slip, rrlMaxSlip))
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		errs = append(errs, fmt.Errorf("rrl: IPv4 prefix /%d is not in 1..32", c.IPv4Prefix))
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, fmt.Errorf("rrl: IPv6 prefix /%d is not in 1..128", c.IPv6Prefix))
	}
	if c.TableSize < 0 || c.TableSize > rrlMaxTable {
		errs = append(errs, fmt.Errorf("rrl: table size %d is not in 0..%d", c.TableSize, rrlMaxTable))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &rrlSettings{
		window: int64(c.Window / time.Second),
		slip:   uint32(c.Slip),
		v4:     c.IPv4Prefix,
		v6:     c.IPv6Prefix,
		log:    c.LogOnly,
	}
	s.rates[rrlResponse] = int32(c.ResponsesPerSecond)
	s.rates[rrlNXDomain] = int32(c.NXDomainsPerSecond)
	s.rates[rrlError] = int32(c.ErrorsPerSecond)
	for _, p := range c.Exempt {
		s.exempt = append(s.exempt, p.Masked())
	}
	return s, nil
}

// Reconfigure applies new rates, prefixes and exemptions (a config
// reload) to the running table; buckets keep their balances. The table
// size is fixed at NewRRL. A config that turns RRL off is an error here:
// the caller stops calling Account instead.
func (r *RRL) Reconfigure(c RRLConfig) error {
	if c.ResponsesPerSecond == 0 {
		return errors.New("rrl: Reconfigure cannot turn RRL off")
	}
	s, err := newRRLSettings(c)
	if err != nil {
		return err
	}
	r.set.Store(s)
	return nil
}

func (r *RRL) initMetrics(reg prometheus.Registerer) {
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gslbd_dns_rrl_limited_total",
		Help: "UDP replies limited by response rate limiting, by action (dropped, slipped, or log_only: would have been limited) and response class.",
	}, []string{"action", "class"})
	evictions := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gslbd_dns_rrl_evictions_total",
		Help: "RRL buckets reused while still inside their window; a steady rate means rrl.table_size is too small for the clients seen.",
	})
	if reg != nil {
		limited = register(reg, limited)
		evictions = register(reg, evictions)
	}
	for c := range rrlClasses {
		for i, a := range []string{rrlLabelDropped, rrlLabelSlipped, rrlLabelLogOnly} {
			r.limitedC[c][i] = limited.WithLabelValues(a, c.String())
		}
	}
	r.evictions = evictions
}

// maxNameWire is the longest name in wire form (RFC 1035 §3.1).
const maxNameWire = 255

// account charges one UDP reply of class cls to src's prefix and says
// whether to send, drop or slip it. name is the wire-form query name
// (for rrlResponse) or zone apex (for rrlNXDomain), compared without case;
// it is ignored for rrlError, as qtype is for all but rrlResponse. It does
// not allocate except to log a start of limiting.
func (r *RRL) account(now time.Time, src netip.Addr, cls rrlClass, name []byte, qtype uint16) rrlAction {
	s := r.set.Load()
	rate := s.rates[cls]
	if rate == 0 || !src.IsValid() {
		return rrlSend
	}
	src = src.Unmap()
	for _, p := range s.exempt {
		if p.Contains(src) {
			return rrlSend
		}
	}
	bits := s.v4
	if src.Is6() {
		bits = s.v6
	}
	prefix, _ := src.Prefix(bits) // bits is within range for the family
	pa := prefix.Addr().As16()

	// The key: prefix, family (so ::/56 and 0.0.0.0/24 differ), class, then
	// the name folded to lower case and the type.
	var buf [16 + 3 + 2 + maxNameWire]byte
	n := copy(buf[:], pa[:])
	buf[n], buf[n+1], buf[n+2] = byte(bits), byte(cls), b2u8(src.Is4())
	n += 3
	switch cls {
	case rrlResponse:
		buf[n], buf[n+1] = byte(qtype>>8), byte(qtype)
		n += 2
		fallthrough
	case rrlNXDomain:
		for _, c := range name[:min(len(name), maxNameWire)] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A' // label length bytes are < 64, never letters
			}
			buf[n] = c
			n++
		}
	}
	key := maphash.Bytes(r.seed, buf[:n])
	if key == 0 {
		key = 1 // 0 marks a free bucket
	}

	sec := now.Unix()
	set := key & r.setMask
	mu := &r.locks[set&(rrlLocks-1)]
	mu.Lock()
	b, old := r.find(key, set)
	if b.key != key {
		*b = rrlBucket{key: key, last: sec, balance: rate, prefix: pa, bits: uint8(bits), class: cls}
	}
	// Credit the seconds since the last reply, at most one second's worth:
	// a quiet client has its full rate back, never a larger burst.
	if elapsed := sec - b.last; elapsed > 0 {
		b.balance = int32(min(int64(b.balance)+elapsed*int64(rate), int64(rate)))
		b.last = sec
	}
	// Debit this reply. The debt is bounded so that a prefix that goes
	// quiet has its rate back after at most Window seconds.
	next := int64(b.balance) - 1
	b.balance = int32(max(next, 1-s.window*int64(rate)))
	act, started, stopped := rrlSend, false, uint32(0)
	if next < 0 {
		started = b.limited == 0
		if b.limited++; b.limited == 0 {
			b.limited = 1 // wrapped after 2^32 limited replies: still limiting
		}
		act = rrlDrop
		if s.slip > 0 && b.limited%s.slip == 0 {
			act = rrlSlip
		}
	} else if b.limited > 0 {
		stopped, b.limited = b.limited, 0
	}
	mu.Unlock()

	if old.key != 0 {
		r.evicted(&old, sec, s.window)
	}
	if started {
		r.limiting.Add(1)
		r.logStart(prefix, cls, name, qtype, s.log)
	} else if stopped > 0 {
		r.limiting.Add(-1)
		r.logStop(prefix, cls, stopped)
	}
	if act == rrlSend {
		return rrlSend
	}
	if s.log {
		r.limitedC[cls][2].Inc()
		return rrlSend
	}
	r.limitedC[cls][act-1].Inc()
	return act
}

// accountName is account for a name in presentation form (the full
// path's question name, or the zone of an Answer); it does not allocate
// for names without escapes.
func (r *RRL) accountName(now time.Time, src netip.Addr, cls rrlClass, name string, qtype uint16) rrlAction {
	var buf [maxNameWire + 1]byte
	wire, ok := appendWireName(buf[:0], name)
	if !ok {
		n, err := mdns.PackDomainName(name, buf[:], 0, nil, false)
		if err != nil {
			n = 0 // not a name: the bucket is the prefix's alone
		}
		wire = buf[:n]
	}
	return r.account(now, src, cls, wire, qtype)
}

// appendWireName appends the wire form of a presentation-form name with
// no escapes ("www.example.", "." or ""); ok is false for anything else
// (escapes, empty labels, too long), which the caller packs the slow way.
func appendWireName(dst []byte, name string) ([]byte, bool) {
	start := len(dst)
	for name != "" && name != "." {
		i := 0
		for i < len(name) && name[i] != '.' {
			if name[i] == '\\' {
				return dst[:start], false
			}
			i++
		}
		if i == 0 || i > 63 || len(dst)-start+1+i >= maxNameWire { // room for the root label
			return dst[:start], false
		}
		dst = append(dst, byte(i))
		dst = append(dst, name[:i]...)
		name = name[i:]
		if name != "" {
			name = name[1:]
		}
	}
	return append(dst, 0), true
}

// appendSlipReply appends the wire form of a slipped reply for the fast
// path: the query's ID, question and RD/CD bits, QR set, no records but,
// when the query had EDNS, an OPT advertising udpSize. Without a cookie
// it is empty with TC=1; with one (the reply's COOKIE option data, a
// fresh server cookie) it is BADCOOKIE carrying it instead, so the client
// retries over UDP with a cookie that exempts it. It is byte for byte
// what the full path sends for the same query.
func appendSlipReply(dst []byte, id, flags uint16, question []byte, edns bool, udpSize uint16, cookie []byte) []byte {
	const (
		qr = 1 << 15
		tc = 1 << 9
		rd = 1 << 8
		cd = 1 << 4
	)
	ar := uint16(0)
	if edns {
		ar = 1
	}
	bits := uint16(qr | tc)
	if cookie != nil {
		// BADCOOKIE (23): the low 4 bits here, the rest in the OPT's TTL.
		bits = qr | rcodeBadCookie&0xf
	}
	dst = binary.BigEndian.AppendUint16(dst, id)
	dst = binary.BigEndian.AppendUint16(dst, bits|flags&(rd|cd))
	dst = append(dst, 0, 1, 0, 0, 0, 0, byte(ar>>8), byte(ar))
	dst = append(dst, question...)
	if !edns {
		return dst
	}
	// root owner, type OPT (41), class = UDP size, TTL = extended rcode
	// and version 0, no flags
	dst = append(dst, 0, 0, 41, byte(udpSize>>8), byte(udpSize))
	if cookie == nil {
		return append(dst, 0, 0, 0, 0, 0, 0) // TTL 0, RDLENGTH 0
	}
	dst = append(dst, rcodeBadCookie>>4, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(4+len(cookie)))
	dst = binary.BigEndian.AppendUint16(dst, optionCookie)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(cookie)))
	return append(dst, cookie...)
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// find returns key's bucket in its set, or the bucket to reuse for it:
// a free one, else the least recently credited one that is not limiting,
// else the least recently credited one. For a reused bucket it returns a
// copy of what it held, so the caller can end that bucket's limiting
// episode after unlocking. The caller holds the set's lock.
func (r *RRL) find(key, set uint64) (b *rrlBucket, old rrlBucket) {
	ways := r.buckets[set*rrlWays : set*rrlWays+rrlWays]
	victim := &ways[0]
	for i := range ways {
		w := &ways[i]
		if w.key == key {
			return w, rrlBucket{}
		}
		if i > 0 && betterVictim(w, victim) {
			victim = w
		}
	}
	return victim, *victim
}

// betterVictim says whether w should be reused before v: a free bucket
// first, then one not limiting (a flood's debt is worth keeping), then
// the one credited longest ago.
func betterVictim(w, v *rrlBucket) bool {
	if (w.key == 0) != (v.key == 0) {
		return w.key == 0
	}
	if (w.limited == 0) != (v.limited == 0) {
		return w.limited == 0
	}
	return w.last < v.last
}

// evicted accounts for a bucket that was reused for another key.
func (r *RRL) evicted(old *rrlBucket, sec, window int64) {
	if sec-old.last < window {
		r.evictions.Inc()
	}
	if old.limited > 0 {
		// Its prefix stops being limited as the bucket goes.
		r.limiting.Add(-1)
		r.logStop(netip.PrefixFrom(addrOf(old), int(old.bits)), old.class, old.limited)
	}
}

func addrOf(b *rrlBucket) netip.Addr {
	a := netip.AddrFrom16(b.prefix)
	if b.bits <= 32 && a.Is4In6() {
		return a.Unmap()
	}
	return a
}

// Run ends limiting episodes of prefixes that went quiet: it is what logs
// "rate limiting stopped" for a flood that ended, since no further query
// would. It returns when ctx is done.
//
// Run also keeps a coarse clock for the fast path (see now): on some
// virtual machines time.Now costs as much as the accounting itself. It
// ticks once a second, just after the boundary (untilNextSecond), and
// sweeps at each tick.
func (r *RRL) Run(ctx context.Context) error {
	now := time.Now()
	r.clock.Store(now.Unix())
	t := time.NewTimer(untilNextSecond(now))
	defer t.Stop()
	defer r.clock.Store(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := time.Now()
			r.clock.Store(now.Unix())
			r.sweep(now)
			t.Reset(untilNextSecond(now))
		}
	}
}

// now is the time RRL accounts by: Run's coarse clock (whole seconds are
// all a bucket needs), or time.Now when Run is not running.
func (r *RRL) now() time.Time {
	if sec := r.clock.Load(); sec != 0 {
		return time.Unix(sec, 0)
	}
	return time.Now()
}

// sweep logs the end of limiting for every limiting bucket whose balance
// has been credited back above zero by now.
func (r *RRL) sweep(now time.Time) {
	if r.limiting.Load() <= 0 {
		return
	}
	s := r.set.Load()
	sec := now.Unix()
	for set := uint64(0); set <= r.setMask; set++ {
		mu := &r.locks[set&(rrlLocks-1)]
		mu.Lock()
		for i := set * rrlWays; i < set*rrlWays+rrlWays; i++ {
			b := &r.buckets[i]
			if b.limited == 0 || b.key == 0 {
				continue
			}
			rate := int64(s.rates[b.class])
			if rate > 0 && int64(b.balance)+(sec-b.last)*rate <= 0 {
				continue
			}
			p := netip.PrefixFrom(addrOf(b), int(b.bits))
			n, cls := b.limited, b.class
			b.limited = 0
			r.limiting.Add(-1)
			mu.Unlock()
			r.logStop(p, cls, n)
			mu.Lock()
		}
		mu.Unlock()
	}
}

// allowLog is a global limit on start/stop lines: a flood from many
// prefixes must not turn into a flood of log lines. It returns how many
// lines were suppressed before this one.
func (r *RRL) allowLog() (ok bool, suppressed int64) {
	sec := time.Now().Unix()
	if old := r.logSecond.Load(); old != sec && r.logSecond.CompareAndSwap(old, sec) {
		r.logCount.Store(0)
	}
	if r.logCount.Add(1) > rrlLogPerSec {
		r.logSkip.Add(1)
		return false, 0
	}
	return true, r.logSkip.Swap(0)
}

func (r *RRL) logStart(p netip.Prefix, cls rrlClass, name []byte, qtype uint16, logOnly bool) {
	ok, skipped := r.allowLog()
	if !ok {
		return
	}
	fields := []zap.Field{zap.Stringer("prefix", p), zap.Stringer("class", cls), zap.Bool("log_only", logOnly)}
	if cls != rrlError {
		fields = append(fields, zap.String("name", wireNameString(name)))
	}
	if cls == rrlResponse {
		fields = append(fields, zap.String("qtype", typeString(qtype)))
	}
	if skipped > 0 {
		fields = append(fields, zap.Int64("log_lines_suppressed", skipped))
	}
	r.log.Warn("rate limiting started", fields...)
}

func (r *RRL) logStop(p netip.Prefix, cls rrlClass, limited uint32) {
	ok, skipped := r.allowLog()
	if !ok {
		return
	}
	fields := []zap.Field{zap.Stringer("prefix", p), zap.Stringer("class", cls), zap.Uint32("limited", limited)}
	if skipped > 0 {
		fields = append(fields, zap.Int64("log_lines_suppressed", skipped))
	}
	r.log.Info("rate limiting stopped", fields...)
}
