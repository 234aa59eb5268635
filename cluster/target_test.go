package cluster

import (
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// TestSharedTargetOneObservation: two endpoints (of two names) probed
// through one target cost one observation per node in every node's table,
// and both follow the target's agreed state on every node; a
// drain of one of them still takes out that one only.
func TestSharedTargetOneObservation(t *testing.T) {
	const (
		target = "eu@www.gslb.example.com" // named after its first endpoint
		epA    = target
		epB    = "eu@api.gslb.example.com"
	)
	h := newHarness(t)
	all := []string{"n1", "n2"}
	for _, name := range all {
		h.start(name, 2, func(o *Options) { o.Targets, o.Endpoints = []string{target}, 2 })
	}
	h.waitMembers(all, 2)
	endpoints := func(name string) (a, b gslb.EndpointState) {
		v := h.nodes[name].View()
		return v.Endpoint(epA, target, "eu"), v.Endpoint(epB, target, "eu")
	}
	follow := func(want gslb.State) {
		t.Helper()
		for _, name := range all {
			waitFor(t, 30*time.Second, name+" endpoints "+want.String(), func() bool {
				a, b := endpoints(name)
				return a.State == want && b.State == want && len(a.Observers) == 2
			})
		}
	}
	h.observe(all, target, gslb.Ready)
	follow(gslb.Ready)
	h.observe(all, target, gslb.Down)
	follow(gslb.Down)
	for _, name := range all {
		n := h.nodes[name]
		n.mu.Lock()
		for node, byTarget := range n.obs {
			if len(byTarget) != 1 {
				t.Errorf("%s holds %d observations from %s, want 1 (one target)", name, len(byTarget), node)
			}
		}
		n.mu.Unlock()
	}
	// They travelled as gossip broadcasts (named per node and target, so
	// a newer one replaces a queued older one), not only by push/pull.
	if sent := metricValue(t, h.nodes["n1"].reg, "gslbd_cluster_messages_total", "direction", "sent", "type", "observation"); sent < 1 {
		t.Fatal("no observation broadcast")
	}
	h.nodes["n2"].SetDrain(gslb.Drain{Endpoint: epB, Drained: true})
	h.observe(all, target, gslb.Ready)
	for _, name := range all {
		waitFor(t, 30*time.Second, name+" drain of one endpoint", func() bool {
			a, b := endpoints(name)
			return a.State == gslb.Ready && b.State == gslb.Drained
		})
	}
}
