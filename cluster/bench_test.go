package cluster

import (
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// BenchmarkFailoverConvergence5 measures, in a 5-node loopback cluster
// with memberlist's LAN timings (gossip every 200ms), the time from every
// node observing an endpoint Down (as each prober would after fall ×
// interval; here at the same instant) until every node's agreed View says
// Down. Probe detection time (fall × interval) comes on top of it.
//
//	go test -run '^$' -bench FailoverConvergence5 ./cluster
func BenchmarkFailoverConvergence5(b *testing.B) {
	h := newHarness(b)
	all := names("n", 5)
	for _, name := range all {
		h.start(name, 5, withTune(nil))
	}
	h.waitMembers(all, 5)

	var total, worst time.Duration
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		h.observe(all, epWeb, gslb.Ready)
		h.waitState(all, epWeb, gslb.Ready)
		b.StartTimer()

		start := time.Now()
		h.observe(all, epWeb, gslb.Down)
		deadline := start.Add(30 * time.Second)
		for !h.allInState(all, epWeb, gslb.Down) {
			if time.Now().After(deadline) {
				b.Fatal("no convergence within 30s")
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		rounds++
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(rounds), "ms/failover")
	b.ReportMetric(float64(worst.Microseconds())/1000, "ms-worst")
}
