package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

const testKey = "c2VjcmV0LWtleS1mb3ItZ3NsYmQtdGVzdHMtMzItYiE=" // 32 bytes

func clusterConfig(name string, bind int, seeds []int, b1, b2 *backend) string {
	var s []string
	for _, p := range seeds {
		s = append(s, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return fmt.Sprintf(`node: %s
regions:
  - {name: r1, latitude: 39.0, longitude: -77.5, continent: NA}
  - {name: r2, latitude: 53.3, longitude: -6.3, continent: EU}
health: {interval: 1s, timeout: 500ms, rise: 1, fall: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: app
        policy: failover
        order: [r1, r2]
        ttl: 5s
        endpoints:
          - {region: r1, addresses: [192.0.2.1], liveness: {url: "%s/healthz"}}
          - {region: r2, addresses: [192.0.2.2], liveness: {url: "%s/healthz"}}
cluster:
  bind: 127.0.0.1:%d
  seeds: [%s]
  expect: 3
  keys: [%s]
`, name, b1.srv.URL, b2.srv.URL, bind, strings.Join(s, ", "), testKey)
}

// TestThreeProcessCluster runs three gslbd processes gossiping on loopback:
// when an endpoint dies, every node stops answering it. It reports the time
// from the death until the last node stopped answering it.
func TestThreeProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	dir := t.TempDir()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var nodes []*node
	for i := range 3 {
		var seeds []int
		for j, p := range ports {
			if j != i {
				seeds = append(seeds, p)
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("n%d.yaml", i+1))
		if err := os.WriteFile(path, []byte(clusterConfig(fmt.Sprintf("n%d", i+1), ports[i], seeds, b1, b2)), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNode(t, "-config", path))
	}
	for _, n := range nodes {
		waitFor(t, "node ready and joined", 30*time.Second, func() bool { code, _ := n.get("/readyz"); return code == 200 })
		waitFor(t, "r1 answered", 30*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.1") })
	}
	_, body := nodes[0].get("/api/v1/state")
	for _, name := range []string{"n1", "n2", "n3"} {
		if !strings.Contains(body, `"`+name+`"`) {
			t.Errorf("state of n1 does not mention member %s: %s", name, body)
		}
	}

	b1.alive.Store(false)
	died := time.Now()
	for _, n := range nodes {
		waitFor(t, "every node to fail over to r2", 30*time.Second, func() bool {
			return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.2")
		})
	}
	t.Logf("convergence: %v from r1's death until the last of 3 nodes stopped answering it (interval 1s, fall 2)", time.Since(died))

	b1.alive.Store(true)
	for _, n := range nodes {
		waitFor(t, "every node back on r1", 30*time.Second, func() bool {
			return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.1")
		})
	}
}
