package config

// AllEndpoints returns a pointer to every endpoint of every GSLB name, in
// config order (zones, then names, then endpoints). The pointers alias c:
// a Config handed to a Snapshot is shared and must not be modified.
func (c *Config) AllEndpoints() []*Endpoint {
	n := 0
	for zi := range c.Zones {
		for ni := range c.Zones[zi].Names {
			n += len(c.Zones[zi].Names[ni].Endpoints)
		}
	}
	out := make([]*Endpoint, 0, n)
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
