package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits are the caps of one listener. A value <= 0 means no cap.
type Limits struct {
	// Total is the most connections open at once.
	Total int
	// PerSource is the most connections open at once from one source: one
	// IPv4 address, or one IPv6 /64 (a single host usually owns a whole
	// /64, so a per-address cap would be no cap at all).
	PerSource int
}

// Reasons a connection is refused, the reason label of the refused metric.
const (
	ReasonTotal     = "total"
	ReasonPerSource = "per_source"
)

// Limiter counts open connections against Limits.
type Limiter struct {
	lim Limits
	m   *metrics

	mu   sync.Mutex
	open int
	per  map[netip.Prefix]int
}

// Options name the metrics of a Limiter.
type Options struct {
	// Prefix starts the metric names, e.g. "gslbd_dns_tcp": the Limiter
	// exports <Prefix>_connections (open now), <Prefix>_refused_total{reason}
	// and <Prefix>_accept_errors_total{reason}.
	Prefix string
	// Registerer gets the metrics; nil registers none.
	Registerer prometheus.Registerer
}

// New returns a Limiter enforcing lim.
func New(lim Limits, o Options) *Limiter {
	return &Limiter{lim: lim, m: newMetrics(o), per: map[netip.Prefix]int{}}
}

// Limits returns the caps l enforces.
func (l *Limiter) Limits() Limits { return l.lim }

// Open returns how many connections are counted now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Acquire counts one connection from remote. It returns the release func
// (call it exactly once, when the connection is closed; later calls do
// nothing) or, when a cap is reached, nil and the reason.
func (l *Limiter) Acquire(remote net.Addr) (release func(), reason string) {
	key, keyed := sourceKey(remote)
	l.mu.Lock()
	switch {
	case l.lim.Total > 0 && l.open >= l.lim.Total:
		reason = ReasonTotal
	case keyed && l.lim.PerSource > 0 && l.per[key] >= l.lim.PerSource:
		reason = ReasonPerSource
	}
	if reason != "" {
		l.mu.Unlock()
		l.m.refused(reason)
		return nil, reason
	}
	l.open++
	if keyed {
		l.per[key]++
	}
	l.mu.Unlock()
	l.m.setOpen(1)
	var once atomic.Bool
	return func() {
		if once.Swap(true) {
			return
		}
		l.mu.Lock()
		l.open--
		if keyed {
			if l.per[key] <= 1 {
				delete(l.per, key)
			} else {
				l.per[key]--
			}
		}
		l.mu.Unlock()
		l.m.setOpen(-1)
	}, ""
}

// sourceKey is the per-source bucket of a remote address: the IPv4
// address, or the IPv6 /64.
func sourceKey(a net.Addr) (netip.Prefix, bool) {
	var ip netip.Addr
	switch v := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	default:
		if a == nil {
			return netip.Prefix{}, false
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Prefix{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p, true
}

// Conn is a counted connection: Close releases its slot once.
type Conn struct {
	net.Conn
	release func()
}

// Close closes the connection and frees its slot.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite half-closes the connection when the inner one can (as a
// *net.TCPConn can), so servers that finish a reply with a half-close
// (net/http does) behave as without the wrapper.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Wrap counts c against l; it returns nil and closes c when a cap is
// reached.
func (l *Limiter) Wrap(c net.Conn) *Conn {
	release, reason := l.Acquire(c.RemoteAddr())
	if reason != "" {
		refuse(c)
		return nil
	}
	return &Conn{Conn: c, release: release}
}

// refuse closes a connection over a cap at once and with a reset, so the
// refused client learns of it now and no socket lingers in TIME_WAIT here.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Back-off bounds after a failed accept, as net/http uses.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Listener is a net.Listener whose connections count against a Limiter.
// Accept closes connections over a cap itself, and waits and retries when
// accepting fails for want of resources (EMFILE, ENFILE, ENOBUFS,
// ENOMEM): it never returns such an error, so a server that retries at
// once (miekg/dns does) cannot spin on it.
type Listener struct {
	net.Listener
	lim    *Limiter
	closed chan struct{}
	once   sync.Once
	// sleep waits d or until the listener is closed; tests replace it.
	sleep func(d time.Duration, stop <-chan struct{})
}

// NewListener wraps inner so that its connections count against lim.
func NewListener(inner net.Listener, lim *Limiter) *Listener {
	return &Listener{Listener: inner, lim: lim, closed: make(chan struct{}), sleep: sleepOrStop}
}

func sleepOrStop(d time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, err
			default:
			}
			reason, transient := AcceptErrorReason(err)
			if !transient {
				return nil, err
			}
			l.lim.m.acceptError(reason)
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			l.sleep(backoff, l.closed)
			continue
		}
		backoff = 0
		if cc := l.lim.Wrap(c); cc != nil {
			return cc, nil
		}
	}
}

// Close closes the inner listener and ends any back-off wait.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// AcceptErrorReason classifies an accept error: transient ones (the
// process or system is out of descriptors, buffers or memory, or the
// peer gave up before we accepted) are worth a retry after a pause, and
// reason names them for metrics.
func AcceptErrorReason(err error) (reason string, transient bool) {
	if r := LocalResourceReason(err); r != "" {
		return r, true
	}
	if errors.Is(err, errConnAborted) {
		return "econnaborted", true
	}
	var ne interface{ Temporary() bool }
	if errors.As(err, &ne) && ne.Temporary() {
		return "temporary", true
	}
	return "", false
}
