package main

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestGracefulStop: after SIGTERM /readyz turns 503 while queries keep
// being answered through the lame-duck period, and the process exits 0.
func TestGracefulStop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	// The lame duck is long and the windows below are wide, so a loaded
	// machine running the race detector cannot push the checks past it.
	const lameDuck = 6 * time.Second
	n := startNode(t, "-dev", "-lameduck", lameDuck.String())
	waitFor(t, "answers", 20*time.Second, func() bool { return len(n.answersFor("www.gslb.test", "")) == 1 })

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	waitFor(t, "readyz 503 after SIGTERM", lameDuck-2*time.Second, func() bool {
		code, _ := n.get("/readyz")
		return code == 503
	})
	// Every query sent until a second before the lame duck ends must be
	// answered.
	var answered, failed atomic.Int64
	for i := 0; i < 5000 && time.Since(signalled) < lameDuck-time.Second; i++ {
		r, err := n.query("www.gslb.test", mdns.TypeA, "")
		if err != nil || r.Rcode != mdns.RcodeSuccess {
			failed.Add(1)
			continue
		}
		answered.Add(1)
	}
	if failed.Load() > 0 || answered.Load() == 0 {
		t.Errorf("during lame duck: %d answered, %d failed", answered.Load(), failed.Load())
	}
	select {
	case err := <-n.done:
		n.done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("gslbd did not exit after SIGTERM")
	}
}
