package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/audit"
	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/hooks"
)

// ops turns what the publisher and the admin API see into failover hook
// events and audit entries. It is the one place where they are decided:
//
//   - write_primary: a write record came into force (a term-ordered
//     failover, failback or operator move). The hook fires on the node
//     that proposed it; every node records every change in its audit log.
//   - endpoint_state: an endpoint's agreed state changed (not its first
//     state after start). Every node agrees the same, so one node
//     notifies: the first alive member by name (this node when solo).
//   - region_drain: fired by the node whose API took the drain.
type ops struct {
	self string
	// started is when this process started: write records decided
	// before it (restored from the state file or a peer at start) were
	// hooked and audited when they were made, not again.
	started time.Time
	log     *zap.Logger
	hooks   *hooks.Dispatcher // nil: no hooks configured
	audit   *audit.Log        // nil: no audit log
}

// newOps opens the audit log and sets up the hooks of cfg. Both are read
// at start only: changing hooks or audit_log needs a restart.
func newOps(cfg *config.Config, log *zap.Logger, reg prometheus.Registerer) (*ops, error) {
	o := &ops{self: cfg.Node, log: log, started: time.Now()}
	if cfg.AuditLog.Path != "" {
		a, err := audit.Open(cfg.AuditLog)
		if err != nil {
			return nil, err
		}
		o.audit = a
	}
	if len(cfg.Hooks) > 0 {
		d, err := hooks.New(hooks.Options{Hooks: cfg.Hooks, Logger: log.Named("hooks"), Registerer: reg})
		if err != nil {
			o.close()
			return nil, err
		}
		o.hooks = d
	}
	return o, nil
}

// run delivers hook events until ctx ends.
func (o *ops) run(ctx context.Context) error {
	if o.hooks == nil {
		return nil
	}
	return o.hooks.Run(ctx)
}

func (o *ops) close() {
	if o.audit != nil {
		if err := o.audit.Close(); err != nil {
			o.log.Warn("closing the audit log", zap.Error(err))
		}
	}
}

// dashboardAudit is the audit log for the dashboard (a nil interface when
// there is none, so the API says so).
func (o *ops) dashboardAudit() interface {
	Write(gslb.Change) error
	Recent(int) []gslb.Change
} {
	if o.audit == nil {
		return nil
	}
	return o.audit
}

func (o *ops) record(c gslb.Change) {
	if o.audit == nil {
		return
	}
	if err := o.audit.Write(c); err != nil {
		o.log.Error("audit log write failed", zap.String("kind", c.Kind), zap.Error(err))
	}
}

// snapshotChanged is called by the publisher after every swap, with the
// agreed state changes the swap brought.
func (o *ops) snapshotChanged(cur, next *gslb.Snapshot, events []gslb.Event) {
	o.activeChanged(cur, next)
	if o.hooks == nil || !o.notifier(next.View()) {
		return
	}
	for _, ev := range events {
		if ev.From == gslb.Unknown {
			continue // the first state after start is not a change
		}
		info, ok := next.Endpoint(ev.Endpoint)
		if !ok {
			continue
		}
		o.hooks.Fire(gslb.Change{Kind: gslb.ChangeEndpointState, At: ev.At, Node: o.self, Name: info.GSLBName,
			Endpoint: ev.Endpoint, Region: info.Region, From: ev.From.String(), To: ev.To.String(),
			Reason: ev.Reason, LagSeconds: gslb.Lag(info.State.Lag, info.State.LagKnown)})
	}
}

// notifier: this node is the first alive member by name.
func (o *ops) notifier(v gslb.View) bool {
	for _, m := range v.Members { // sorted by name
		if m.Alive {
			return m.Name == o.self
		}
	}
	return true
}

// activeChanged handles the write records that came into force between
// cur and next (term-ordered, so each is one failover, failback or
// operator move): every one decided since this process started is
// audited; the hook fires on the node that proposed it.
func (o *ops) activeChanged(cur, next *gslb.Snapshot) {
	for _, r := range newWrites(cur.WriteHistory(), next.WriteHistory()) {
		c := gslb.Change{Kind: gslb.ChangeWritePrimary, At: r.At, Node: r.By, Name: r.Name, From: r.From,
			To: r.Region, Term: r.Term, Reason: r.Reason, LagSeconds: gslb.Lag(r.Lag, r.LagKnown)}
		if r.At.Before(o.started) {
			continue
		}
		o.record(c)
		if r.By == o.self {
			o.hooks.Fire(c)
		}
	}
}

// regionDrained is called by the admin API after a region drain or
// undrain was applied on this node.
func (o *ops) regionDrained(d gslb.Drain) {
	to := "undrained"
	if d.Drained {
		to = "drained"
	}
	o.hooks.Fire(gslb.Change{Kind: gslb.ChangeRegionDrain, At: d.At, Node: o.self, Region: d.Region, To: to,
		Reason: d.Reason, WindowFrom: d.From, WindowUntil: d.Until})
}

// applyDrain stamps an operator's drain with this node and now, hands it
// to the cluster and persists it before the API answers: the admin API's
// Options.Drain.
func applyDrain(store *gslb.Store, node *cluster.Node, state *stateFile, o *ops, log *zap.Logger) func(gslb.Drain) error {
	return func(d gslb.Drain) error {
		snap := store.Load()
		if d.Endpoint != "" {
			if _, ok := snap.Endpoint(d.Endpoint); !ok {
				return dashboard.ErrUnknownEndpoint
			}
		}
		if d.Region != "" && !slices.ContainsFunc(snap.Regions(), func(r config.Region) bool { return r.Name == d.Region }) {
			return fmt.Errorf("unknown region %q", d.Region)
		}
		d.At, d.By = time.Now().UTC(), snap.NodeName()
		if err := state.saveDrain(node, d); err != nil {
			return err // refused before it is applied or gossiped
		}
		node.SetDrain(d)
		log.Info("drain changed by operator", zap.String("endpoint", d.Endpoint), zap.String("region", d.Region),
			zap.Bool("drained", d.Drained), zap.Time("from", d.From), zap.Time("until", d.Until), zap.String("reason", d.Reason))
		if d.Region != "" {
			o.regionDrained(d)
		}
		if err := state.save(node.Drains(), node.Writes()); err != nil {
			return fmt.Errorf("drain applied and gossiped, but not persisted: %w", err)
		}
		return nil
	}
}
