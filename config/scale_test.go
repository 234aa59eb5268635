package config

import (
	"fmt"
	"strings"
	"testing"
)

// scaleConfig is the config bench/scale.sh generates: n GSLB names in one
// zone, each with three endpoints in three regions and an HTTP liveness
// probe on one of 30 shared targets. 10k names are about 2.2 MB.
func scaleConfig(n int) []byte {
	regions := []struct {
		name, cont, net string
		lat, lon        float64
	}{
		{"us-east", "NA", "192.0.2.", 39.0, -77.5},
		{"eu-west", "EU", "198.51.100.", 53.3, -6.3},
		{"ap-southeast", "AS", "203.0.113.", 1.35, 103.8},
	}
	var b strings.Builder
	b.Grow(n * 230)
	b.WriteString("listen:\n  dns: [\"127.0.0.1:0\"]\n  http: \"127.0.0.1:0\"\n")
	b.WriteString("health:\n  interval: 1s\n  timeout: 500ms\n  rise: 1\n  fall: 1\n")
	b.WriteString("regions:\n")
	for _, r := range regions {
		fmt.Fprintf(&b, "  - name: %s\n    latitude: %g\n    longitude: %g\n    continent: %s\n", r.name, r.lat, r.lon, r.cont)
	}
	b.WriteString("zones:\n  - apex: gslb.test.\n    nameservers:\n      - name: ns1\n        addresses: [\"127.0.0.1\"]\n")
	b.WriteString("    soa:\n      rname: hostmaster\n      serial: 1\n    names:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - name: c%d\n        policy: failover\n        endpoints:\n", i)
		for j, r := range regions {
			fmt.Fprintf(&b, "          - region: %s\n            addresses: [\"%s%d\"]\n", r.name, r.net, 1+j)
			fmt.Fprintf(&b, "            liveness:\n              url: http://127.0.0.1:9/t%d\n", (i*3+j)%30)
		}
	}
	return []byte(b.String())
}

func benchmarkLoad(b *testing.B, names int) {
	data := scaleConfig(names)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := Prepare(data, "scale.yaml")
		if err != nil {
			b.Fatalf("%.500v", err)
		}
		if got := len(c.Zones[0].Names); got != names {
			b.Fatalf("%d names", got)
		}
	}
}

// BenchmarkLoad10k is `gslbd check` on bench/scale.sh's 10k-name config
// (issue 15's target: at most 1 s).
func BenchmarkLoad10k(b *testing.B) { benchmarkLoad(b, 10_000) }

// BenchmarkLoad100k is the same for 100k names (about 22 MB).
func BenchmarkLoad100k(b *testing.B) { benchmarkLoad(b, 100_000) }
