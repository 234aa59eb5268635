package cluster

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/connlimit"
)

// Bounds on what one unauthenticated gossip stream can make us hold.
// memberlist reads a whole encrypted stream (it announces up to 20 MiB)
// into memory before it decrypts and authenticates it, so the stream
// length is capped here, before memberlist sees the bytes.
const (
	// streamBase is the allowance of any stream beyond the records.
	streamBase = 256 << 10
	// streamPerRecord bounds one encoded observation, drain or active
	// record at its codec limits (names, reason) with room to spare.
	streamPerRecord = 2 << 10
)

// guard sits between memberlist and its network transport. It drops
// packets and streams from sources outside cluster.allow before memberlist
// reads them, counts streams against connection caps (in total and per
// source), and cuts off a stream that sends more than a full state sync of
// this cluster could need.
type guard struct {
	lim       *connlimit.Limiter
	allow     atomic.Pointer[[]netip.Prefix]
	maxStream atomic.Int64
	refused   *prometheus.CounterVec // kind (packet, stream), reason
}

func newGuard(o Options) *guard {
	g := &guard{
		lim: connlimit.New(o.ConnLimits, connlimit.Options{Prefix: "gslbd_cluster_tcp", Registerer: o.Registerer}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_cluster_refused_total",
			Help: "Gossip packets and streams refused before memberlist read them, by kind and reason (not_allowed, oversize).",
		}, []string{"kind", "reason"}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(g.refused); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					g.refused = old
				}
			}
		}
	}
	for _, kind := range []string{"packet", "stream"} {
		g.refused.WithLabelValues(kind, "not_allowed")
	}
	g.refused.WithLabelValues("stream", "oversize")
	g.set(o.Config, len(o.Targets), o.Endpoints)
	return g
}

// set applies the reloadable settings: the allow-list and the stream cap,
// which grows with the cluster's size and its probe target and endpoint
// counts.
func (g *guard) set(cfg config.Cluster, targets, endpoints int) {
	var allow []netip.Prefix
	for _, a := range cfg.Allow {
		if p, err := netip.ParsePrefix(strings.TrimSpace(a)); err == nil {
			allow = append(allow, p.Masked())
		}
	}
	g.allow.Store(&allow)
	g.maxStream.Store(maxStreamBytes(max(cfg.Expect, 1+len(cfg.Seeds)), targets, endpoints))
}

// maxStreamBytes is the longest full state sync a cluster of nodes
// members with targets probe targets and endpoints endpoints can send,
// with every field at its codec limit: every node's observation of every
// target, a drain per endpoint and a write record per name (at most one
// per endpoint, each naming up to maxBackers members), plus memberlist's
// own member list. Two extra nodes allow for joiners and leavers in
// flight.
func maxStreamBytes(nodes, targets, endpoints int) int64 {
	n := int64(nodes + 2)
	t := int64(max(targets, 1))
	e := int64(max(endpoints, 1))
	records := n*t + e // observations and drains
	writes := e * (streamPerRecord + int64(min(n, maxBackers))*(maxNodeLen+2))
	return streamBase + n*streamPerRecord + records*streamPerRecord + writes
}

// allowed reports whether addr may gossip with us.
func (g *guard) allowed(addr net.Addr) bool {
	allow := *g.allow.Load()
	if len(allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// transport builds memberlist's transport (or wraps the one tests gave)
// behind the guard. For port 0 it fills conf's ports with the one bound.
func (g *guard) transport(given memberlist.Transport, conf *memberlist.Config) (memberlist.Transport, error) {
	inner, ok := given.(memberlist.NodeAwareTransport)
	if given != nil && !ok {
		return given, nil // a test's plain Transport: nothing to wrap safely
	}
	if given == nil {
		nt, err := newNetTransport(conf)
		if err != nil {
			return nil, err
		}
		inner = nt
	}
	t := &guardedTransport{
		NodeAwareTransport: inner,
		g:                  g,
		streams:            make(chan net.Conn),
		packets:            make(chan *memberlist.Packet),
		stop:               make(chan struct{}),
		done:               make(chan struct{}),
		log:                conf.Logger,
	}
	t.wg.Add(2)
	go t.pumpStreams()
	go t.pumpPackets()
	return t, nil
}

// newNetTransport is what memberlist does without a Transport, including
// its retries when port 0 gives a TCP port whose UDP twin is taken.
func newNetTransport(conf *memberlist.Config) (*memberlist.NetTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{conf.BindAddr}, BindPort: conf.BindPort, Logger: conf.Logger}
	tries := 1
	if conf.BindPort == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			if conf.BindPort == 0 {
				conf.BindPort = nt.GetAutoBindPort()
				if conf.AdvertisePort == 0 {
					conf.AdvertisePort = conf.BindPort
				}
			}
			return nt, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("gossip transport: %w", err)
}

// guardedTransport filters what the inner transport receives.
type guardedTransport struct {
	memberlist.NodeAwareTransport
	g       *guard
	streams chan net.Conn
	packets chan *memberlist.Packet
	stop    chan struct{} // closed at Shutdown: forward nothing more
	done    chan struct{} // closed after the inner transport stopped
	once    sync.Once
	wg      sync.WaitGroup
	log     *log.Logger
}

var _ memberlist.NodeAwareTransport = (*guardedTransport)(nil)

func (t *guardedTransport) StreamCh() <-chan net.Conn           { return t.streams }
func (t *guardedTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// Shutdown stops forwarding, shuts the inner transport down (its
// listeners may still hand over a connection meanwhile, which the pumps
// close) and then stops the pumps.
func (t *guardedTransport) Shutdown() error {
	t.once.Do(func() { close(t.stop) })
	err := t.NodeAwareTransport.Shutdown()
	close(t.done)
	t.wg.Wait()
	return err
}

func (t *guardedTransport) stopping() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

func (t *guardedTransport) pumpStreams() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.StreamCh()
	for {
		var c net.Conn
		select {
		case c = <-in:
		case <-t.done:
			return
		}
		if t.stopping() {
			_ = c.Close()
			continue
		}
		if !t.g.allowed(c.RemoteAddr()) {
			t.g.refused.WithLabelValues("stream", "not_allowed").Inc()
			_ = c.Close()
			continue
		}
		cc := t.g.lim.Wrap(c) // closes c over a cap, counted by the limiter
		if cc == nil {
			continue
		}
		lc := &cappedConn{Conn: cc, left: t.g.maxStream.Load(), g: t.g}
		select {
		case t.streams <- lc:
		case <-t.stop:
			_ = lc.Close()
		}
	}
}

func (t *guardedTransport) pumpPackets() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.PacketCh()
	for {
		var p *memberlist.Packet
		select {
		case p = <-in:
		case <-t.done:
			return
		}
		if t.stopping() {
			continue
		}
		if !t.g.allowed(p.From) {
			t.g.refused.WithLabelValues("packet", "not_allowed").Inc()
			continue
		}
		select {
		case t.packets <- p:
		case <-t.stop:
		}
	}
}

