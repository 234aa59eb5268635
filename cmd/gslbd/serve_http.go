package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// readinessGates is what /readyz checks: the node is not stopping, the
// first probe round is done, the cluster is joined and synced, and no
// write name is fenced.
func readinessGates(stopping *atomic.Bool, hm *health.Manager, node *cluster.Node, store *gslb.Store) func() []string {
	return func() []string {
		var unmet []string
		if stopping.Load() {
			unmet = append(unmet, "stopping: lame-duck period before shutdown")
		}
		select {
		case <-hm.FirstRound():
		default:
			unmet = append(unmet, "first probe round not done")
		}
		if why := hm.Impaired(); why != "" {
			unmet = append(unmet, why)
		}
		st := node.Status()
		if !st.Solo && !st.Joined {
			unmet = append(unmet, "cluster not joined: no seed reachable yet")
		}
		if !st.Synced {
			unmet = append(unmet, "cluster state not synced from peers yet")
		}
		for _, w := range store.Load().Writes() {
			if w.Fenced {
				unmet = append(unmet, "write name "+w.Name+": "+w.Reason)
			}
		}
		return unmet
	}
}

// httpParts is what the operator HTTP surface reads and drives.
type httpParts struct {
	store  *gslb.Store
	node   *cluster.Node
	state  *stateFile
	ops    *ops
	reload *reloader
	src    *configSource
	gates  func() []string
	token  *atomic.Value
	reg    *prometheus.Registry
	log    *zap.Logger
}

// newHTTPServer builds the dashboard, API and metrics server. Operator
// actions go to the cluster (which gossips them) and the state file.
func newHTTPServer(h httpParts) *http.Server {
	store, node, state, log, reg := h.store, h.node, h.state, h.log, h.reg
	var dev dashboard.Dev
	if h.src.dev != nil {
		dev = h.src.dev
	}
	handler := dashboard.New(dashboard.Options{
		Source:   store,
		Gates:    h.gates,
		Gatherer: reg,
		Token:    func() string { return h.token.Load().(string) },
		Drain:    applyDrain(store, node, state, h.ops, log),
		Audit:    h.ops.dashboardAudit(),
		SetActive: func(name, region string) error {
			// The same record rule as a failover: Term+1, only with a
			// quorum, to a ready region.
			r, err := store.Load().ProposeMove(name, region)
			if err != nil {
				return err
			}
			if r, err = node.Propose(r); err != nil {
				return err
			}
			log.Info("write name moved by operator", zap.String("name", name), zap.String("region", region), zap.Uint64("term", r.Term))
			if err := state.save(node.Drains(), node.Writes()); err != nil {
				return fmt.Errorf("write record accepted and gossiped, but not persisted: %w", err)
			}
			return nil
		},
		Cluster:    func() any { return node.Status() },
		Reload:     func() any { return h.reload.status() },
		Hosts:      func() []string { return store.Load().Config().Listen.HTTPHosts },
		Dev:        dev,
		Logger:     log.Named("http"),
		Registerer: reg,
	})
	// Slow or idle clients must not hold the operators' endpoint hostage.
	return &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
}
