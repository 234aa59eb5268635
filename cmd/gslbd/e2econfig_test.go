package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// twoRegions describes the zone most end-to-end tests serve: regions r1
// (NA) and r2 (EU), the zone gslb.test., the read name app (failover r1
// then r2, 192.0.2.1 and .2) and, with write, the write name db (.11 and
// .12). Each endpoint is probed at its region's liveness URL, so a test
// fails a region by failing that URL's backend.
type twoRegions struct {
	url1, url2 string // liveness URLs of the r1 and r2 endpoints
	health     string // the health: line's flow mapping
	ttl        string // names' ttl, "" for the default
	write      bool   // add the write name db
}

// yaml renders the regions, health and zones sections.
func (z twoRegions) yaml() string {
	ttl := ""
	if z.ttl != "" {
		ttl = "        ttl: " + z.ttl + "\n"
	}
	names := fmt.Sprintf(`      - name: app
        policy: failover
        order: [r1, r2]
%[3]s        endpoints:
          - {region: r1, addresses: [192.0.2.1], liveness: {url: "%[1]s"}}
          - {region: r2, addresses: [192.0.2.2], liveness: {url: "%[2]s"}}
`, z.url1, z.url2, ttl)
	if z.write {
		names += fmt.Sprintf(`      - name: db
        role: write
        order: [r1, r2]
%[3]s        endpoints:
          - {region: r1, addresses: [192.0.2.11], liveness: {url: "%[1]s"}}
          - {region: r2, addresses: [192.0.2.12], liveness: {url: "%[2]s"}}
`, z.url1, z.url2, ttl)
	}
	return fmt.Sprintf(`regions:
  - {name: r1, latitude: 39.0, longitude: -77.5, continent: NA}
  - {name: r2, latitude: 53.3, longitude: -6.3, continent: EU}
health: %s
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
%s`, z.health, names)
}

// writeFile writes a test config and returns its path.
func writeFile(t testing.TB, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
