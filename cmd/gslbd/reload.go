package main

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// defaultReloadTimeout bounds how long a reload may read and build before
// it is abandoned. Reading a full GeoIP City database and compiling a
// large zone take a few seconds; anything slower is stuck.
const defaultReloadTimeout = 30 * time.Second

// reloadStatus is the outcome of the last reload, shown under "reload" in
// /api/v1/state. Result is ok, unchanged or error, as in the
// gslbd_config_reloads_total metric.
type reloadStatus struct {
	At     time.Time `json:"at"`
	Result string    `json:"result"`
	Took   string    `json:"took"`
	Errors []string  `json:"errors,omitempty"`
	// Restart lists changed settings that need a restart to apply.
	Restart []string `json:"restart,omitempty"`
	// Hash is the config hash in effect after the reload.
	Hash string `json:"hash"`
}

// reloadPlan is everything fallible about a reload, done: the config and
// its files, the locator and the compiled answer data.
type reloadPlan struct {
	cfg      *config.Config
	prepared *gslb.Prepared
}

// reloadResult is what the preparing goroutine hands to the publisher.
type reloadResult struct {
	gen   uint64
	start time.Time
	plan  *reloadPlan // nil when unchanged or failed
	err   error
}

// reloader runs reloads for the publisher: SIGHUP starts one off the
// publisher goroutine (at most one at a time; a SIGHUP meanwhile runs
// another after it), and the publisher commits the result.
type reloader struct {
	// load reads and checks the config and builds the locator: the
	// configSource's load.
	load func() (*config.Config, *geo.Locator, error)
	// prepareCluster checks a cluster change and returns its commit
	// (cluster.Node.PrepareReload); tests inject faults here.
	prepareCluster func(c config.Cluster, targets []string, endpoints int) (func() []string, error)
	timeout        time.Duration
	results        chan reloadResult

	gen      uint64 // of the reload in flight
	inflight bool
	pending  bool // a SIGHUP came while one was in flight
	deadline *time.Timer

	last atomic.Pointer[reloadStatus]
	// dropped counts late results of abandoned reloads.
	dropped atomic.Int32
}

func newReloader(load func() (*config.Config, *geo.Locator, error),
	prepareCluster func(config.Cluster, []string, int) (func() []string, error)) *reloader {
	r := &reloader{load: load, prepareCluster: prepareCluster, timeout: defaultReloadTimeout,
		results: make(chan reloadResult, 1), deadline: time.NewTimer(time.Hour)}
	r.deadline.Stop()
	return r
}

// status returns the last reload's outcome; nil before the first reload.
func (r *reloader) status() *reloadStatus { return r.last.Load() }

// start begins preparing a reload in its own goroutine, unless one is in
// flight, in which case another follows it. fingerprint is the running
// config's, so the same files twice is recognised without a rebuild.
func (r *reloader) start(ctx context.Context, fingerprint string) {
	if r.inflight {
		r.pending = true
		return
	}
	r.inflight, r.pending = true, false
	r.gen++
	gen, start := r.gen, time.Now()
	r.deadline.Reset(r.timeout)
	go func() {
		res := reloadResult{gen: gen, start: start}
		res.plan, res.err = r.prepare(fingerprint)
		select {
		case r.results <- res:
		case <-ctx.Done():
		}
	}()
}

// prepare does every read and build of a reload. It touches nothing the
// running daemon uses.
func (r *reloader) prepare(fingerprint string) (*reloadPlan, error) {
	cfg, loc, err := r.load()
	if err != nil {
		return nil, err
	}
	if cfg.Fingerprint == fingerprint {
		return nil, nil
	}
	prep, err := gslb.Prepare(cfg, loc)
	if err != nil {
		return nil, err
	}
	return &reloadPlan{cfg: cfg, prepared: prep}, nil
}

// finished marks the reload in flight done and reports whether a SIGHUP
// came meanwhile.
func (r *reloader) finished() (again bool) {
	r.deadline.Stop()
	r.inflight = false
	return r.pending
}

// abandon gives up on the reload in flight: its result, should it ever
// come, is dropped.
func (r *reloader) abandon() {
	r.gen++
	r.inflight = false
}

// reloadTimedOut records a reload that took longer than the limit.
func (p *publisher) reloadTimedOut(ctx context.Context) {
	r := p.reload
	r.abandon()
	err := fmt.Errorf("reload abandoned: reading and building took longer than %s", r.timeout)
	p.reloadFailed(time.Now().Add(-r.timeout), err)
	if r.pending {
		r.start(ctx, p.fingerprint)
	}
}

