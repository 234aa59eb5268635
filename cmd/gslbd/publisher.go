package main

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// publisher is the one goroutine that builds and swaps Snapshots: on every
// agreed View from the cluster and on every reload. Nothing else writes the
// Store, so a query always sees one complete, consistent Snapshot. A
// SIGHUP's reading and building run off this goroutine (see reloader), so
// Views keep flowing into new Snapshots during a slow reload.
type publisher struct {
	store    *gslb.Store
	views    <-chan gslb.View
	hup      <-chan os.Signal
	reload   *reloader
	log      *zap.Logger
	m        *metrics
	health   *health.Manager
	cluster  *cluster.Node
	state    *stateFile
	ops      *ops
	protect  *protection
	setToken func(string)
	// firstRound is closed after this node's first full probe round;
	// startupLimit bounds the wait for it and for peer sync (see
	// gslb.View.Answering and Deciding).
	firstRound   <-chan struct{}
	startupLimit time.Duration
	firstDone    bool
	startupOver  bool

	// fingerprint identifies the loaded config and database files, so the
	// same files twice is a no-op.
	fingerprint string
}

func (p *publisher) run(ctx context.Context) error {
	p.fingerprint = p.store.Load().Config().Fingerprint
	releaseMemory()
	// rebuild fires when a Snapshot has a time-driven change pending (an
	// automatic failback whose hold ends), since no View change may come.
	rebuild := time.NewTimer(time.Hour)
	defer rebuild.Stop()
	limit := time.NewTimer(p.startupLimit)
	defer limit.Stop()
	first := p.firstRound
	for {
		rebuild.Reset(untilRebuild(p.store.Load()))
		select {
		case <-ctx.Done():
			return nil
		case v := <-p.views:
			p.applyView(v)
		case <-p.hup:
			p.reload.start(ctx, p.fingerprint)
		case res := <-p.reload.results:
			p.reloadDone(ctx, res)
		case <-p.reload.deadline.C:
			p.reloadTimedOut(ctx)
		case <-rebuild.C:
			p.applyView(p.store.Load().View())
		case <-first:
			first, p.firstDone = nil, true
			p.applyView(p.store.Load().View())
		case <-limit.C:
			if !p.startupOver {
				p.startupOver = true
				if v := p.store.Load().View(); !v.FirstRound || !v.Synced {
					p.log.Warn("start-up limit passed before the first probe round and peer sync; answering and deciding anyway",
						zap.Duration("limit", p.startupLimit), zap.Bool("first_round", v.FirstRound), zap.Bool("synced", v.Synced))
				}
				p.applyView(p.store.Load().View())
			}
		}
	}
}

// releaseMemory returns the heap that loading a config left free to the
// OS at once. Decoding and compiling a large config (100k names) peaks at
// several times what the node keeps; without this the runtime hands those
// pages back over minutes and the node's resident size stays near the
// peak. It costs one collection, after a start or a reload only.
func releaseMemory() { debug.FreeOSMemory() }

func untilRebuild(s *gslb.Snapshot) time.Duration {
	at := s.RebuildAt()
	if at.IsZero() {
		return time.Hour
	}
	return max(time.Until(at), 10*time.Millisecond)
}

func (p *publisher) applyView(v gslb.View) {
	// This node's own start-up gates travel with the View.
	v.FirstRound, v.StartupOver = p.firstDone, p.startupOver
	cur := p.store.Load()
	next := cur.WithView(v, time.Now())
	p.store.Swap(next)
	// The log says when answers changed: before the metrics, whose first
	// count of a failover under many names (new series) takes longer
	// than the swap itself.
	events := newEvents(cur, next)
	for _, ev := range events {
		p.log.Info("agreed state changed",
			zap.String("endpoint", ev.Endpoint), zap.Stringer("from", ev.From),
			zap.Stringer("to", ev.To), zap.String("reason", ev.Reason))
	}
	p.m.observeSwap(cur, next)
	p.logWrites(cur, next)
	p.propose(next)
	p.ops.snapshotChanged(cur, next, events)
	p.state.save(p.cluster.Drains(), p.cluster.Writes())
}

// propose hands the write-name changes a Snapshot proposes to the
// cluster, which accepts them only with a quorum and a higher term; the
// accepted record comes back in the next View.
func (p *publisher) propose(s *gslb.Snapshot) {
	for _, r := range s.Proposals() {
		if _, err := p.cluster.Propose(r); err != nil {
			lvl := zap.WarnLevel
			if errors.Is(err, gslb.ErrStaleTerm) {
				lvl = zap.DebugLevel // another node was first: its record is on its way
			}
			p.log.Log(lvl, "write change not proposed", zap.String("name", r.Name),
				zap.Uint64("term", r.Term), zap.String("region", r.Region), zap.Error(err))
		}
	}
}

// logWrites logs and counts every write record that came into force
// between two Snapshots: the record an RPO/RTO review starts from.
func (p *publisher) logWrites(cur, next *gslb.Snapshot) {
	for _, r := range newWrites(cur.WriteHistory(), next.WriteHistory()) {
		p.log.Warn("write primary changed", zap.String("name", r.Name), zap.Uint64("term", r.Term),
			zap.String("from", r.From), zap.String("to", r.Region), zap.String("reason", r.Reason),
			zap.String("by", r.By), zap.Strings("backers", r.Backers),
			zap.Duration("lag", r.Lag), zap.Bool("lag_known", r.LagKnown), zap.Duration("detection", r.Detection))
		p.m.writeChanged(r)
	}
	p.m.writesInForce(next)
}

// newWrites returns the records of all after the last one of old.
func newWrites(old, all []gslb.WriteActive) []gslb.WriteActive {
	if len(old) == 0 {
		return all
	}
	last := old[len(old)-1]
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Name == last.Name && all[i].Term == last.Term && all[i].By == last.By {
			return all[i+1:]
		}
	}
	return all
}

// newEvents returns next's events that cur did not have yet.
func newEvents(cur, next *gslb.Snapshot) []gslb.Event {
	old, all := cur.Events(), next.Events()
	if len(old) == 0 {
		return all
	}
	last := old[len(old)-1]
	for i := len(all) - 1; i >= 0; i-- {
		if all[i] == last {
			return all[i+1:]
		}
	}
	return all
}
