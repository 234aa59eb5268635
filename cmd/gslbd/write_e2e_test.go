package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/internal/testenv"
)

// The write-name scenarios of the README run real gslbd processes and
// assert answers over DNS. Each is repeated writeRounds times.
const writeRounds = 3

// wbackend is a liveness target that can die for everyone or answer 503
// to one node's probes only (that node's bad network path). Probe URLs
// carry ?from=<node>.
type wbackend struct {
	url   string
	alive atomic.Bool
	mu    sync.Mutex
	bad   map[string]bool
}

func newWBackend(t testing.TB, ip string) *wbackend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	b := &wbackend{url: "http://" + ln.Addr().String(), bad: map[string]bool{}}
	b.alive.Store(true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		bad := b.bad[r.URL.Query().Get("from")]
		b.mu.Unlock()
		if !b.alive.Load() || bad {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *wbackend) badFor(node string, bad bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bad[node] = bad
}

// wnode is one node's place in a write-name scenario.
type wnode struct {
	name   string
	gossip string // host:port; "" for a solo node
	opts   nodeOpts
}

// writeConfig is a node's config: a read name app and a write name db,
// both over r1 (192.0.2.1x) and r2, probed every second (fall 2), with
// a state file and a 2 s write grace.
func writeConfig(t testing.TB, dir string, me wnode, all []wnode, b1, b2 *wbackend) string {
	t.Helper()
	var seeds []string
	for _, o := range all {
		if o.name != me.name {
			seeds = append(seeds, o.gossip)
		}
	}
	cluster := ""
	if me.gossip != "" {
		cluster = fmt.Sprintf(`cluster:
  bind: %s
  seeds: [%s]
  expect: %d
  keys: [%s]
  write_grace: 2s
`, me.gossip, strings.Join(seeds, ", "), len(all), testKey)
	}
	zone := twoRegions{url1: b1.url + "/healthz?from=" + me.name, url2: b2.url + "/healthz?from=" + me.name,
		health: "{interval: 1s, timeout: 500ms, rise: 1, fall: 2}", write: true}
	cfg := fmt.Sprintf("node: %s\nstate_file: %s\nadmin: {token: %s}\n",
		me.name, filepath.Join(dir, me.name+".state.json"), testAdminToken)
	return writeFile(t, filepath.Join(dir, me.name+".yaml"), cfg+zone.yaml()+cluster)
}

// startWriteCluster starts every node of all and waits until each is
// ready and answers db from r1.
func startWriteCluster(t testing.TB, all []wnode, b1, b2 *wbackend) []*node {
	t.Helper()
	dir := t.TempDir()
	var nodes []*node
	for _, w := range all {
		nodes = append(nodes, startNodeOpts(t, w.opts, "-config", writeConfig(t, dir, w, all, b1, b2)))
	}
	waitWriteReady(t, nodes)
	for _, nd := range nodes {
		waitFor(t, "db on r1", 30*time.Second, func() bool { return dbOn(nd) == "r1" })
	}
	return nodes
}

func waitWriteReady(t testing.TB, nodes []*node) {
	t.Helper()
	for _, nd := range nodes {
		waitFor(t, "node ready", 60*time.Second, func() bool { code, _ := nd.get("/readyz"); return code == 200 })
	}
}

// dbOn is where a node sends writes: r1, r2, servfail, or what it said.
func dbOn(n *node) string {
	r, err := n.query("db.gslb.test", mdns.TypeA, "")
	switch {
	case err != nil:
		return "error: " + err.Error()
	case r.Rcode == mdns.RcodeServerFailure:
		return "servfail"
	case equalAddrs(answerAddrs(r), "192.0.2.11"):
		return "r1"
	case equalAddrs(answerAddrs(r), "192.0.2.12"):
		return "r2"
	}
	return fmt.Sprintf("rcode %s answers %v", mdns.RcodeToString[r.Rcode], answerAddrs(r))
}

// holdDB asserts that every node answers db from want on every poll for d.
func holdDB(t testing.TB, nodes []*node, want string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for i, nd := range nodes {
			if got := dbOn(nd); got != want {
				t.Fatalf("node %d sends writes to %s, want %s", i+1, got, want)
			}
		}
	}
}

// terms returns each node's term of db.
func terms(nodes []*node) []uint64 {
	var out []uint64
	for _, nd := range nodes {
		for _, w := range nd.state().Writes {
			if w.Name == "db.gslb.test." {
				out = append(out, w.Record.Term)
			}
		}
	}
	return out
}

func loopbackNodes(t testing.TB, n int) []wnode {
	var all []wnode
	for i := range n {
		all = append(all, wnode{name: fmt.Sprintf("n%d", i+1), gossip: fmt.Sprintf("127.0.0.1:%d", freePort(t))})
	}
	return all
}

