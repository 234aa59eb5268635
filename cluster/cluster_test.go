package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

const (
	epWeb = "eu@web.gslb.example.com"
	epAPI = "us@api.gslb.example.com"
)

// Each test endpoint is its own probe target here, named like it, in
// the region testRegions gives.
var (
	testEndpoints = []string{epWeb, epAPI}
	testRegions   = map[string]string{epWeb: "eu", epAPI: "us"}
)

// endpoint is test endpoint ep's agreed state in v: its target's,
// unless a drain takes it out.
func endpoint(v gslb.View, ep string) gslb.EndpointState { return v.Endpoint(ep, ep, testRegions[ep]) }

func testKey(b byte) string {
	k := make([]byte, keyLen)
	for i := range k {
		k[i] = b + byte(i)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// fastTune shortens memberlist's timings for loopback tests, with some
// slack for a loaded machine running the race detector.
func fastTune(c *memberlist.Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 150 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.GossipToTheDeadTime = 2 * time.Second
	c.SuspicionMult = 3
	c.TCPTimeout = 2 * time.Second
}

type tnode struct {
	*Node
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

type harness struct {
	t     testing.TB
	log   *zap.Logger
	nodes map[string]*tnode
	seed  string
}

// testLogWriter sends log lines to t.Log until the test's cleanup has
// stopped every node, and drops them afterwards: memberlist's probe
// goroutines can outlive Shutdown by a probe timeout and still log, and a
// t.Log after the test has completed panics.
type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

type nodeOpt func(*Options)

func withKeys(keys ...string) nodeOpt { return func(o *Options) { o.Config.Keys = keys } }
func withTransport(tr memberlist.Transport) nodeOpt {
	return func(o *Options) { o.Transport = tr }
}
func withTune(f func(*memberlist.Config)) nodeOpt { return func(o *Options) { o.Tune = f } }

func newHarness(t testing.TB) *harness {
	w := &testLogWriter{t: t}
	t.Cleanup(w.close) // runs after the nodes have stopped (LIFO)
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	h := &harness{t: t, nodes: map[string]*tnode{}, log: zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.WarnLevel))}
	t.Cleanup(func() {
		for _, n := range h.nodes {
			n.stop()
		}
	})
	return h
}

// start creates and runs a node that joins the first node started.
func (h *harness) start(name string, expect int, opts ...nodeOpt) *tnode {
	h.t.Helper()
	o := Options{
		Node: name,
		Config: config.Cluster{
			Bind:          "127.0.0.1:0",
			Expect:        expect,
			Keys:          []string{testKey(1)},
			StaleAfter:    config.Duration(time.Minute),
			IsolationHold: config.Duration(time.Hour),
			Refresh:       config.Duration(200 * time.Millisecond),
		},
		Targets:   testEndpoints,
		Endpoints: len(testEndpoints),
		Logger:    h.log.Named(name),
		Tune:      fastTune,
	}
	if h.seed != "" {
		o.Config.Seeds = []string{h.seed}
	}
	for _, f := range opts {
		f(&o)
	}
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o.Config = resolved(o.Config)
	n, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	// Rejoin attempts after a partition at loopback pace.
	n.joinMin, n.joinMax = 100*time.Millisecond, time.Second
	ctx, cancel := context.WithCancel(context.Background())
	tn := &tnode{Node: n, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx) }()
	waitFor(h.t, 10*time.Second, name+" listening", func() bool { return n.LocalAddr() != "" })
	if h.seed == "" {
		h.seed = n.LocalAddr()
	}
	h.nodes[name] = tn
	return tn
}

// stop ends Run (with a graceful leave) and waits for it to return.
func (n *tnode) stop() {
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		panic("cluster: Run did not return within 30s of cancel")
	}
	n.done <- nil // later stops return at once
}

// kill stops the node without a leave message, as a crash would.
func (n *tnode) kill() {
	n.skipLeave.Store(true)
	n.stop()
}

func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) waitMembers(names []string, alive int) {
	h.t.Helper()
	waitFor(h.t, 30*time.Second, fmt.Sprintf("%d alive members on %v", alive, names), func() bool {
		for _, name := range names {
			if h.nodes[name].Status().Alive != alive {
				return false
			}
		}
		return true
	})
}

func (h *harness) waitState(names []string, ep string, want gslb.State) {
	h.t.Helper()
	waitFor(h.t, 30*time.Second, fmt.Sprintf("%s %s on %v", ep, want, names), func() bool {
		return h.allInState(names, ep, want)
	})
}

