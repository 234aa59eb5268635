package connlimit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// serveEcho accepts on l until it fails, echoing one byte per connection
// read so a client can tell that its connection was accepted and counted.
func serveEcho(l net.Listener) <-chan net.Conn {
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(conns)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { _, _ = io.Copy(c, c) }()
		}
	}()
	return conns
}

// dialEcho connects and reports whether the server echoed a byte (the
// connection was kept) or closed it (refused over a cap).
func dialEcho(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		// A refusal is a reset, which may already fail the dial.
		t.Logf("dial: %v", err)
		return nil, false
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{1}); err != nil {
		return c, false
	}
	b := make([]byte, 1)
	_, err = c.Read(b)
	_ = c.SetDeadline(time.Time{})
	return c, err == nil
}

func TestListenerCapsPerSourceThenTotal(t *testing.T) {
	reg := prometheus.NewRegistry()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := New(Limits{Total: 4, PerSource: 3}, Options{Prefix: "gslbd_test_tcp", Registerer: reg})
	l := NewListener(inner, lim)
	defer l.Close()
	served := serveEcho(l)
	addr := inner.Addr().String()

	var kept []net.Conn
	for i := range 3 {
		c, ok := dialEcho(t, addr)
		if !ok {
			t.Fatalf("connection %d refused below the per-source cap", i+1)
		}
		kept = append(kept, c)
	}
	c, ok := dialEcho(t, addr)
	if ok {
		t.Fatal("4th connection from one source accepted past PerSource=3")
	}
	if c != nil {
		c.Close()
	}
	if got := value(t, lim.m.refuse.WithLabelValues(ReasonPerSource)); got != 1 {
		t.Errorf("refused{per_source} = %v, want 1", got)
	}
	if got := value(t, lim.m.open); got != 3 {
		t.Errorf("connections gauge = %v, want 3", got)
	}

	// Closing a kept connection (server side) frees its slot.
	srv := <-served
	srv.Close()
	c, ok = dialEcho(t, addr)
	if !ok {
		t.Fatal("connection refused after a slot was freed")
	}
	kept = append(kept, c)
	for _, c := range kept {
		c.Close()
	}
}

func TestLimiterTotalAndSourceKeys(t *testing.T) {
	lim := New(Limits{Total: 3, PerSource: 2}, Options{})
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	a6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}
	a6same64 := &net.TCPAddr{IP: net.ParseIP("2001:db8::ffff"), Port: 2}
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1}

	r1, _ := lim.Acquire(a)
	r2, _ := lim.Acquire(a6)
	if r, why := lim.Acquire(a6same64); r == nil {
		t.Fatalf("second address of one /64 refused early: %s", why)
	}
	if _, why := lim.Acquire(a6same64); why != ReasonTotal {
		t.Fatalf("4th connection: reason %q, want %q", why, ReasonTotal)
	}
	r1()
	r1() // a second release must not free another slot
	if lim.Open() != 2 {
		t.Fatalf("open = %d after one release, want 2", lim.Open())
	}
	if _, why := lim.Acquire(a6); why != ReasonPerSource {
		t.Fatalf("3rd connection of one /64: reason %q, want %q", why, ReasonPerSource)
	}
	if r, why := lim.Acquire(b); r == nil {
		t.Fatalf("other source refused: %s", why)
	}
	r2()
	if lim.Open() != 2 {
		t.Fatalf("open = %d, want 2", lim.Open())
	}
}

// failingListener fails Accept with err n times, then blocks until closed.
type failingListener struct {
	net.Listener
	err   error
	n     int
	calls int
}

func (f *failingListener) Accept() (net.Conn, error) {
	f.calls++
	if f.calls <= f.n {
		return nil, f.err
	}
	return nil, net.ErrClosed
}

func TestAcceptBacksOffOnEMFILE(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	f := &failingListener{Listener: inner, err: emfile, n: 10}
	reg := prometheus.NewRegistry()
	l := NewListener(f, New(Limits{}, Options{Prefix: "gslbd_test_tcp", Registerer: reg}))
	var waits []time.Duration
	l.sleep = func(d time.Duration, _ <-chan struct{}) { waits = append(waits, d) }

	_, err = l.Accept()
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v, want the first non-transient error", err)
	}
	if len(waits) != 10 {
		t.Fatalf("%d back-off waits for 10 EMFILE errors, want 10", len(waits))
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < waits[i-1] || waits[i] > maxBackoff {
			t.Fatalf("back-off not growing within bounds: %v", waits)
		}
	}
	if waits[0] != minBackoff || waits[9] != maxBackoff {
		t.Errorf("back-off %v, want %v first and %v at the cap", waits, minBackoff, maxBackoff)
	}
	if got := value(t, l.lim.m.accepts.WithLabelValues("emfile")); got != 10 {
		t.Errorf("accept_errors_total{emfile} = %v, want 10", got)
	}
}

func TestCloseEndsBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	enfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)}
	f := &failingListener{Listener: inner, err: enfile, n: 1 << 30}
	l := NewListener(f, New(Limits{}, Options{}))
	waiting := make(chan struct{}, 1)
	l.sleep = func(d time.Duration, stop <-chan struct{}) {
		select {
		case waiting <- struct{}{}:
		default:
		}
		sleepOrStop(time.Hour, stop) // only Close can end this wait
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	<-waiting
	l.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still backing off 5s after Close")
	}
}

func TestLocalResourceReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", os.NewSyscallError("socket", syscall.EMFILE)), "emfile"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.ENFILE)}, "enfile"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, "eaddrnotavail"},
		{os.NewSyscallError("sendto", syscall.ENOBUFS), "enobufs"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ""},
		{errors.New("status 500"), ""},
		{&net.DNSError{Err: "dial udp 127.0.0.53:53: socket: too many open files", Name: "db.example"}, "emfile"},
		{&net.DNSError{Err: "no such host", Name: "db.example", IsNotFound: true}, ""},
		{nil, ""},
	} {
		if got := LocalResourceReason(tc.err); got != tc.want {
			t.Errorf("LocalResourceReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// value reads one counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