// errStreamTooLong ends a stream that sent more than any state sync of
// this cluster needs.
var errStreamTooLong = errors.New("gossip stream longer than a full state sync of this cluster; closed")

// cappedConn fails reads once more than left bytes were read, so an
// unauthenticated peer cannot make memberlist buffer more than that.
type cappedConn struct {
	net.Conn
	left   int64
	g      *guard
	capped bool
}

func (c *cappedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		if !c.capped {
			c.capped = true
			c.g.refused.WithLabelValues("stream", "oversize").Inc()
		}
		return 0, errStreamTooLong
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

// quietLog is the memberlist log sink. Hostile traffic (a wrong key, a
// foreign label, garbage) makes memberlist log an ERROR line per packet,
// some with bytes the sender chose. Each line is mapped to zap at its
// level; above debug it is cleaned (see clean) and each kind of line is
// logged at most once per logEvery, with the count of those suppressed.
type quietLog struct {
	log   *zap.Logger
	now   func() time.Time
	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	at         time.Time
	suppressed int
}

const (
	maxLogLine = 240
	logEvery   = 10 * time.Second
	maxKinds   = 256
)

func newMemberlistLogger(l *zap.Logger) *log.Logger {
	return log.New(&quietLog{log: l, now: time.Now, kinds: map[string]*logKind{}}, "", 0)
}

func (q *quietLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	lvl := zap.DebugLevel
	for _, l := range []struct {
		prefix string
		level  zapcore.Level
	}{{"[ERR]", zap.ErrorLevel}, {"[WARN]", zap.WarnLevel}, {"[INFO]", zap.InfoLevel}, {"[DEBUG]", zap.DebugLevel}} {
		if strings.HasPrefix(line, l.prefix) {
			lvl = l.level
			line = strings.TrimSpace(strings.TrimPrefix(line, l.prefix))
			break
		}
	}
	line = clean(line)
	ce := q.log.Check(lvl, line)
	if ce == nil {
		return len(p), nil
	}
	if lvl <= zap.InfoLevel {
		ce.Write()
		return len(p), nil
	}
	kind := lineKind(line)
	now := q.now()
	q.mu.Lock()
	k := q.kinds[kind]
	if k == nil {
		if len(q.kinds) >= maxKinds {
			clear(q.kinds) // bounded memory; at worst a few more lines
		}
		k = &logKind{}
		q.kinds[kind] = k
	}
	if !k.at.IsZero() && now.Sub(k.at) < logEvery {
		k.suppressed++
		q.mu.Unlock()
		return len(p), nil
	}
	suppressed := k.suppressed
	k.at, k.suppressed = now, 0
	q.mu.Unlock()
	ce.Write(zap.Int("suppressed_since_last", suppressed))
	return len(p), nil
}

// lineKind is the text of a cleaned line up to its first detail (a colon,
// quote, digit or "from="), which groups lines that differ only in
// addresses and values.
func lineKind(line string) string {
	line = strings.TrimPrefix(line, "memberlist: ")
	if i := strings.IndexAny(line, ":\"'0123456789"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "from="); i >= 0 {
		line = line[:i]
	}
	return line
}

// clean removes quoted text (labels, node names and decoder messages that
// quote input), the node name of "unexpected node" lines, and bytes
// outside printable ASCII, and bounds the length.
func clean(s string) string {
	if i := strings.Index(s, "unexpected node "); i >= 0 {
		rest := s[i+len("unexpected node "):]
		from := ""
		if j := strings.Index(rest, "from="); j >= 0 {
			from = " " + rest[j:]
		}
		s = s[:i] + "unexpected node …" + from
	}
	var b strings.Builder
	quote := rune(0)
	for _, r := range s {
		if b.Len() >= maxLogLine {
			b.WriteString("…")
			break
		}
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
				b.WriteString("…")
				b.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	if quote != 0 {
		b.WriteString("…")
	}
	return b.String()
}

// allowedNets is cluster.allow for memberlist's own check of the
// addresses that alive messages announce (nil allows any), plus this
// node's own address: memberlist refuses to start (and crashes on a nil
// local node) when it would refuse itself. Config validation makes sure
// peers' allow-lists hold us too.
func allowedNets(allow []string, self ...string) []net.IPNet {
	var out []net.IPNet
	for _, a := range allow {
		if _, n, err := net.ParseCIDR(strings.TrimSpace(a)); err == nil {
			out = append(out, *n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, h := range self {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			bits := 8 * len(ip.To16())
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			break
		}
	}
	return out
}
