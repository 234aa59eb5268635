package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Validation of GSLB names and their endpoints.

// name fills one GSLB name's defaults (role, policy, TTLs, failover order)
// and validates it with its endpoints, geomap and residency fence.
func (k *checker) name(path string, n *Name, apex string) {
	n.Role = lower(n.Role)
	if n.Role == "" {
		n.Role = "read"
	}
	k.oneOf(path+".role", n.Role, []string{"read", "write"})
	n.Policy = lower(n.Policy)
	switch {
	case n.Policy == "" && n.Role == "write":
		n.Policy = "failover"
	case n.Policy == "":
		n.Policy = "nearest"
	}
	if k.oneOf(path+".policy", n.Policy, policies) && n.Role == "write" && n.Policy != "failover" {
		k.p.add(path+".policy", "a write name must use policy failover (writes go to one region), not %q", n.Policy)
	}
	n.Failback = lower(n.Failback)
	if n.Failback == "" {
		n.Failback = "manual"
	}
	if k.oneOf(path+".failback", n.Failback, []string{"manual", "auto"}) && n.Failback == "auto" && n.Role != "write" {
		k.p.add(path+".failback", "failback applies only to role write")
	}
	k.dur(path+".failback_hold", &n.FailbackHold, defaultFailbackHold)
	n.AllDown = lower(n.AllDown)
	if n.AllDown == "" {
		n.AllDown = "open"
	}
	k.oneOf(path+".all_down", n.AllDown, []string{"open", "closed"})

	k.ttl(path+".ttl", &n.TTL, defaultNameTTL)
	minDef := defaultMinTTL
	if n.TTL.D() < minDef {
		minDef = n.TTL.D()
	}
	k.ttl(path+".min_ttl", &n.MinTTL, minDef)
	if n.MinTTL > n.TTL {
		k.p.add(path+".min_ttl", "min_ttl %s must not exceed ttl %s", n.MinTTL, n.TTL)
	}
	if n.Answers < 0 {
		k.p.add(path+".answers", "must be at least 1, got %d", n.Answers)
	}
	if n.Answers <= 0 {
		n.Answers = 1
	}

	// Endpoints.
	if len(n.Endpoints) == 0 {
		k.p.add(path+".endpoints", "at least one endpoint is required")
	}
	epNames := map[string]int{}
	var usedRegions []string
	withTarget, withAddrs := 0, 0
	host := strings.TrimSuffix(n.Name, ".")
	for ei := range n.Endpoints {
		e := &n.Endpoints[ei]
		ep := path + ".endpoints[" + strconv.Itoa(ei) + "]"
		if k.knownRegion(ep+".region", e.Region) && !slices.Contains(usedRegions, e.Region) {
			usedRegions = append(usedRegions, e.Region)
		}
		if e.Name == "" {
			e.Name = e.Region
		}
		if err := validIdent(e.Name); err != nil {
			if k.p.present(ep + ".name") {
				k.p.add(ep+".name", "endpoint name %v", err)
			}
		} else if j, dup := epNames[e.Name]; dup {
			k.p.add(ep+".name", "duplicate endpoint name %q (also endpoints[%d]); set distinct names for endpoints in one region", e.Name, j)
		} else {
			epNames[e.Name] = ei
		}
		e.ID = e.Name + "@" + host
		if len(e.ID) > maxEndpointLen { // the message is built only when needed
			k.lengthLimit(ep+".name", "endpoint ID "+strconv.Quote(truncate(e.ID, 40)), e.ID, maxEndpointLen)
		}
		switch {
		case len(e.Addresses) > 0 && e.Target != "":
			k.p.add(ep, "set addresses or target, not both")
		case len(e.Addresses) == 0 && e.Target == "":
			k.p.add(ep, "needs addresses or a target")
		case e.Target != "":
			withTarget++
			e.Target = qualify(e.Target, apex)
			if err := checkName(e.Target); err != nil {
				k.p.add(ep+".target", "%v", err)
			} else if e.Target == n.Name {
				k.p.add(ep+".target", "target %s is the name itself", e.Target)
			}
			if n.Name == apex {
				k.p.add(ep+".target", "a target is answered as a CNAME, which cannot be at the zone apex")
			}
		default:
			withAddrs++
			k.addresses(ep+".addresses", e.Addresses)
		}
		if e.Weight == nil {
			w := 1
			e.Weight = &w
		} else if *e.Weight < 0 || *e.Weight > maxWeight {
			k.p.add(ep+".weight", "must be from 0 to %d, got %d", maxWeight, *e.Weight)
		}
		var live *Probe
		if e.Liveness != nil {
			k.probe(ep+".liveness", e.Liveness)
			live = e.Liveness
		}
		if e.Readiness != nil {
			k.readiness(ep+".readiness", e.Readiness, live)
		}
	}
	if withTarget > 0 && withAddrs > 0 {
		k.p.add(path+".endpoints", "endpoints of one name must all use addresses or all use a target (a CNAME cannot be mixed with A/AAAA)")
	}

	// Failover order: defaults to the endpoint regions in endpoint order.
	if n.Policy == "failover" {
		if len(n.Order) == 0 {
			n.Order = usedRegions
		}
		seen := map[string]bool{}
		for i, r := range n.Order {
			op := fmt.Sprintf("%s.order[%d]", path, i)
			if !k.knownRegion(op, r) {
				continue
			}
			if seen[r] {
				k.p.add(op, "region %q is listed twice", r)
			}
			seen[r] = true
		}
		for _, r := range usedRegions {
			if !seen[r] {
				k.p.add(path+".order", "order does not list region %q, which has an endpoint", r)
			}
		}
	} else if len(n.Order) > 0 {
		k.p.add(path+".order", "order is only used by policy failover (and write names)")
	}

	// Geo map.
	switch {
	case n.Policy == "geomap" && len(n.GeoMap) == 0:
		k.p.add(path+".geomap", "policy geomap needs a geomap")
	case n.Policy != "geomap" && len(n.GeoMap) > 0:
		k.p.add(path+".geomap", "geomap is only used by policy geomap")
	}
	if len(n.GeoMap) > 0 {
		gm := make(map[string][]string, len(n.GeoMap))
		for _, key := range sortedKeys(n.GeoMap) {
			regions := n.GeoMap[key]
			kp := path + ".geomap." + key
			nk := strings.ToUpper(strings.TrimSpace(key))
			if strings.EqualFold(nk, "default") {
				nk = "default"
			} else if !isCode(nk) {
				k.p.add(kp, "key %q must be a two-letter country or continent code, or default", key)
				continue
			}
			if _, dup := gm[nk]; dup {
				k.p.add(kp, "key %q is given twice (keys are case-insensitive)", key)
				continue
			}
			if len(regions) == 0 {
				k.p.add(kp, "needs at least one region")
			}
			for i, r := range regions {
				k.knownRegion(fmt.Sprintf("%s[%d]", kp, i), r)
			}
			gm[nk] = regions
		}
		n.GeoMap = gm
	}

	// Residency fence.
	if rs := n.Residency; rs != nil {
		rp := path + ".residency"
		if len(rs.Match) == 0 {
			k.p.add(rp+".match", "needs at least one country or continent code")
		}
		for i, m := range rs.Match {
			rs.Match[i] = strings.ToUpper(strings.TrimSpace(m))
			if !isCode(rs.Match[i]) {
				k.p.add(fmt.Sprintf("%s.match[%d]", rp, i), "%q is not a two-letter country or continent code", m)
			}
		}
		if len(rs.Regions) == 0 {
			k.p.add(rp+".regions", "needs at least one region")
		}
		for i, r := range rs.Regions {
			k.knownRegion(fmt.Sprintf("%s.regions[%d]", rp, i), r)
		}
		rs.Fail = lower(rs.Fail)
		if rs.Fail == "" {
			rs.Fail = "open"
		}
		k.oneOf(rp+".fail", rs.Fail, []string{"open", "closed"})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
