package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// BenchmarkHookLatency measures, with one gslbd process (built without the
// race detector under -bench), the time from a change's decision (its At)
// to the signed webhook's arrival at a loopback receiver: region_drain
// (decided by the API call) and write_primary (decided by the publisher
// when the drain took the write name's region away, and by the operator's
// set-active moving it back).
func BenchmarkHookLatency(b *testing.B) {
	b1, b2 := newBackend(b), newBackend(b)
	dir := b.TempDir()
	sink := newHookSink(b, "s")
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := fmt.Sprintf(`node: bench
admin: {token: bench-admin-token-0123}
regions:
  - {name: r1, latitude: 39.0, longitude: -77.5}
  - {name: r2, latitude: 53.3, longitude: -6.3}
health: {interval: 1s, timeout: 500ms, rise: 1, fall: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: db
        role: write
        order: [r1, r2]
        endpoints:
          - {region: r1, addresses: [192.0.2.11], liveness: {url: "%s/healthz"}}
          - {region: r2, addresses: [192.0.2.12], liveness: {url: "%s/healthz"}}
hooks:
  - name: bench
    on: [write_primary, region_drain]
    webhook: {url: "%s/hook", secret_file: %s}
`, b1.srv.URL, b2.srv.URL, sink.srv.URL, secret)
	path := filepath.Join(dir, "gslbd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	n := startNode(b, "-config", path)
	for _, id := range []string{"r1@db.gslb.test", "r2@db.gslb.test"} {
		waitFor(b, id+" ready", 30*time.Second, func() bool { return n.endpoint(id).State == gslb.Ready })
	}
	b.ResetTimer()
	for i := range b.N {
		wantWP := 2*i + 1
		if code := n.post("/api/v1/regions/r1/drain", "bench-admin-token-0123", ""); code != 200 {
			b.Fatalf("drain: %d", code)
		}
		waitFor(b, "failover hook", 10*time.Second, func() bool { return len(sink.events(gslb.ChangeWritePrimary)) >= wantWP })
		if code := n.post("/api/v1/regions/r1/undrain", "bench-admin-token-0123", ""); code != 200 {
			b.Fatalf("undrain: %d", code)
		}
		waitFor(b, "r1 ready again", 10*time.Second, func() bool { return n.endpoint("r1@db.gslb.test").State == gslb.Ready })
		if code := n.post("/api/v1/names/db.gslb.test/active", "bench-admin-token-0123", `{"region":"r1"}`); code != 200 {
			b.Fatalf("set active: %d", code)
		}
		waitFor(b, "failback hook", 10*time.Second, func() bool { return len(sink.events(gslb.ChangeWritePrimary)) >= wantWP+1 })
	}
	b.StopTimer()
	for _, kind := range []string{gslb.ChangeRegionDrain, gslb.ChangeWritePrimary} {
		var lat []time.Duration
		for _, e := range sink.events(kind) {
			lat = append(lat, e.received.Sub(e.At))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) == 0 {
			b.Fatalf("no %s deliveries", kind)
		}
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50-"+kind)
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-max-"+kind)
	}
}
