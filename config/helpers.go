package config

import (
	"encoding/base64"
	"strconv"
)

// AllEndpoints returns a pointer to every endpoint of every GSLB name, in
// config order (zones, then names, then endpoints). The pointers alias c:
// a Config handed to a Snapshot is shared and must not be modified.
func (c *Config) AllEndpoints() []*Endpoint {
	var out []*Endpoint
	for zi := range c.Zones {
		z := &c.Zones[zi]
		for ni := range z.Names {
			n := &z.Names[ni]
			for ei := range n.Endpoints {
				out = append(out, &n.Endpoints[ei])
			}
		}
	}
	return out
}

// Region returns the region called name.
func (c *Config) Region(name string) (Region, bool) {
	for _, r := range c.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// MaxProbeInterval is the largest liveness or readiness interval of any
// endpoint, or the health default interval when no endpoint has a probe.
// Cluster defaults (refresh, stale_after) derive from it.
func (c *Config) MaxProbeInterval() Duration {
	largest := c.Health.Interval
	found := false
	for _, e := range c.AllEndpoints() {
		for _, iv := range []Duration{probeInterval(e.Liveness), readinessInterval(e.Readiness)} {
			if iv > 0 && (!found || iv > largest) {
				largest, found = iv, true
			}
		}
	}
	return largest
}

func probeInterval(p *Probe) Duration {
	if p == nil {
		return 0
	}
	return p.Interval
}

func readinessInterval(r *Readiness) Duration {
	if r == nil {
		return 0
	}
	return r.Interval
}

// QuorumSpec splits the validated Quorum: kind is "majority", "any", "all"
// or "fraction"; fraction is set (in (0,1]) only for "fraction".
func (c Cluster) QuorumSpec() (kind string, fraction float64) {
	switch c.Quorum {
	case "", "majority":
		return "majority", 0
	case "any", "all":
		return c.Quorum, 0
	}
	f, err := strconv.ParseFloat(c.Quorum, 64)
	if err != nil {
		return "majority", 0 // unreachable for a validated config
	}
	return "fraction", f
}

// KeyBytes decodes Keys (key_file keys are already appended by Parse),
// primary first. Keys that do not decode are skipped; a validated config
// has none.
func (c Cluster) KeyBytes() [][]byte {
	var out [][]byte
	for _, k := range c.Keys {
		b, err := base64.StdEncoding.DecodeString(k)
		if err == nil {
			out = append(out, b)
		}
	}
	return out
}
