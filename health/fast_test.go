package health

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// pacingClock is the wall clock that records every wait the Manager
// schedules between probes, so a test can read the pacing rather than
// time it.
type pacingClock struct {
	RealClock
	mu    sync.Mutex
	waits []time.Duration
}

func (c *pacingClock) NewTimer(d time.Duration) Timer {
	return &pacingTimer{Timer: c.RealClock.NewTimer(d), c: c}
}

func (c *pacingClock) since(i int) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits[min(i, len(c.waits)):])
}

type pacingTimer struct {
	Timer
	c *pacingClock
}

func (t *pacingTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	t.c.waits = append(t.c.waits, d)
	t.c.mu.Unlock()
	return t.Timer.Reset(d)
}

// TestFastInterval: after a failed probe of an alive endpoint the next
// probes come at fast_interval until fall is reached; once down, the
// normal interval applies again.
func TestFastInterval(t *testing.T) {
	b := newBackend(t)
	rec := &recorder{t: t}
	clk := &pacingClock{}
	m := NewManager(Options{Emit: rec.emit, Clock: clk})
	const (
		interval = 300 * time.Millisecond
		fast     = 30 * time.Millisecond
	)
	ta := Target{ID: "a@fast.example", Liveness: &config.Probe{
		URL: b.srv.URL + "/live", Interval: config.Duration(interval), FastInterval: config.Duration(fast),
		Timeout: config.Duration(25 * time.Millisecond), Rise: 1, Fall: 3,
	}}
	m.SetTargets([]Target{ta})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	rec.waitFor(t, ta.ID, 0, "ready", state(gslb.Ready))
	mark := len(clk.since(0))
	b.alive.Store(false)
	down := rec.waitFor(t, ta.ID, 0, "down", state(gslb.Down))
	// Let one more wait be scheduled after the verdict.
	waitUntil(t, "a wait after down", func() bool {
		w := clk.since(mark)
		return len(w) >= 3 && w[len(w)-1] > interval/2 && w[len(w)-2] <= fast+fast/10
	})
	waits := clk.since(mark)
	// Waits after successful probes (scheduled before the backend died)
	// come first: skip them.
	for len(waits) > 0 && waits[0] > interval/2 {
		waits = waits[1:]
	}
	if len(waits) < 3 {
		t.Fatalf("waits %v", clk.since(mark))
	}
	// The probe that failed first and the next one are followed by
	// fast waits (at most fast + 10% jitter); the third failure makes it
	// down, and the wait after it is the normal interval (at least
	// interval - 10% jitter - the probe's own time).
	if waits[0] > fast+fast/10 || waits[1] > fast+fast/10 {
		t.Fatalf("waits after the first failures %v, want <= %v", waits[:2], fast+fast/10)
	}
	if waits[2] < interval-interval/10-50*time.Millisecond {
		t.Fatalf("wait after down %v, want the normal interval %v (waits %v, down at %v)", waits[2], interval, waits, down.Since)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
