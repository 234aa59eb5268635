package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/connlimit"
)

// Defaults for Options.
const (
	DefaultUDPSize         = 1232 // DNS flag day 2020: no IP fragmentation
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// udpReadSize is the read buffer per UDP packet. Queries are small; one
// larger than this is cut by the read and answered FORMERR.
const udpReadSize = 4096

// bindAttempts bounds the retries when a port-0 address got a TCP port
// whose UDP twin is taken.
const bindAttempts = 20

// Options configure a Server.
type Options struct {
	// Addrs are host:port addresses, each served on UDP and TCP. A port 0
	// picks a free port, the same one for UDP and TCP.
	Addrs []string
	// Source yields the Snapshot each query is answered from.
	Source Source
	// UDPSize is the EDNS0 UDP payload size we advertise, and the largest
	// UDP reply we send, in bytes. Default 1232; values below 512 are 512.
	UDPSize uint16
	// UDPWorkers is how many sockets, each with its own goroutine, serve
	// UDP on every address (bound with SO_REUSEPORT, so the kernel spreads
	// queries over them). Default GOMAXPROCS; 1 where SO_REUSEPORT is not
	// used (non-Linux).
	UDPWorkers int
	// TCPIdleTimeout closes a TCP connection idle this long between
	// queries. Default 10s.
	TCPIdleTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits for in-flight queries
	// after its context is done. Default 5s.
	ShutdownTimeout time.Duration
	// Logger receives start/stop and error events, never one per query at
	// info level. Nil logs nothing.
	Logger *zap.Logger
	// Registerer gets the gslbd_dns_* metrics. Nil registers nothing.
	Registerer prometheus.Registerer
	// TCPLimits cap the open TCP connections over all addresses, in total
	// and per source. Zero values mean no cap.
	TCPLimits connlimit.Limits
	// RRL rate-limits UDP replies; nil turns rate limiting off. Its owner
	// runs RRL.Run and may Reconfigure it.
	RRL *RRL
	// Cookies issues and checks DNS server cookies. Nil uses a random
	// secret, so cookies validate on this process only. Its owner runs
	// Cookies.Run (a coarse clock; without it, time.Now per query).
	Cookies *Cookies
	// AnswerMetricNames is how many distinct GSLB names get their own
	// series in gslbd_dns_gslb_answers_total; later names count as
	// "other". 0 is DefaultAnswerMetricNames; negative turns per-name
	// series off (every answer counts as name "all", by region).
	AnswerMetricNames int
}

func (o Options) withDefaults() Options {
	if o.UDPSize == 0 {
		o.UDPSize = DefaultUDPSize
	}
	o.UDPSize = max(o.UDPSize, mdns.MinMsgSize)
	if o.UDPWorkers <= 0 {
		o.UDPWorkers = runtime.GOMAXPROCS(0)
	}
	if !reusePort {
		o.UDPWorkers = 1
	}
	if o.TCPIdleTimeout <= 0 {
		o.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Cookies == nil {
		o.Cookies = NewCookies(nil)
	}
	return o
}

// Server serves DNS on UDP and TCP on every configured address.
// Call Listen, then Serve once; Close releases sockets when Serve is never
// called.
type Server struct {
	o   Options
	h   *handler
	m   *metrics
	lim *connlimit.Limiter

	mu sync.Mutex
	// udp[i] are the worker sockets of Addrs[i], all on one port.
	udp    [][]*net.UDPConn
	tcp    []net.Listener
	served bool
}

// NewServer checks o and builds a Server; it binds nothing yet.
func NewServer(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("dns: Options.Source is nil")
	}
	return newServer(o, snapshotLoader(o.Source))
}

func newServer(o Options, load func() Answerer) (*Server, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("dns: no listen address")
	}
	for _, a := range o.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("dns: listen address %q: %w", a, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("dns: listen address %q: bad port %q", a, port)
		}
	}
	o = o.withDefaults()
	m := newMetrics(o.Registerer)
	lim := connlimit.New(o.TCPLimits, connlimit.Options{Prefix: "gslbd_dns_tcp", Registerer: o.Registerer})
	s := &Server{o: o, h: newHandler(load, o, m), m: m, lim: lim}
	if o.Registerer != nil {
		_ = o.Registerer.Register(newUDPDrops(s.UDPAddrs)) // a second Server on one registry keeps the first's
	}
	return s, nil
}

