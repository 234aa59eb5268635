package main

import (
	"context"
	"errors"
	"net"
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

// probeListener is a TCP listener on loopback that accepts and closes
// every connection: the reload tests' probe target.
var probeListener = sync.OnceValue(func() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
})

// reloadTestConfig has one endpoint per region listed, each with a TCP
// probe of its own (every 100ms), and the admin token given.
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
		// The timeouts differ, so each endpoint is a probe target of its own.
		src += "          - {region: " + r + ", addresses: [192.0.2." + string(rune('1'+i)) + "], liveness: {address: \"" +
			probeListener() + "\", interval: 100ms, timeout: " + string(rune('5'+i)) + "0ms, rise: 1, fall: 1}}\n"
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
	targets, endpoints := probeTargets(cfg)
	h.node, err = cluster.New(cluster.Options{Node: cfg.Node, Config: cfg.Cluster, Targets: targets, Endpoints: endpoints,
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

// observed lists the endpoints (of the config file now) whose probe
// targets the health Manager has observed.
func (h *pubHarness) observed() []string {
	b, err := os.ReadFile(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg, err := config.Parse(b, h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range h.hm.Snapshot() {
		seen[o.Target] = true
	}
	var ids []string
	for _, e := range cfg.AllEndpoints() {
		if seen[e.ProbeID] {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// endpointState is an endpoint's agreed state in the published Snapshot.
func (h *pubHarness) endpointState(id string) gslb.State {
	info, _ := h.store.Load().Endpoint(id)
	return info.State.State
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
	h.pub.reload.prepareCluster = func(c config.Cluster, targets []string, eps int) (func() []string, error) {
		if _, err := realPrepare(c, targets, eps); err != nil { // the real check runs, its commit is dropped
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
			if o.ObservedAt.After(st.At.Add(300 * time.Millisecond)) {
				return true
			}
		}
		return false
	})
	if n := len(h.hm.Snapshot()); n != 1 {
		t.Errorf("health observes %d targets, want the old one", n)
	}
	if ids := h.observed(); !slices.Equal(ids, []string{"r1@app.gslb.test"}) {
		t.Errorf("health targets %v", ids)
	}
	// The cluster keeps the old target list and quorum: a reload that
	// succeeds now commits, and the old quorum shows in its View.
	if v := h.node.View(); len(v.Targets) != 1 {
		t.Errorf("cluster targets %v", v.Targets)
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
	waitFor(t, "cluster targets", 10*time.Second, func() bool { return len(h.node.View().Targets) == 2 })
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
		return h.endpointState("r1@app.gslb.test") == gslb.Ready
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
		return h.endpointState("r1@app.gslb.test") == gslb.Drained
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