func (h *harness) allInState(names []string, ep string, want gslb.State) bool {
	for _, name := range names {
		if endpoint(h.nodes[name].View(), ep).State != want {
			return false
		}
	}
	return true
}

func (h *harness) observe(names []string, ep string, st gslb.State) {
	for _, name := range names {
		h.nodes[name].Observe(gslb.Observation{Target: ep, State: st, ObservedAt: time.Now(), Reason: "test"})
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func TestThreeNodes(t *testing.T) {
	h := newHarness(t)
	all := names("n", 3)
	for _, name := range all {
		h.start(name, 3)
	}
	h.waitMembers(all, 3)
	// Isolated comes from the last View, computed just after the join.
	waitFor(t, 10*time.Second, "joined, synced, not isolated", func() bool {
		for _, name := range all {
			st := h.nodes[name].Status()
			if !st.Joined || !st.Synced || st.Alone || st.Isolated || st.Solo {
				return false
			}
		}
		return true
	})

	// Convergence.
	h.observe(all, epWeb, gslb.Ready)
	h.observe(all, epAPI, gslb.Ready)
	h.waitState(all, epWeb, gslb.Ready)
	h.waitState(all, epAPI, gslb.Ready)
	waitFor(t, 30*time.Second, "every node sees every observer", func() bool {
		for _, name := range all {
			if len(h.nodes[name].View().Targets[epWeb].Observers) != 3 {
				return false
			}
		}
		return true
	})

	// One node's probes fail alone: the region stays ready everywhere,
	// including on that node, once its peers' views are in.
	h.observe(all[:1], epWeb, gslb.Down)
	waitFor(t, 30*time.Second, "n1's down observation reaches everyone", func() bool {
		for _, name := range all {
			if h.nodes[name].View().Targets[epWeb].Observers["n1"].State != gslb.Down {
				return false
			}
		}
		return true
	})
	for _, name := range all {
		if s := h.nodes[name].View().Targets[epWeb].State; s != gslb.Ready {
			t.Fatalf("%s: %s is %s after one node's probes failed", name, epWeb, s)
		}
	}

	// A majority fails: down everywhere.
	h.observe(all[1:2], epWeb, gslb.Down)
	h.waitState(all, epWeb, gslb.Down)
	if s := h.nodes["n3"].View().Targets[epAPI].State; s != gslb.Ready {
		t.Fatalf("unrelated endpoint changed: %s", s)
	}

	// A drain on one node reaches all.
	h.nodes["n2"].SetDrain(gslb.Drain{Endpoint: epAPI, Drained: true})
	h.waitState(all, epAPI, gslb.Drained)
	for _, name := range all {
		ds := h.nodes[name].Drains()
		if len(ds) != 1 || ds[0].By != "n2" || !ds[0].Drained {
			t.Fatalf("%s drains %+v", name, ds)
		}
	}
	h.nodes["n3"].SetDrain(gslb.Drain{Endpoint: epAPI, Drained: false})
	h.waitState(all, epAPI, gslb.Ready)

	// A late joiner takes the whole state by push/pull before it says
	// it is synced: observations made long before it existed, and the
	// drain record.
	late := h.start("late", 3)
	waitFor(t, 30*time.Second, "late joiner synced", func() bool { return late.Status().Synced })
	waitFor(t, 30*time.Second, "late joiner has the agreed view", func() bool {
		v := late.View()
		return v.Synced && v.Targets[epWeb].State == gslb.Down && len(v.Targets[epWeb].Observers) == 3 &&
			endpoint(v, epAPI).Drain != nil
	})
	if metricValue(t, late.reg, "gslbd_cluster_messages_total", "direction", "received", "type", "state") < 1 {
		t.Fatal("late joiner received no push/pull state")
	}
	if metricValue(t, h.nodes["n1"].reg, "gslbd_cluster_messages_total", "direction", "sent", "type", "observation") < 1 {
		t.Fatal("no observation broadcast counted")
	}
	if metricValue(t, h.nodes["n1"].reg, "gslbd_cluster_members", "state", "alive") != 4 {
		t.Fatal("members gauge not 4 alive")
	}
}

func TestFiveNodesLeaveAndKill(t *testing.T) {
	h := newHarness(t)
	all := names("n", 5)
	for _, name := range all {
		h.start(name, 5)
	}
	h.waitMembers(all, 5)

	// n1, n2 ready; n3, n4, n5 down: majority down.
	h.observe(all[:2], epWeb, gslb.Ready)
	h.observe(all[2:], epWeb, gslb.Down)
	h.waitState(all, epWeb, gslb.Down)

	// n5 leaves gracefully: 2 ready of 4 is a tie, which keeps the last
	// agreed state (down).
	h.nodes["n5"].stop()
	rest := all[:4]
	waitFor(t, 30*time.Second, "n5 seen as left", func() bool {
		for _, name := range rest {
			ms := h.nodes[name].Status().Members
			i := slices.IndexFunc(ms, func(m gslb.Member) bool { return m.Name == "n5" })
			if i < 0 || ms[i].Alive {
				return false
			}
		}
		return true
	})
	h.waitState(rest, epWeb, gslb.Down)
	// The gauge is set when the node next recomputes its View, a moment
	// after Status (read live) shows the member gone.
	waitMetric(t, h.nodes["n1"].reg, "gslbd_cluster_members", 1, "state", "left")

	// n4 is killed without a leave: once the others declare it dead, 2
	// ready of 3 is a quorum.
	h.nodes["n4"].kill()
	rest = all[:3]
	h.waitMembers(rest, 3)
	h.waitState(rest, epWeb, gslb.Ready)
	for _, name := range rest {
		st := h.nodes[name].Status()
		if st.Isolated || st.Expect != 5 {
			t.Fatalf("%s: %+v", name, st)
		}
	}
	waitMetric(t, h.nodes["n1"].reg, "gslbd_cluster_members", 1, "state", "dead")
}

// waitMetric waits (10 s at most) until the metric with those labels is
// want, and fails with the last value it read.
func waitMetric(t *testing.T, reg *prometheus.Registry, name string, want float64, labelKV ...string) {
	t.Helper()
	var got float64
	deadline := time.Now().Add(10 * time.Second)
	for got = metricValue(t, reg, name, labelKV...); got != want; got = metricValue(t, reg, name, labelKV...) {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labelKV, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWrongKeyRefused(t *testing.T) {
	h := newHarness(t)
	good := names("n", 2)
	for _, name := range good {
		h.start(name, 2)
	}
	h.waitMembers(good, 2)
	h.observe(good, epWeb, gslb.Ready)
	h.waitState(good, epWeb, gslb.Ready)

	bad := h.start("intruder", 2, withKeys(testKey(99)))
	waitFor(t, 30*time.Second, "intruder's first join round fails", func() bool {
		st := bad.Status()
		return st.Synced && st.Alone
	})
	bad.Observe(gslb.Observation{Target: epWeb, State: gslb.Down, ObservedAt: time.Now()})
	bad.SetDrain(gslb.Drain{Endpoint: epWeb, Drained: true})

	// It also sends its records straight at n1, the way a joined peer's
	// gossip would arrive.
	bad.mu.Lock()
	ml := bad.ml
	bad.mu.Unlock()
	obs, _ := encodeObservation(gslb.Observation{Target: epWeb, Node: "intruder", State: gslb.Down, ObservedAt: time.Now(), Seq: 1})
	dr, _ := encodeDrain(gslb.Drain{Endpoint: epWeb, Drained: true, At: time.Now(), By: "intruder"})
	before := h.nodes["n1"].Status().MessagesReceived
	for range 20 {
		for _, b := range [][]byte{obs, dr} {
			if err := ml.SendToAddress(memberlist.Address{Addr: h.nodes["n1"].LocalAddr(), Name: "n1"}, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Give the good nodes plenty of traffic of their own (ordering the
	// intruder's packets before it) before looking.
	waitFor(t, 30*time.Second, "n1 to keep gossiping", func() bool {
		return h.nodes["n1"].Status().MessagesReceived > before+20
	})
	for _, name := range good {
		v := h.nodes[name].View()
		if len(v.Members) != 2 {
			t.Fatalf("%s members %+v", name, v.Members)
		}
		es := endpoint(v, epWeb)
		if _, ok := es.Observers["intruder"]; ok || es.State != gslb.Ready || es.Drain != nil {
			t.Fatalf("%s: intruder changed the view: %+v", name, es)
		}
	}
	if st := bad.Status(); st.Joined || st.Alive != 1 {
		t.Fatalf("intruder joined: %+v", st)
	}
}

func TestKeyRotation(t *testing.T) {
	h := newHarness(t)
	k1, k2 := testKey(1), testKey(2)
	all := names("n", 2)
	for _, name := range all {
		h.start(name, 2)
	}
	h.waitMembers(all, 2)
	cfg := func(keys ...string) config.Cluster {
		c := h.nodes["n1"].cfg
		c.Keys = keys
		return c
	}
	// Add k2 as secondary everywhere, make it primary everywhere, drop k1.
	for _, step := range [][]string{{k1, k2}, {k2, k1}, {k2}} {
		for _, name := range all {
			n := h.nodes[name]
			n.mu.Lock()
			c := n.cfg
			n.mu.Unlock()
			c.Keys = step
			if err := n.Reload(resolved(c), testEndpoints, len(testEndpoints)); err != nil {
				t.Fatalf("%s reload %d keys: %v", name, len(step), err)
			}
		}
	}
	kr := h.nodes["n1"].keyring
	if keys := kr.GetKeys(); len(keys) != 1 || base64.StdEncoding.EncodeToString(kr.GetPrimaryKey()) != k2 {
		t.Fatalf("keyring after rotation: %d keys", len(keys))
	}
	// Gossip still flows under the new key, and a node that only has k1
	// can no longer join.
	h.observe(all, epWeb, gslb.Down)
	h.waitState(all, epWeb, gslb.Down)
	old := h.start("old", 2, withKeys(k1))
	waitFor(t, 30*time.Second, "old-key node refused", func() bool { st := old.Status(); return st.Synced && st.Alone })
	if st := h.nodes["n1"].Status(); st.Alive != 2 {
		t.Fatalf("old-key node joined: %+v", st)
	}

	// Start-only settings are reported, the rest applied.
	c := cfg(k2)
	c.Seeds = []string{"127.0.0.1:1"}
	c.Quorum = "any"
	var re *RestartError
	if err := h.nodes["n1"].Reload(resolved(c), testEndpoints, len(testEndpoints)); !errors.As(err, &re) || !slices.Equal(re.Fields, []string{"cluster.seeds"}) {
		t.Fatalf("reload with new seeds: %v", err)
	}
	if q := h.nodes["n1"].quorum; q.Kind != gslb.QuorumAny {
		t.Fatalf("quorum not applied: %+v", q)
	}
	// A prepared reload changes nothing until it is committed.
	c = cfg(k1)
	commit, err := h.nodes["n1"].PrepareReload(resolved(c), testEndpoints, len(testEndpoints))
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.GetKeys()) != 1 || base64.StdEncoding.EncodeToString(kr.GetPrimaryKey()) != k2 {
		t.Fatal("PrepareReload touched the keyring")
	}
	commit()
	if base64.StdEncoding.EncodeToString(kr.GetPrimaryKey()) != k1 {
		t.Fatal("commit did not rotate the keyring")
	}
}

// cutTransport wraps memberlist's NetTransport; while cut, every packet
// and stream in either direction is dropped, like a pulled cable.
type cutTransport struct {
	inner     *memberlist.NetTransport
	cut       atomic.Bool
	packets   chan *memberlist.Packet
	streams   chan net.Conn
	stopOnce  sync.Once
	stop      chan struct{} // memberlist no longer reads packets/streams
	innerDown chan struct{} // inner has shut down: nothing more to drain
	wg        sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*cutTransport)(nil)

func newCutTransport(t *testing.T) *cutTransport {
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  0,
		Logger:    newMemberlistLogger(zap.NewNop()),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &cutTransport{
		inner:     inner,
		packets:   make(chan *memberlist.Packet),
		streams:   make(chan net.Conn),
		stop:      make(chan struct{}),
		innerDown: make(chan struct{}),
	}
	c.wg.Add(2)
	go pump(c, inner.PacketCh(), c.packets, func(*memberlist.Packet) {})
	go pump(c, inner.StreamCh(), c.streams, func(s net.Conn) { s.Close() })
	return c
}

// pump forwards in to out unless cut. It keeps draining in until the
// inner transport is down: NetTransport's listeners block sending on
// their unbuffered channels, and its Shutdown waits for them.
func pump[T any](c *cutTransport, in <-chan T, out chan<- T, drop func(T)) {
	defer c.wg.Done()
	for {
		select {
		case v := <-in:
			if c.cut.Load() {
				drop(v)
				continue
			}
			select {
			case out <- v:
			case <-c.stop:
				drop(v)
			}
		case <-c.innerDown:
			return
		}
	}
}

func (c *cutTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return c.inner.FinalAdvertiseAddr(ip, port)
}
func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return c.WriteToAddress(b, memberlist.Address{Addr: addr})
}
func (c *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if c.cut.Load() {
		return time.Now(), nil // lost on the wire
	}
	return c.inner.WriteToAddress(b, a)
}
func (c *cutTransport) PacketCh() <-chan *memberlist.Packet { return c.packets }
func (c *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return c.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}
func (c *cutTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, fmt.Errorf("dial %s: network unreachable (cut)", a.Addr)
	}
	return c.inner.DialAddressTimeout(a, timeout)
}
func (c *cutTransport) StreamCh() <-chan net.Conn { return c.streams }
func (c *cutTransport) Shutdown() error {
	var err error
	c.stopOnce.Do(func() {
		close(c.stop)
		err = c.inner.Shutdown()
		close(c.innerDown)
		c.wg.Wait()
	})
	return err
}

func TestPartitionKeepsLastAgreedState(t *testing.T) {
	h := newHarness(t)
	all := names("n", 3)
	// Members dead for more than a moment get no gossip at all, so the
	// heal below must come from n3 joining again.
	deadQuickly := withTune(func(c *memberlist.Config) {
		fastTune(c)
		c.GossipToTheDeadTime = 50 * time.Millisecond
	})
	h.start("n1", 3, deadQuickly)
	h.start("n2", 3, deadQuickly)
	tr := newCutTransport(t)
	cutNode := h.start("n3", 3, withTransport(tr), deadQuickly)
	h.waitMembers(all, 3)
	h.observe(all, epWeb, gslb.Ready)
	h.observe(all, epAPI, gslb.Ready)
	h.waitState(all, epWeb, gslb.Ready)
	waitFor(t, 30*time.Second, "every node holds every observation", func() bool {
		for _, name := range all {
			if len(h.nodes[name].View().Targets[epWeb].Observers) != 3 {
				return false
			}
		}
		return true
	})

	// Cut n3 off. Its own probes now fail too (it lost the internet),
	// but it must keep answering with its last agreed ready endpoints.
	// (Its probes are made to fail only once it is isolated: while it still
	// counts one peer alive, its Down against that peer's Ready is a 1:1
	// tie that the majority rule does not call ready.)
	tr.cut.Store(true)
	waitFor(t, 30*time.Second, "n3 isolated", func() bool { return cutNode.View().Isolated })
	if cutNode.Status().Alive != 1 {
		t.Fatalf("isolated n3 counts peers alive: %+v", cutNode.Status())
	}
	h.observe([]string{"n3"}, epWeb, gslb.Down)
	// A few more recomputes while isolated must not flip it.
	for i := 0; i < 3; i++ {
		at := cutNode.View().At
		waitFor(t, 10*time.Second, "another recompute", func() bool { return cutNode.View().At.After(at) })
		es := cutNode.View().Targets[epWeb]
		if es.State != gslb.Ready {
			t.Fatalf("isolated n3 turned %s down on its own probes: %+v", epWeb, es)
		}
	}
	if metricValue(t, cutNode.reg, "gslbd_cluster_isolated") != 1 {
		t.Fatal("isolated gauge not 1")
	}
	// The majority side is not isolated and still agrees on ready.
	h.waitMembers([]string{"n1", "n2"}, 2)
	for _, name := range []string{"n1", "n2"} {
		v := h.nodes[name].View()
		if v.Isolated || v.Targets[epWeb].State != gslb.Ready {
			t.Fatalf("%s: isolated=%v state=%s", name, v.Isolated, v.Targets[epWeb].State)
		}
	}

	// Once the isolation hold has run out, its own observations count.
	c := cutNode.cfg
	c.IsolationHold = config.Duration(time.Nanosecond)
	if err := cutNode.Reload(resolved(c), testEndpoints, len(testEndpoints)); err != nil {
		t.Fatal(err)
	}
	h.waitState([]string{"n3"}, epWeb, gslb.Down)

	// By now n1 and n2 have long stopped gossiping to n3 (dead for more
	// than GossipToTheDeadTime), so memberlist alone would never bring
	// the sides together again. Heal: n3, isolated, joins its seeds again
	// by itself and agrees with the majority.
	tr.cut.Store(false)
	h.observe([]string{"n3"}, epWeb, gslb.Ready)
	h.waitMembers(all, 3)
	h.waitState(all, epWeb, gslb.Ready)
	// Membership comes back before the next View is computed; the View
	// says so at its next round.
	waitFor(t, 30*time.Second, "n3 no longer isolated after heal", func() bool { return !cutNode.View().Isolated })
}

func TestSolo(t *testing.T) {
	var views atomic.Int64
	var mu sync.Mutex
	var last gslb.View
	n, err := New(Options{
		Node:      "solo",
		Targets:   testEndpoints,
		Endpoints: len(testEndpoints),
		Config:    config.Cluster{Refresh: config.Duration(50 * time.Millisecond)},
		OnView: func(v gslb.View) {
			views.Add(1)
			mu.Lock()
			last = v
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); !st.Solo || !st.Synced || st.Joined || st.Alone {
		t.Fatalf("solo status before Run: %+v", st)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	n.Observe(gslb.Observation{Target: epWeb, State: gslb.Ready, ObservedAt: time.Now()})
	n.Observe(gslb.Observation{Target: epAPI, State: gslb.Down, ObservedAt: time.Now()})
	waitFor(t, 10*time.Second, "solo view", func() bool {
		v := n.View()
		return v.Synced && v.Targets[epWeb].State == gslb.Ready && v.Targets[epAPI].State == gslb.Down
	})
	// OnView keeps coming on the refresh ticker with nothing changing.
	c := views.Load()
	waitFor(t, 10*time.Second, "periodic OnView", func() bool { return views.Load() > c+2 })
	mu.Lock()
	if last.Self != "solo" || last.Isolated {
		t.Fatalf("last view %+v", last)
	}
	mu.Unlock()
	if n.LocalAddr() != "" {
		t.Fatal("solo node has a gossip address")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Run's goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
	if err := n.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

// TestNewRejects covers what New itself refuses; everything about the
// cluster section (keys, quorum, addresses) is validated by config.Prepare
// and has its tests there.
func TestNewRejects(t *testing.T) {
	for name, o := range map[string]Options{
		"no name":   {Config: resolved(config.Cluster{})},
		"long name": {Node: strings.Repeat("n", maxNodeLen+1), Config: resolved(config.Cluster{})},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The decoded keys make the keyring, the first one primary.
	n, err := New(Options{Node: "a", Config: resolved(config.Cluster{Bind: "127.0.0.1:0", Keys: []string{testKey(1), testKey(2)}, Seeds: []string{"127.0.0.1:1"}})})
	if err != nil {
		t.Fatal(err)
	}
	if keys := n.keyring.GetKeys(); len(keys) != 2 || base64.StdEncoding.EncodeToString(n.keyring.GetPrimaryKey()) != testKey(1) {
		t.Fatalf("keyring: %d keys", len(keys))
	}
}

// stallTransport is memberlist's NetTransport whose outgoing streams (the
// push/pull of a join) hang until released, like seeds behind a firewall
// that drops SYNs.
type stallTransport struct {
	*memberlist.NetTransport
	dials   atomic.Int32
	dialing chan struct{} // one send per dial
	release chan struct{}
}

func (s *stallTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	s.dials.Add(1)
	select {
	case s.dialing <- struct{}{}:
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.release:
	case <-t.C:
	}
	return nil, fmt.Errorf("dial %s: i/o timeout", a.Addr)
}

func (s *stallTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return s.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// A stop while seeds hang waits for at most the one join dial in flight,
// not for one TCPTimeout per seed.
func TestStopDuringHangingJoin(t *testing.T) {
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		Logger:    newMemberlistLogger(zap.NewNop()),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := &stallTransport{NetTransport: inner, dialing: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHarness(t)
	var seeds []string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, ln.Addr().String())
		ln.Close()
	}
	n := h.start("n1", 4, withTransport(tr), func(o *Options) { o.Config.Seeds = seeds })
	select {
	case <-tr.dialing:
	case <-time.After(30 * time.Second):
		t.Fatal("no join attempt")
	}
	n.cancel()
	close(tr.release)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	n.done <- nil
	if d := tr.dials.Load(); d != 1 {
		t.Fatalf("%d seeds dialled after the stop began, want only the one in flight", d)
	}
}