// Listen binds a UDP and a TCP socket on every address now, so that a port
// in use is a startup error naming the address. On error it closes
// whatever it bound.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served || len(s.udp) > 0 {
		return errors.New("dns: Listen called twice")
	}
	for _, addr := range s.o.Addrs {
		pcs, l, err := bindPair(addr, s.o.UDPWorkers)
		if err != nil {
			s.closeLocked()
			return fmt.Errorf("dns: cannot listen on %s: %w", addr, err)
		}
		s.udp = append(s.udp, pcs)
		s.tcp = append(s.tcp, connlimit.NewListener(l, s.lim))
	}
	return nil
}

// bindPair binds TCP then n UDP sockets on addr. For port 0 the UDP
// sockets take the TCP socket's port, so one port answers both (as a
// resolver expects); when that UDP port is taken it tries again with a
// new port.
func bindPair(addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; ; i++ {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		udpAddr := addr
		if port == "0" {
			udpAddr = net.JoinHostPort(host, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		}
		pcs, err := bindUDP(udpAddr, n)
		if err == nil {
			return pcs, l, nil
		}
		_ = l.Close()
		if port != "0" || i+1 >= bindAttempts || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}

// bindUDP binds n UDP sockets to one address; on error it closes those
// it bound.
func bindUDP(addr string, n int) ([]*net.UDPConn, error) {
	var pcs []*net.UDPConn
	for range n {
		pc, err := listenUDP(addr)
		if err != nil {
			for _, p := range pcs {
				_ = p.Close()
			}
			return nil, err
		}
		pcs = append(pcs, pc)
		addr = pc.LocalAddr().String() // the others join its port
	}
	return pcs, nil
}

// UDPAddrs returns the bound UDP addresses, in Options.Addrs order.
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.udp))
	for i, pcs := range s.udp {
		out[i] = pcs[0].LocalAddr()
	}
	return out
}

// TCPAddrs returns the bound TCP addresses, in Options.Addrs order.
func (s *Server) TCPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.tcp))
	for i, l := range s.tcp {
		out[i] = l.Addr()
	}
	return out
}

// Close releases the sockets of a Server that was never served. After
// Serve started, sockets belong to Serve and Close does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		return nil
	}
	return s.closeLocked()
}

func (s *Server) closeLocked() error {
	var errs []error
	for _, pcs := range s.udp {
		for _, pc := range pcs {
			errs = append(errs, pc.Close())
		}
	}
	for _, l := range s.tcp {
		errs = append(errs, l.Close())
	}
	s.udp, s.tcp = nil, nil
	return errors.Join(errs...)
}

// listener serves one socket (a miekg TCP server or a UDP worker) and
// carries its lifecycle signals.
type listener struct {
	name    string
	serve   func() error                // blocks until stopped or failed
	stop    func(context.Context) error // makes serve return
	started chan struct{}               // closed once the socket takes queries
	done    chan struct{}               // closed when serve returned
	err     error                       // serve's result, read after done
}

