package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// Options configure a Server (and NewHandler).
type Options struct {
	// Addrs are host:port addresses, each served on UDP and TCP. A port 0
	// picks a free port, the same one for UDP and TCP.
	Addrs []string
	// Source yields the Snapshot each query is answered from.
	Source Source
	// UDPSize is the EDNS0 UDP payload size we advertise, and the largest
	// UDP reply we send, in bytes. Default 1232; values below 512 are 512.
	UDPSize uint16
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
}

func (o Options) withDefaults() Options {
	if o.UDPSize == 0 {
		o.UDPSize = DefaultUDPSize
	}
	o.UDPSize = max(o.UDPSize, mdns.MinMsgSize)
	if o.TCPIdleTimeout <= 0 {
		o.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
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

	mu     sync.Mutex
	udp    []net.PacketConn
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
	o.Logger = o.Logger.Named("dns")
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
		pc, l, err := bindPair(addr)
		if err != nil {
			s.closeLocked()
			return fmt.Errorf("dns: cannot listen on %s: %w", addr, err)
		}
		s.udp = append(s.udp, pc)
		s.tcp = append(s.tcp, connlimit.NewListener(l, s.lim))
	}
	return nil
}

// bindPair binds TCP then UDP on addr. For port 0 the UDP socket takes the
// TCP socket's port, so one port answers both (as a resolver expects);
// when that UDP port is taken it tries again with a new port.
func bindPair(addr string) (net.PacketConn, net.Listener, error) {
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
		pc, err := net.ListenPacket("udp", udpAddr)
		if err == nil {
			return pc, l, nil
		}
		_ = l.Close()
		if port != "0" || i+1 >= bindAttempts || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}

// UDPAddrs returns the bound UDP addresses, in Options.Addrs order.
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.udp))
	for i, pc := range s.udp {
		out[i] = pc.LocalAddr()
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
	for _, pc := range s.udp {
		errs = append(errs, pc.Close())
	}
	for _, l := range s.tcp {
		errs = append(errs, l.Close())
	}
	s.udp, s.tcp = nil, nil
	return errors.Join(errs...)
}

// listener is one miekg server on one socket and its lifecycle signals.
type listener struct {
	srv     *mdns.Server
	name    string
	started chan struct{} // closed once the server accepts queries
	done    chan struct{} // closed when ActivateAndServe returned
	err     error         // ActivateAndServe's result, read after done
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
		ls = append(ls, s.newListener(protoUDP, s.udp[i], nil), s.newListener(protoTCP, nil, s.tcp[i]))
	}
	s.mu.Unlock()

	exited := make(chan *listener, len(ls))
	for _, l := range ls {
		go func() {
			l.err = l.srv.ActivateAndServe()
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
			if err := l.srv.ShutdownContext(stopCtx); err != nil {
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

func (s *Server) newListener(proto string, pc net.PacketConn, tl net.Listener) *listener {
	l := &listener{started: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	srv := &mdns.Server{
		Handler:           s.h,
		UDPSize:           udpReadSize,
		IdleTimeout:       func() time.Duration { return s.o.TCPIdleTimeout },
		MsgAcceptFunc:     acceptFunc(s.m),
		MsgInvalidFunc:    invalidFunc(s.m, proto),
		NotifyStartedFunc: func() { once.Do(func() { close(l.started) }) },
		// No per-connection query limit: miekg closes after 128 by
		// default, and queries a client already pipelined behind the
		// 128th are then lost to a reset. TCPIdleTimeout and TCPLimits
		// bound what a connection can hold instead.
		MaxTCPQueries: -1,
	}
	if pc != nil {
		srv.PacketConn = pc
		l.name = "udp " + pc.LocalAddr().String()
	} else {
		srv.Listener = tl
		l.name = "tcp " + tl.Addr().String()
	}
	l.srv = srv
	return l
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
