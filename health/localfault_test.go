package health

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gslbd/gslbd/gslb"
)

// exhaustibleClient dials for real, except while exhausted is set: then
// every dial fails as socket(2) does when the process is out of file
// descriptors.
func exhaustibleClient(exhausted *atomic.Bool) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if exhausted.Load() {
				return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("socket", syscall.EMFILE)}
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// TestLocalFaultIsNoObservation: when the node runs out of file
// descriptors, probes fail with EMFILE. That used to count as the backend
// failing, so every endpoint went down. Now such a probe yields no
// observation: the endpoint keeps its state, the fault is counted and
// logged (once per period), and the Manager reports itself impaired.
func TestLocalFaultIsNoObservation(t *testing.T) {
	a := newBackend(t)
	var exhausted atomic.Bool
	rec := &recorder{t: t}
	core, logs := observer.New(zap.InfoLevel)
	reg := prometheus.NewRegistry()
	m := NewManager(Options{Logger: zap.New(core), Registerer: reg, Emit: rec.emit,
		HTTPClient: exhaustibleClient(&exhausted)})
	ta := a.target("a@www.example", 0)
	m.SetTargets([]Target{ta})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	ready := rec.waitFor(t, ta.ID, 0, "initial ready", state(gslb.Ready))
	if why := m.Impaired(); why != "" {
		t.Fatalf("Impaired while probing works: %q", why)
	}

	exhausted.Store(true)
	// Wait until both the liveness probe and the lag read have hit the
	// fault a few times: 2 × fall would have taken it down before.
	deadline := time.Now().Add(15 * time.Second)
	for localErrors(t, reg) < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("only %v local probe errors counted in 15s", localErrors(t, reg))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec.mu.Lock()
	for _, o := range rec.all {
		if o.Target == ta.ID && o.Seq > ready.Seq && o.State != gslb.Ready {
			t.Errorf("EMFILE changed the observation: %+v", o)
		}
	}
	rec.mu.Unlock()
	if why := m.Impaired(); !strings.Contains(why, "emfile") {
		t.Fatalf("Impaired = %q while every probe fails with EMFILE", why)
	}
	if n := logs.FilterMessageSnippet("local reason").Len(); n < 1 || n > 2 {
		t.Errorf("%d local-fault log lines for %v faults, want 1 or 2 (rate-limited)", n, localErrors(t, reg))
	}
	if n := logs.FilterMessage("endpoint state changed").FilterField(zap.String("to", "down")).Len(); n != 0 {
		t.Errorf("%d transitions to down during a local fault", n)
	}

	exhausted.Store(false)
	deadline = time.Now().Add(15 * time.Second)
	for m.Impaired() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("still impaired 15s after descriptors came back: %q", m.Impaired())
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec.waitFor(t, ta.ID, rec.seq(), "fresh ready after recovery", state(gslb.Ready))
}

func localErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gslbd_probe_errors_total" {
			continue
		}
		total := 0.0
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
		return total
	}
	return 0
}