// Serve answers queries on the sockets bound by Listen until ctx is done,
// then stops reading new queries and waits (at most ShutdownTimeout) for
// in-flight ones to be answered. It returns nil after a clean stop, or
// the error that stopped a socket early.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("dns: Serve called twice")
	}
	if len(s.udp) == 0 {
		s.mu.Unlock()
		return errors.New("dns: Serve called before Listen")
	}
	s.served = true
	var ls []*listener
	for i := range s.udp {
		for _, pc := range s.udp[i] {
			l, err := s.newUDPListener(pc)
			if err != nil {
				err = fmt.Errorf("dns: udp %s: %w", pc.LocalAddr(), err)
				_ = s.closeLocked() // nothing serves yet: release every socket
				s.mu.Unlock()
				return err
			}
			ls = append(ls, l)
		}
		ls = append(ls, s.newTCPListener(s.tcp[i]))
	}
	s.mu.Unlock()

	exited := make(chan *listener, len(ls))
	for _, l := range ls {
		go func() {
			l.err = l.serve()
			close(l.done)
			exited <- l
		}()
	}
	for _, l := range ls {
		select {
		case <-l.started:
		case <-l.done:
		}
	}
	s.o.Logger.Info("dns serving", zap.Strings("addrs", s.o.Addrs))

	var failed error
	select {
	case <-ctx.Done():
	case l := <-exited:
		failed = fmt.Errorf("dns: %s stopped: %w", l.name, l.err)
		if l.err == nil {
			failed = fmt.Errorf("dns: %s stopped unexpectedly", l.name)
		}
		s.o.Logger.Error("dns listener stopped", zap.String("listener", l.name), zap.Error(l.err))
	}

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range ls {
		select {
		case <-l.done:
			continue
		default:
		}
		wg.Go(func() {
			if err := l.stop(stopCtx); err != nil {
				s.o.Logger.Warn("dns listener did not stop cleanly", zap.String("listener", l.name), zap.Error(err))
			}
		})
	}
	wg.Wait()
	for _, l := range ls {
		select {
		case <-l.done:
		case <-stopCtx.Done():
			// Handlers still running past the deadline are abandoned.
		}
	}
	s.o.Logger.Info("dns stopped")
	return failed
}

func (s *Server) newTCPListener(tl net.Listener) *listener {
	l := &listener{name: "tcp " + tl.Addr().String(), started: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	srv := &mdns.Server{
		Listener:          tl,
		Handler:           s.h,
		IdleTimeout:       func() time.Duration { return s.o.TCPIdleTimeout },
		MsgAcceptFunc:     acceptFunc(s.m),
		MsgInvalidFunc:    invalidFunc(s.m, protoTCP),
		NotifyStartedFunc: func() { once.Do(func() { close(l.started) }) },
		// No per-connection query limit: miekg closes after 128 by
		// default, and queries a client already pipelined behind the
		// 128th are then lost to a reset. TCPIdleTimeout and TCPLimits
		// bound what a connection can hold instead.
		MaxTCPQueries: -1,
	}
	l.serve, l.stop = srv.ActivateAndServe, srv.ShutdownContext
	return l
}

// newUDPListener makes a worker of pc. Stopping sets a read deadline in
// the past: the worker answers the batch it holds and returns.
func (s *Server) newUDPListener(pc *net.UDPConn) (*listener, error) {
	w, err := newUDPWorker(s.h, s.m.newShard(), s.o.Logger, pc)
	if err != nil {
		return nil, err
	}
	l := &listener{name: "udp " + pc.LocalAddr().String(), started: make(chan struct{}), done: make(chan struct{})}
	close(l.started) // bound in Listen, read from as soon as serve runs
	l.serve = w.run
	l.stop = func(context.Context) error { return pc.SetReadDeadline(time.Unix(1, 0)) }
	return l, nil
}

// headerQR is the QR bit of the DNS header flags.
const headerQR = 1 << 15

// acceptFunc decides before unpacking. Responses (QR=1) get no reply at
// all, so forged ones cannot start a loop between servers. Everything else
// reaches the handler, which answers NOTIMP and FORMERR itself so that
// every reply takes the same path and is counted the same way.
func acceptFunc(m *metrics) mdns.MsgAcceptFunc {
	return func(dh mdns.Header) mdns.MsgAcceptAction {
		if dh.Bits&headerQR != 0 {
			m.shared.dropped[dropResponseIdx].Add(1)
			return mdns.MsgIgnore
		}
		return mdns.MsgAccept
	}
}

// invalidFunc counts packets miekg could not parse: shorter than a header
// they are dropped; otherwise miekg answers FORMERR.
func invalidFunc(m *metrics, proto string) mdns.MsgInvalidFunc {
	return func(b []byte, _ error) {
		if len(b) < headerSize {
			m.shared.dropped[dropShortIdx].Add(1)
			return
		}
		m.shared.queryNone(protoIndex(proto), mdns.RcodeFormatError)
	}
}

// headerSize is the length of a DNS header.
const headerSize = 12