// TestWriteNameRestartsKeepPrimary (scenario a): node 3 has a bad path to
// r1 (its probes fail, the others' do not), and node 2 restarts,
// gracefully and with kill -9. A restarting node proposes nothing from
// its partial view, so db stays on r1 on every node, at term 0.
func TestWriteNameRestartsKeepPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newWBackend(t, "127.0.0.1"), newWBackend(t, "127.0.0.1")
	b1.badFor("n3", true)
	nodes := startWriteCluster(t, loopbackNodes(t, 3), b1, b2)
	for round := range writeRounds {
		nodes[1] = nodes[1].restart()
		waitWriteReady(t, nodes[1:2])
		holdDB(t, nodes, "r1", 3*time.Second)
		nodes[1] = nodes[1].crash()
		waitWriteReady(t, nodes[1:2])
		holdDB(t, nodes, "r1", 3*time.Second)
		for i, term := range terms(nodes) {
			if term != 0 {
				t.Fatalf("round %d: node %d holds term %d; nothing failed", round+1, i+1, term)
			}
		}
	}
}

// TestWriteNameFullRestart (scenario c): after a real failover to r2 and
// r1's return (failback manual), restarting the whole cluster keeps db on
// r2: every node restores the record from its state file.
func TestWriteNameFullRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newWBackend(t, "127.0.0.1"), newWBackend(t, "127.0.0.1")
	nodes := startWriteCluster(t, loopbackNodes(t, 3), b1, b2)
	b1.alive.Store(false)
	for _, nd := range nodes {
		waitFor(t, "db failed over to r2", 30*time.Second, func() bool { return dbOn(nd) == "r2" })
	}
	b1.alive.Store(true)
	for _, nd := range nodes {
		waitFor(t, "app back on r1", 30*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.1") })
	}
	holdDB(t, nodes, "r2", time.Second)
	for round := range writeRounds {
		for _, nd := range nodes {
			nd.stop()
		}
		for i, nd := range nodes {
			nodes[i] = startNodeOpts(t, nd.opts, nd.args...)
		}
		waitWriteReady(t, nodes)
		for _, nd := range nodes {
			waitFor(t, "db answered after the restart", 30*time.Second, func() bool { return dbOn(nd) != "servfail" })
		}
		holdDB(t, nodes, "r2", 3*time.Second)
		for i, term := range terms(nodes) {
			if term != 1 {
				t.Fatalf("round %d: node %d holds term %d, want 1", round+1, i+1, term)
			}
		}
	}
}

// TestWriteNameSoloRestart (scenario d): a solo node keeps its failover
// across restarts through its state file.
func TestWriteNameSoloRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newWBackend(t, "127.0.0.1"), newWBackend(t, "127.0.0.1")
	nodes := startWriteCluster(t, []wnode{{name: "solo"}}, b1, b2)
	b1.alive.Store(false)
	waitFor(t, "db failed over to r2", 30*time.Second, func() bool { return dbOn(nodes[0]) == "r2" })
	b1.alive.Store(true)
	waitFor(t, "app back on r1", 30*time.Second, func() bool { return equalAddrs(nodes[0].answersFor("app.gslb.test", ""), "192.0.2.1") })
	for round := range writeRounds {
		nodes[0] = nodes[0].restart()
		waitWriteReady(t, nodes)
		holdDB(t, nodes, "r2", 3*time.Second)
		if got := terms(nodes); len(got) != 1 || got[0] != 1 {
			t.Fatalf("round %d: terms %v, want [1]", round+1, got)
		}
	}
}

// netnsLink is a veth pair between the test's namespace and a network
// namespace of its own (root only).
type netnsLink struct {
	root string // the root side's interface name
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns makes namespace ns with two veth links to this namespace:
// gossip (169.254.77.1 here, .2 there), which the test cuts and heals,
// and service (169.254.78.1 here, .2 there) for DNS, HTTP and probes.
// These link-local addresses exist only on links the test made.
func newNetns(t testing.TB, ns string) (gossip, service netnsLink) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the partition test makes network namespaces: it needs root")
	}
	testenv.NeedTool(t, "ip", "iproute2")
	suffix := fmt.Sprintf("%d", os.Getpid()%100000)
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for i, l := range []struct{ name, net string }{{"g", "169.254.77"}, {"s", "169.254.78"}} {
		here, there := "vgh"+l.name+suffix, "vgt"+l.name+suffix
		ip(t, "link", "add", here, "type", "veth", "peer", "name", there)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", here).Run() })
		ip(t, "link", "set", there, "netns", ns)
		ip(t, "addr", "add", l.net+".1/30", "dev", here)
		ip(t, "link", "set", here, "up")
		ip(t, "-n", ns, "addr", "add", l.net+".2/30", "dev", there)
		ip(t, "-n", ns, "link", "set", there, "up")
		if i == 0 {
			gossip = netnsLink{root: here}
		} else {
			service = netnsLink{root: here}
		}
	}
	ip(t, "-n", ns, "link", "set", "lo", "up")
	return gossip, service
}

