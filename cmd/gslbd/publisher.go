package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// publisher is the one goroutine that builds and swaps Snapshots: on every
// agreed View from the cluster and on every SIGHUP. Nothing else writes the
// Store, so a query always sees one complete, consistent Snapshot.
type publisher struct {
	store    *gslb.Store
	views    <-chan gslb.View
	hup      <-chan os.Signal
	src      *configSource
	log      *zap.Logger
	m        *metrics
	health   *health.Manager
	cluster  *cluster.Node
	state    *stateFile
	setToken func(string)

	// fingerprint identifies the loaded config and database files, so the
	// same files twice is a no-op.
	fingerprint string
}

func (p *publisher) run(ctx context.Context) error {
	p.fingerprint = fingerprint(p.store.Load().Config())
	// rebuild fires when a Snapshot has a time-driven change pending (an
	// automatic failback whose hold ends), since no View change may come.
	rebuild := time.NewTimer(time.Hour)
	defer rebuild.Stop()
	for {
		rebuild.Reset(untilRebuild(p.store.Load()))
		select {
		case <-ctx.Done():
			return nil
		case v := <-p.views:
			p.applyView(v)
		case <-p.hup:
			p.reload()
		case <-rebuild.C:
			p.applyView(p.store.Load().View())
		}
	}
}

func untilRebuild(s *gslb.Snapshot) time.Duration {
	at := s.RebuildAt()
	if at.IsZero() {
		return time.Hour
	}
	return max(time.Until(at), 10*time.Millisecond)
}

func (p *publisher) applyView(v gslb.View) {
	cur := p.store.Load()
	next := cur.WithView(v, time.Now())
	p.store.Swap(next)
	p.m.observeSwap(cur, next)
	for _, ev := range newEvents(cur, next) {
		p.log.Info("agreed state changed",
			zap.String("endpoint", ev.Endpoint), zap.Stringer("from", ev.From),
			zap.Stringer("to", ev.To), zap.String("reason", ev.Reason))
	}
	p.shareActive(next)
	p.state.save(p.cluster.Drains(), p.cluster.Actives())
}

// shareActive gossips the write-name failovers and failbacks this node
// decided, so every node sends writes to the same region.
func (p *publisher) shareActive(s *gslb.Snapshot) {
	for _, a := range s.ActiveChanges() {
		p.log.Info("write name active region changed", zap.String("name", a.Name), zap.String("region", a.Region))
		p.cluster.SetActive(a)
	}
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

// reload decodes, validates and builds the complete new Snapshot before it
// swaps anything; on any failure the old config keeps serving.
func (p *publisher) reload() {
	start := time.Now()
	cur := p.store.Load()
	cfg, loc, err := p.src.load()
	if err != nil {
		p.m.reload("error")
		p.log.Error("config reload refused; the old config keeps serving",
			zap.Strings("problems", strings.Split(err.Error(), "\n")))
		return
	}
	fp := fingerprint(cfg)
	if fp == p.fingerprint {
		p.m.reload("unchanged")
		p.log.Info("config reload: files unchanged, nothing to do", zap.String("hash", cfg.Hash))
		return
	}
	token, err := adminToken(cfg)
	if err != nil {
		p.m.reload("error")
		p.log.Error("config reload refused; the old config keeps serving", zap.Error(err))
		return
	}
	next, err := gslb.NewSnapshot(gslb.Options{Config: cfg, Locator: loc, Previous: cur, View: cur.View(), Now: time.Now()})
	if err != nil {
		p.m.reload("error")
		p.log.Error("config reload refused; the old config keeps serving", zap.Error(err))
		return
	}
	p.store.Swap(next)
	p.shareActive(next)
	p.fingerprint = fp
	p.health.SetTargets(health.TargetsFromConfig(cfg))
	if err := p.cluster.Reload(cfg.Cluster, endpointIDs(cfg)); err != nil {
		p.log.Warn("cluster settings partly applied", zap.Error(err))
	}
	p.setToken(token)
	p.m.configLoaded(cfg)
	p.m.reload("ok")
	if changed := listenChanged(cur.Config(), cfg); len(changed) > 0 {
		p.log.Warn("settings changed that need a restart; the running values stay", zap.Strings("settings", changed))
	}
	p.log.Info("config reloaded", zap.String("hash", cfg.Hash), zap.Duration("took", time.Since(start)))
}

// fingerprint is the config's hash plus the size and modification time of
// every file it names (GeoIP databases, key and token files), so a new
// GeoIP download or a rotated key reloads without a config edit.
func fingerprint(cfg *config.Config) string {
	var b strings.Builder
	b.WriteString(cfg.Hash)
	files := append([]string{cfg.Cluster.KeyFile, cfg.Admin.TokenFile}, cfg.GeoIP.Databases...)
	for _, path := range files {
		if path == "" {
			continue
		}
		if st, err := os.Stat(path); err == nil {
			fmt.Fprintf(&b, "|%s:%d:%d", path, st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}
