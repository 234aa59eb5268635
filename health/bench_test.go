package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProbers1000 runs 1,000 endpoints (half HTTP, half TCP) at a 1s
// interval against four local servers and reports, per 3s steady-state
// window, the goroutines in use, the CPU used (in cores, servers
// included) and the observations emitted per second. Each HTTP probe has
// its own path, so all 1,000 are distinct targets.
func BenchmarkProbers1000(b *testing.B) { benchProbers(b, 1000, time.Second, 3*time.Second) }

// BenchmarkProbers10k runs 10,000 distinct targets at a 5s interval, the
// issue's "10k targets on a few goroutines" case.
func BenchmarkProbers10k(b *testing.B) { benchProbers(b, 10000, 5*time.Second, 6*time.Second) }

func benchProbers(b *testing.B, n int, interval, window time.Duration) {
	var srvs []*httptest.Server
	for range 4 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer s.Close()
		srvs = append(srvs, s)
	}
	targets := make([]Target, 0, n)
	for i := range n {
		s := srvs[i%len(srvs)]
		p := &config.Probe{Interval: config.Duration(interval), Timeout: config.Duration(500 * time.Millisecond), Rise: 2, Fall: 3}
		if i%2 == 0 || n > 1000 {
			p.URL = fmt.Sprintf("%s/healthz/%d", s.URL, i)
		} else {
			// TCP probes of one address share a target: vary the timeout.
			p.Address = s.Listener.Addr().String()
			p.Timeout = config.Duration(100*time.Millisecond + time.Duration(i)*time.Microsecond)
		}
		targets = append(targets, Target{ID: fmt.Sprintf("e%d@bench", i), Liveness: p})
	}
	base := runtime.NumGoroutine()
	var probes atomic.Int64
	var goroutines, cores, rate float64
	for range b.N {
		m := NewManager(Options{Emit: func(gslb.Observation) { probes.Add(1) }})
		m.SetTargets(targets)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		select {
		case <-m.FirstRound():
		case <-time.After(30 * time.Second):
			b.Fatal("first round never completed")
		}
		if len(m.Snapshot()) != n {
			b.Fatalf("snapshot has %d endpoints", len(m.Snapshot()))
		}
		p0, c0, t0 := probes.Load(), cpuTime(b), time.Now()
		peak := 0
		for time.Since(t0) < window {
			peak = max(peak, runtime.NumGoroutine()-base)
			time.Sleep(50 * time.Millisecond)
		}
		wall := time.Since(t0)
		goroutines += float64(peak)
		cores += float64(cpuTime(b)-c0) / float64(wall)
		rate += float64(probes.Load()-p0) / wall.Seconds()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(goroutines/float64(b.N), "goroutines")
	b.ReportMetric(cores/float64(b.N), "cpu-cores")
	b.ReportMetric(rate/float64(b.N), "probes/s")
}