// TestWriteNamePartition (scenario b): node 3 runs in a network namespace
// whose gossip link the test cuts. Cut off, node 3 proposes nothing and,
// after the write grace, answers SERVFAIL for db; nodes 1 and 2 keep the
// primary while it is healthy and fail over by quorum when it dies. On
// heal there is one primary, the majority's, with no further move.
func TestWriteNamePartition(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	ns := fmt.Sprintf("gslbd-test-%d", os.Getpid()%100000)
	gossipLink, _ := newNetns(t, ns)
	// Backends on the service link: reachable from both sides at all times.
	b1, b2 := newWBackend(t, "169.254.78.1"), newWBackend(t, "169.254.78.1")
	all := []wnode{
		{name: "n1", gossip: fmt.Sprintf("169.254.77.1:%d", freePortOn(t, "169.254.77.1"))},
		{name: "n2", gossip: fmt.Sprintf("169.254.77.1:%d", freePortOn(t, "169.254.77.1"))},
		// Its gossip port is free in a namespace where nothing runs yet.
		{name: "n3", gossip: "169.254.77.2:7946", opts: nodeOpts{wrap: []string{"ip", "netns", "exec", ns}, host: "169.254.78.2"}},
	}
	nodes := startWriteCluster(t, all, b1, b2)
	backends := map[string]*wbackend{"r1": b1, "r2": b2}
	primary, other := "r1", "r2"
	for round := range writeRounds {
		ip(t, "link", "set", gossipLink.root, "down")
		waitFor(t, "node 3 fences db (SERVFAIL) once it has no quorum", 60*time.Second, func() bool { return dbOn(nodes[2]) == "servfail" })
		holdDB(t, nodes[:2], primary, time.Second)
		// The primary dies: the majority fails over by quorum.
		backends[primary].alive.Store(false)
		for _, nd := range nodes[:2] {
			waitFor(t, "majority fails over", 30*time.Second, func() bool { return dbOn(nd) == other })
		}
		if got := dbOn(nodes[2]); got != "servfail" {
			t.Fatalf("round %d: cut-off node 3 answers %s for db, want servfail", round+1, got)
		}
		backends[primary].alive.Store(true)
		// Heal: one primary everywhere, the majority's; nothing moves.
		ip(t, "link", "set", gossipLink.root, "up")
		waitFor(t, "node 3 takes the majority's record", 60*time.Second, func() bool { return dbOn(nodes[2]) == other })
		holdDB(t, nodes, other, 2*time.Second)
		ts := terms(nodes)
		if len(ts) != 3 || ts[0] != uint64(round+1) || ts[1] != ts[0] || ts[2] != ts[0] {
			t.Fatalf("round %d: terms %v, want %d on every node", round+1, ts, round+1)
		}
		primary, other = other, primary
	}
}

// TestColdStartNeverAnswersDrained: a solo node restarted with a drain in
// its state file is polled from before the process starts. It answers
// SERVFAIL for GSLB names until its first probe round, and never the
// drained endpoint, also while nothing is proven ready yet (all_down open).
func TestColdStartNeverAnswersDrained(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newWBackend(t, "127.0.0.1"), newWBackend(t, "127.0.0.1")
	dir := t.TempDir()
	solo := wnode{name: "solo"}
	path := writeConfig(t, dir, solo, []wnode{solo}, b1, b2)
	state := fmt.Sprintf(`{"drains": [{"endpoint": "r1@app.gslb.test", "drained": true, "at": %q, "by": "operator"}]}`,
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(dir, "solo.state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		for i := 0; i < 20000; i++ { // bounded: 100 s at most
			select {
			case <-stop:
				return
			default:
			}
			r, err := exchangeECS(addr, "app.gslb.test", mdns.TypeA, "", 200*time.Millisecond)
			key := "no answer"
			if err == nil {
				key = mdns.RcodeToString[r.Rcode] + " " + strings.Join(answerAddrs(r), ",")
			}
			mu.Lock()
			seen[key]++
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	n := startNode(t, "-config", path, "-dns", addr)
	waitWriteReady(t, []*node{n})
	waitFor(t, "r2 answered", 30*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.2") })
	time.Sleep(time.Second)
	close(stop)
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers seen from before the start: %v", seen)
	for k := range seen {
		_, addrs, _ := strings.Cut(k, " ")
		for _, a := range strings.Split(addrs, ",") {
			if a == "192.0.2.1" {
				t.Fatalf("the drained endpoint was answered: %q (all: %v)", k, seen)
			}
		}
	}
	if seen["NOERROR 192.0.2.2"] == 0 {
		t.Fatalf("never answered r2: %v", seen)
	}
}