// reloadDone commits a prepared reload, or records why there is none.
// Everything fallible happened before; the cluster's check is the last
// step that may refuse, and only after it does anything change.
func (p *publisher) reloadDone(ctx context.Context, res reloadResult) {
	r := p.reload
	if res.gen != r.gen {
		r.dropped.Add(1)
		p.log.Info("late result of an abandoned reload dropped", zap.Duration("took", time.Since(res.start)))
		return
	}
	again := r.finished()
	defer func() {
		if again {
			r.start(ctx, p.fingerprint)
		}
	}()
	switch {
	case res.err != nil:
		p.reloadFailed(res.start, res.err)
		return
	case res.plan == nil:
		p.m.reload("unchanged")
		cur := p.store.Load().Config()
		r.last.Store(&reloadStatus{At: time.Now(), Result: "unchanged", Took: time.Since(res.start).String(), Hash: cur.Hash})
		p.log.Info("config reload: files unchanged, nothing to do", zap.String("hash", cur.Hash))
		return
	}
	cfg := res.plan.cfg
	targets, endpoints := probeTargets(cfg)
	commitCluster, err := r.prepareCluster(cfg.Cluster, targets, endpoints)
	if err != nil {
		p.reloadFailed(res.start, err)
		return
	}

	// Commit: nothing below can fail.
	cur := p.store.Load()
	next := res.plan.prepared.Snapshot(cur, cur.View(), time.Now())
	p.store.Swap(next)
	p.propose(next)
	p.ops.snapshotChanged(cur, next, nil)
	p.fingerprint = cfg.Fingerprint
	p.health.SetTargets(health.TargetsFromConfig(cfg))
	restart := commitCluster()
	p.setToken(cfg.Admin.Secret)
	p.m.configLoaded(cfg)
	p.m.reload("ok")
	restart = append(restart, listenChanged(cur.Config(), cfg)...)
	restart = append(restart, p.protect.reload(cfg)...)
	took := time.Since(res.start)
	r.last.Store(&reloadStatus{At: time.Now(), Result: "ok", Took: took.String(), Restart: restart, Hash: cfg.Hash})
	if len(restart) > 0 {
		p.log.Warn("settings changed that need a restart; the running values stay", zap.Strings("settings", restart))
	}
	p.log.Info("config reloaded", zap.String("hash", cfg.Hash), zap.Duration("took", took))
	releaseMemory()
}

func (p *publisher) reloadFailed(start time.Time, err error) {
	problems := strings.Split(err.Error(), "\n")
	p.m.reload("error")
	p.reload.last.Store(&reloadStatus{At: time.Now(), Result: "error", Took: time.Since(start).String(),
		Errors: problems, Hash: p.store.Load().Config().Hash})
	p.log.Error("config reload refused; the old config keeps serving", zap.Strings("problems", problems))
}

// listenChanged lists the settings that a reload cannot apply.
func listenChanged(old, cur *config.Config) []string {
	var out []string
	if !slices.Equal(old.Listen.DNS, cur.Listen.DNS) {
		out = append(out, "listen.dns")
	}
	if old.Listen.HTTP != cur.Listen.HTTP {
		out = append(out, "listen.http")
	}
	if old.Listen.UDPSize != cur.Listen.UDPSize {
		out = append(out, "listen.udp_size")
	}
	if old.Listen.TCPIdleTimeout != cur.Listen.TCPIdleTimeout {
		out = append(out, "listen.tcp_idle_timeout")
	}
	if old.Node != cur.Node {
		out = append(out, "node")
	}
	if old.StateFile != cur.StateFile {
		out = append(out, "state_file")
	}
	if !reflect.DeepEqual(old.Hooks, cur.Hooks) {
		out = append(out, "hooks")
	}
	if old.AuditLog != cur.AuditLog {
		out = append(out, "audit_log")
	}
	if old.Listen.UDPWorkers != cur.Listen.UDPWorkers {
		out = append(out, "listen.udp_workers")
	}
	if old.Listen.MaxConns != cur.Listen.MaxConns {
		out = append(out, "listen.max_conns")
	}
	if (old.Listen.HTTPTLS.CertFile == "") != (cur.Listen.HTTPTLS.CertFile == "") {
		out = append(out, "listen.http_tls") // TLS on or off; new files are followed
	}
	return out
}
