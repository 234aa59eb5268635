package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a loopback liveness target a test can kill and revive.
type backend struct {
	srv   *httptest.Server
	alive atomic.Bool
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.alive.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !b.alive.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

const testAdminToken = "cluster-test-token"

const testKey = "c2VjcmV0LWtleS1mb3ItZ3NsYmQtdGVzdHMtMzItYiE=" // 32 bytes

func clusterConfig(name string, bind int, seeds []int, b1, b2 *backend) string {
	expect := len(seeds) + 1
	var s []string
	for _, p := range seeds {
		s = append(s, fmt.Sprintf("127.0.0.1:%d", p))
	}
	zone := twoRegions{url1: b1.srv.URL + "/healthz", url2: b2.srv.URL + "/healthz",
		health: "{interval: 1s, timeout: 500ms, rise: 1, fall: 2}", ttl: "5s", write: true}
	return "node: " + name + "\n" + zone.yaml() + fmt.Sprintf(`admin: {token: cluster-test-token}
cluster:
  bind: 127.0.0.1:%d
  seeds: [%s]
  expect: %d
  keys: [%s]
`, bind, strings.Join(s, ", "), expect, testKey)
}

// TestThreeProcessCluster runs three gslbd processes gossiping on loopback:
// when an endpoint dies, every node stops answering it. It reports the time
// from the death until the last node stopped answering it.
func TestThreeProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	nodes := startCluster(t, 3, b1, b2)
	_, body := nodes[0].get("/api/v1/state")
	for _, name := range []string{"n1", "n2", "n3"} {
		if !strings.Contains(body, `"`+name+`"`) {
			t.Errorf("state of n1 does not mention member %s: %s", name, body)
		}
	}
	took, _ := failoverRound(t, nodes, b1, func() {
		// The write name fails over too (its probes run on their own
		// schedule, so wait for it before r1 comes back).
		for _, nd := range nodes {
			waitFor(t, "db on r2 everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("db.gslb.test", ""), "192.0.2.12") })
		}
	})
	t.Logf("convergence: %v from r1's death until the last of 3 nodes stopped answering it (interval 1s, fall 2)", took)

	// r1 is back, but failback is manual: the write name stays on r2. A
	// restarted node must take the cluster's decision, not pick r1 as the
	// first in order.
	for _, nd := range nodes {
		if got := nd.answersFor("db.gslb.test", ""); !equalAddrs(got, "192.0.2.12") {
			t.Fatalf("db failed back to %v with failback manual", got)
		}
	}
	nodes[2] = nodes[2].restart()
	waitFor(t, "restarted node ready", 30*time.Second, func() bool { code, _ := nodes[2].get("/readyz"); return code == 200 })
	waitFor(t, "restarted node answers app on r1", 30*time.Second, func() bool {
		return equalAddrs(nodes[2].answersFor("app.gslb.test", ""), "192.0.2.1")
	})
	for i := 0; i < 10; i++ { // 1 s of answers after it is ready and probing
		if got := nodes[2].answersFor("db.gslb.test", ""); !equalAddrs(got, "192.0.2.12") {
			t.Fatalf("restarted node sends writes to %v; the cluster's active region is r2 (192.0.2.12)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The operator fails back by hand on one node; every node follows.
	if code := nodes[0].post("/api/v1/names/db.gslb.test/active", testAdminToken, `{"region":"r1"}`); code != 200 {
		t.Fatalf("manual failback: %d", code)
	}
	for _, nd := range nodes {
		waitFor(t, "db back on r1 everywhere", 10*time.Second, func() bool { return equalAddrs(nd.answersFor("db.gslb.test", ""), "192.0.2.11") })
	}
}

// BenchmarkFailoverConvergence measures, with 3 and 5 gslbd processes
// on loopback (interval 1s, fall 2, fast_interval 250ms), the time from an
// endpoint's death until no node answers it, and from its return until
// every node answers it again (rise 1), per round: median and worst.
func BenchmarkFailoverConvergence(b *testing.B) {
	for _, n := range []int{3, 5} {
		b.Run(fmt.Sprintf("%dProcesses", n), func(b *testing.B) {
			b1, b2 := newBackend(b), newBackend(b)
			nodes := startCluster(b, n, b1, b2)
			var gone, back []time.Duration
			b.ResetTimer()
			for range b.N {
				g, r := failoverRound(b, nodes, b1, nil)
				gone, back = append(gone, g), append(back, r)
			}
			b.StopTimer()
			for _, m := range []struct {
				unit string
				d    []time.Duration
			}{{"death-to-gone", gone}, {"return-to-answered", back}} {
				slices.Sort(m.d)
				b.ReportMetric(float64(m.d[len(m.d)/2].Milliseconds()), "ms-median-"+m.unit)
				b.ReportMetric(float64(m.d[len(m.d)-1].Milliseconds()), "ms-worst-"+m.unit)
			}
		})
	}
}

// startCluster starts n gslbd processes that seed each other, and waits
// until every one is ready and answers r1.
func startCluster(t testing.TB, n int, b1, b2 *backend) []*node {
	t.Helper()
	return startClusterWith(t, n, b1, b2, nil)
}

// startClusterWith is startCluster with extra top-level config for node
// i (0-based) appended to each node's file.
func startClusterWith(t testing.TB, n int, b1, b2 *backend, extra func(i int) string) []*node {
	t.Helper()
	dir := t.TempDir()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var nodes []*node
	for i := range n {
		var seeds []int
		for j, p := range ports {
			if j != i {
				seeds = append(seeds, p)
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("n%d.yaml", i+1))
		text := clusterConfig(fmt.Sprintf("n%d", i+1), ports[i], seeds, b1, b2)
		if extra != nil {
			text += extra(i)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNode(t, "-config", path))
	}
	for _, nd := range nodes {
		waitFor(t, "node ready and joined", 30*time.Second, func() bool { code, _ := nd.get("/readyz"); return code == 200 })
		waitFor(t, "r1 answered", 30*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.1") })
	}
	return nodes
}

// failoverRound kills r1's backend, waits until every node answers r2 for
// app, runs whileDown (if any), then revives r1 and waits until every node
// answers app from r1 again. It returns the time from the death until the
// last node stopped answering r1, and from the revival until the last
// node answered it again.
func failoverRound(t testing.TB, nodes []*node, b1 *backend, whileDown func()) (gone, back time.Duration) {
	t.Helper()
	b1.alive.Store(false)
	died := time.Now()
	for _, nd := range nodes {
		waitFor(t, "every node to fail over to r2", 30*time.Second, func() bool {
			return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.2")
		})
	}
	gone = time.Since(died)
	if whileDown != nil {
		whileDown()
	}
	b1.alive.Store(true)
	revived := time.Now()
	for _, nd := range nodes {
		waitFor(t, "every node back on r1", 30*time.Second, func() bool {
			return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.1")
		})
	}
	return gone, time.Since(revived)
}
