package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Validation of the cluster section.

func (k *checker) cluster() {
	cl := &k.c.Cluster
	if cl.Bind != "" {
		if err := hostPort(cl.Bind, true); err != nil {
			k.p.add("cluster.bind", "%v", err)
		}
	}
	if cl.Advertise == "" {
		cl.Advertise = cl.Bind
	} else if err := hostPort(cl.Advertise, false); err != nil {
		k.p.add("cluster.advertise", "%v", err)
	}
	seen := map[string]bool{}
	for i, s := range cl.Seeds {
		path := fmt.Sprintf("cluster.seeds[%d]", i)
		if err := hostPort(s, false); err != nil {
			k.p.add(path, "%v", err)
		}
		if seen[s] {
			k.p.add(path, "duplicate seed %q", s)
		}
		seen[s] = true
	}
	if len(cl.Seeds) > 0 && cl.Bind == "" {
		k.p.add("cluster.bind", "bind (host:port) is required when seeds are set")
	}
	if cl.Expect < 0 {
		k.p.add("cluster.expect", "must not be negative, got %d", cl.Expect)
	}
	if cl.Expect <= 0 {
		cl.Expect = 1 + len(cl.Seeds)
	}

	for i := range cl.Keys {
		cl.Keys[i] = strings.TrimSpace(cl.Keys[i])
		if err := checkKey(cl.Keys[i]); err != nil {
			k.p.add(fmt.Sprintf("cluster.keys[%d]", i), "%v", err)
		}
	}
	cl.Secrets = decodeKeys(cl.Keys)
	if len(cl.Keys) == 0 && cl.KeyFile == "" && (len(cl.Seeds) > 0 || cl.Expect > 1) {
		k.p.add("cluster", "gossip keys (keys or key_file) are required when more than one node is configured")
	}

	cl.Quorum = lower(cl.Quorum)
	switch cl.Quorum {
	case "":
		cl.Quorum = "majority"
		cl.Rule = QuorumRule{Kind: "majority"}
	case "majority", "any", "all":
		cl.Rule = QuorumRule{Kind: cl.Quorum}
	default:
		f, err := strconv.ParseFloat(cl.Quorum, 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 1 {
			k.p.add("cluster.quorum", "%q is not majority, any, all or a fraction in (0,1]", cl.Quorum)
		}
		cl.Rule = QuorumRule{Kind: "fraction", Fraction: f}
	}
	largest := k.c.MaxProbeInterval()
	k.dur("cluster.refresh", &cl.Refresh, largest.D())
	k.dur("cluster.stale_after", &cl.StaleAfter, 3*largest.D())
	k.dur("cluster.isolation_hold", &cl.IsolationHold, defaultIsolationHold)
	if cl.StaleAfter <= cl.Refresh {
		k.p.add("cluster.stale_after", "stale_after %s must be longer than refresh %s, or every observation goes stale", cl.StaleAfter, cl.Refresh)
	}
	k.dur("cluster.write_grace", &cl.WriteGrace, defaultWriteGrace)
	k.dur("cluster.startup_limit", &cl.StartupLimit, defaultStartupLimit)
	if cl.Expect == 2 && k.c.hasWriteNames() {
		k.c.Warnings = append(k.c.Warnings, "cluster.expect is 2: with one node down the other has no quorum, "+
			"so write names answer SERVFAIL after cluster.write_grace; run three nodes for write names")
	}
}

// hasWriteNames reports whether any GSLB name has role write.
func (c *Config) hasWriteNames() bool {
	for _, z := range c.Zones {
		for _, n := range z.Names {
			if strings.EqualFold(n.Role, "write") {
				return true
			}
		}
	}
	return false
}

// checkKey reports why key is not a base64 32-byte AES-256 key.
func checkKey(key string) error {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil {
		return fmt.Errorf("key is not valid base64")
	}
	if len(b) != 32 {
		return fmt.Errorf("key decodes to %d bytes; want 32 (make one with: head -c32 /dev/urandom | base64)", len(b))
	}
	return nil
}
