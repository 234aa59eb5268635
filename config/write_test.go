package config

import (
	"strings"
	"testing"
	"time"
)

// TestWriteNameSettings: the write-name settings' defaults, and the
// warning that two nodes cannot keep a quorum for write names.
func TestWriteNameSettings(t *testing.T) {
	names := `
    names:
      - name: db
        role: write
        endpoints: [{region: r1, addresses: [192.0.2.3], liveness: {url: "http://127.0.0.1:1/", interval: 2s}}]
`
	cluster := func(expect int) string {
		return `
cluster:
  bind: 127.0.0.1:0
  expect: ` + string(rune('0'+expect)) + `
  keys: ["` + testKey + `"]
`
	}
	c := mustParse(t, cluster(3)+minimal+names)
	if c.Cluster.WriteGrace.D() != 10*time.Second || c.Cluster.StartupLimit.D() != 30*time.Second || len(c.Warnings) != 0 {
		t.Fatalf("defaults: grace %s startup %s warnings %v", c.Cluster.WriteGrace, c.Cluster.StartupLimit, c.Warnings)
	}
	if fi := c.Zones[0].Names[0].Endpoints[0].Liveness.FastInterval.D(); fi != 500*time.Millisecond {
		t.Fatalf("fast_interval %s, want a quarter of the 2s interval", fi)
	}
	c = mustParse(t, cluster(2)+minimal+names)
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "run three nodes") {
		t.Fatalf("expect 2 with a write name: warnings %v", c.Warnings)
	}
	// Without write names two nodes are fine.
	if c = mustParse(t, cluster(2)+minimal); len(c.Warnings) != 0 {
		t.Fatalf("expect 2 without write names: warnings %v", c.Warnings)
	}
	if _, err := Parse([]byte(`
health: {interval: 1s, fast_interval: 3s}
`+minimal+names), "t.yaml"); err == nil || !strings.Contains(err.Error(), "fast_interval") {
		t.Fatalf("fast_interval above the interval: %v", err)
	}
}
