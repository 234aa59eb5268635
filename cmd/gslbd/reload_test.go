package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// reloadTestConfig has one endpoint without probes per region listed,
// re-observed every 100ms, and the admin token given.
func reloadTestConfig(token, quorum string, regions ...string) string {
	src := `node: pub-test
admin: {token: ` + token + `}
cluster: {refresh: 100ms, stale_after: 1s, quorum: "` + quorum + `"}
regions: [{name: r1, latitude: 1, longitude: 2}, {name: r2, latitude: 3, longitude: 4}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: app
        endpoints:
`
	for i, r := range regions {
		src += "          - {region: " + r + ", addresses: [192.0.2." + string(rune('1'+i)) + "]}\n"
	}
	return src
}

// pubHarness is the publisher with the real parts it drives: a health
// Manager and a solo cluster Node, both running, as serve wires them.
type pubHarness struct {
	t     *testing.T
	path  string
	pub   *publisher
	store *gslb.Store
	hm    *health.Manager
	node  *cluster.Node
	reg   *prometheus.Registry
	token atomic.Value
	hup   chan os.Signal
}

func newPubHarness(t *testing.T, src string) *pubHarness {
	h := &pubHarness{t: t, path: filepath.Join(t.TempDir(), "gslbd.yaml"), store: &gslb.Store{},
		reg: prometheus.NewRegistry(), hup: make(chan os.Signal, 1)}
	h.write(src)
	cs := &configSource{path: h.path}
	cfg, loc, err := cs.load()
	if err != nil {
		t.Fatal(err)
	}
	log := zap.NewNop()
	views := make(chan gslb.View, 1)
	h.node, err = cluster.New(cluster.Options{Node: cfg.Node, Config: cfg.Cluster, Endpoints: endpointIDs(cfg),
		OnView: func(v gslb.View) { offerLatest(views, v) }})
	if err != nil {
		t.Fatal(err)
	}
	h.hm = health.NewManager(health.Options{Emit: h.node.Observe})
	h.hm.SetTargets(health.TargetsFromConfig(cfg))
	snap, err := gslb.NewSnapshot(gslb.Options{Config: cfg, Locator: loc, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	h.store.Swap(snap)
	h.token.Store(cfg.Admin.Secret)
	opsHooks, err := newOps(cfg, log, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(opsHooks.close)
	h.pub = &publisher{store: h.store, views: views, hup: h.hup, reload: newReloader(cs.load, h.node.PrepareReload),
		log: log, m: newMetrics(h.reg), health: h.hm, cluster: h.node, state: &stateFile{log: log}, ops: opsHooks,
		setToken: func(s string) { h.token.Store(s) }}
	h.pub.m.configLoaded(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{h.hm.Run, h.node.Run, h.pub.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return h
}

func (h *pubHarness) write(src string) {
	h.t.Helper()
	if err := os.WriteFile(h.path, []byte(src), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// observed lists the endpoints the health Manager probes.
func (h *pubHarness) observed() []string {
	var ids []string
	for _, o := range h.hm.Snapshot() {
		ids = append(ids, o.Endpoint)
	}
	slices.Sort(ids)
	return ids
}

// reloadAndWait sends SIGHUP and waits for the reload's outcome.
func (h *pubHarness) reloadAndWait() *reloadStatus {
	h.t.Helper()
	before := h.pub.reload.status()
	h.hup <- os.Interrupt
	var st *reloadStatus
	waitFor(h.t, "reload outcome", 10*time.Second, func() bool {
		st = h.pub.reload.status()
		return st != nil && st != before
	})
	return st
}

// TestReloadLastStepFailsLeavesOldState injects a fault into the cluster
// keyring step, the last fallible step of a reload: the Snapshot, health
// targets, cluster settings, admin token and config metric all keep the
// old config, and /api/v1/state's reload status and the metrics say error.
func TestReloadLastStepFailsLeavesOldState(t *testing.T) {
	h := newPubHarness(t, reloadTestConfig("old-token-0123456789", "majority", "r1"))
	waitFor(t, "first observation", 10*time.Second, func() bool { return len(h.observed()) == 1 })
	old := h.store.Load()

	var prepared atomic.Int32
	realPrepare := h.pub.reload.prepareCluster
	h.pub.reload.prepareCluster = func(c config.Cluster, eps []string) (func() []string, error) {
		if _, err := realPrepare(c, eps); err != nil { // the real check runs, its commit is dropped
			return nil, err
		}
		prepared.Add(1)
		return nil, errors.New("cluster: keyring: injected fault")
	}
	h.write(reloadTestConfig("new-token-0123456789", "any", "r1", "r2"))
	st := h.reloadAndWait()

	if st.Result != "error" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "injected fault") || prepared.Load() != 1 {
		t.Fatalf("reload status %+v (cluster prepared %d times)", st, prepared.Load())
	}
	if cur := h.store.Load(); cur.Config() != old.Config() || len(cur.Endpoints()) != 1 {
		t.Errorf("Snapshot changed: config %s, endpoints %v", cur.Config().Hash, cur.Endpoints())
	}
	if got := h.token.Load(); got != "old-token-0123456789" {
		t.Errorf("admin token changed to %q", got)
	}
	// Health keeps probing the old target set only: wait until r1 has
	// been observed three periods after the reload, by when a new target
	// would have been observed too.
	waitFor(t, "r1 observed after the reload", 10*time.Second, func() bool {
		for _, o := range h.hm.Snapshot() {
			if o.Endpoint == "r1@app.gslb.test" && o.ObservedAt.After(st.At.Add(300*time.Millisecond)) {
				return true
			}
		}
		return false
	})
	if ids := h.observed(); !slices.Equal(ids, []string{"r1@app.gslb.test"}) {
		t.Errorf("health targets %v", ids)
	}
	// The cluster keeps the old endpoint list and quorum: a reload that
	// succeeds now commits, and the old quorum shows in its View.
	if v := h.node.View(); len(v.Endpoints) != 1 {
		t.Errorf("cluster endpoints %v", v.Endpoints)
	}
	if n := value(h.pub.m.reloads.WithLabelValues("error")); n != 1 {
		t.Errorf("reloads{error} = %v", n)
	}
	if n := value(h.pub.m.lastOK); n != 0 {
		t.Errorf("last reload successful = %v, want 0", n)
	}
	if n := value(h.pub.m.info.WithLabelValues(old.Config().Hash)); n != 1 {
		t.Errorf("config info for the old hash = %v", n)
	}

	// Without the fault the same file commits everywhere.
	h.pub.reload.prepareCluster = realPrepare
	st = h.reloadAndWait()
	if st.Result != "ok" || h.token.Load() != "new-token-0123456789" || len(h.store.Load().Endpoints()) != 2 {
		t.Fatalf("second reload: %+v, token %q", st, h.token.Load())
	}
	waitFor(t, "new target observed", 10*time.Second, func() bool { return len(h.observed()) == 2 })
	waitFor(t, "cluster endpoints", 10*time.Second, func() bool { return len(h.node.View().Endpoints) == 2 })
	if n := value(h.pub.m.lastOK); n != 1 {
		t.Errorf("last reload successful = %v, want 1", n)
	}
}

// TestSlowReloadKeepsViewsFlowing stalls a reload's reading: the
// publisher keeps building Snapshots from new Views meanwhile, abandons
// the reload after its limit with an error, and drops its late result.
func TestSlowReloadKeepsViewsFlowing(t *testing.T) {
	h := newPubHarness(t, reloadTestConfig("old-token-0123456789", "majority", "r1"))
	waitFor(t, "r1 ready", 10*time.Second, func() bool {
		return h.store.Load().View().Endpoints["r1@app.gslb.test"].State == gslb.Ready
	})
	release := make(chan struct{})
	realLoad := h.pub.reload.load
	entered := make(chan struct{}, 1)
	h.pub.reload.load = func() (*config.Config, *geo.Locator, error) {
		entered <- struct{}{}
		<-release
		return realLoad()
	}
	h.pub.reload.timeout = 2 * time.Second
	h.write(reloadTestConfig("new-token-0123456789", "majority", "r1", "r2"))
	h.hup <- os.Interrupt
	<-entered

	// An operator drain during the stalled reload reaches the answers.
	h.node.SetDrain(gslb.Drain{Endpoint: "r1@app.gslb.test", Drained: true, At: time.Now(), By: "test"})
	waitFor(t, "drain in the Snapshot during the reload", 5*time.Second, func() bool {
		return h.store.Load().View().Endpoints["r1@app.gslb.test"].State == gslb.Drained
	})

	st := h.reloadAndWaitNoSignal()
	if st.Result != "error" || !strings.Contains(strings.Join(st.Errors, " "), "abandoned") {
		t.Fatalf("status %+v, want an abandoned reload", st)
	}
	close(release)
	// The late result is dropped: the old config stays.
	waitFor(t, "late result dropped", 10*time.Second, func() bool { return h.pub.reload.dropped.Load() == 1 })
	if len(h.store.Load().Endpoints()) != 1 || h.token.Load() != "old-token-0123456789" {
		t.Fatal("an abandoned reload was applied")
	}
	// A reload after it works normally.
	h.pub.reload.load = realLoad
	if st := h.reloadAndWait(); st.Result != "ok" || len(h.store.Load().Endpoints()) != 2 {
		t.Fatalf("next reload %+v", st)
	}
}

// reloadAndWaitNoSignal waits for the outcome of the reload in flight.
func (h *pubHarness) reloadAndWaitNoSignal() *reloadStatus {
	h.t.Helper()
	var st *reloadStatus
	waitFor(h.t, "reload outcome", 10*time.Second, func() bool {
		st = h.pub.reload.status()
		return st != nil
	})
	return st
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}
