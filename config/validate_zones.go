package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Validation of zones: apex, nameservers, SOA, static records.

// owner is what a name in a zone holds, for conflict checks.
type owner struct {
	path  string // where it was defined
	types []string
}

func (k *checker) zones() {
	if len(k.c.Zones) == 0 {
		k.p.add("zones", "at least one zone is required")
	}
	apexes := map[string]int{}
	for zi := range k.c.Zones {
		z := &k.c.Zones[zi]
		zp := fmt.Sprintf("zones[%d]", zi)
		if strings.TrimSpace(z.Apex) == "" {
			k.p.add(zp+".apex", "apex is required")
			continue
		}
		z.Apex = absolute(z.Apex)
		if z.Apex == "." {
			k.p.add(zp+".apex", "the root zone cannot be served")
			continue
		}
		if err := checkName(z.Apex); err != nil {
			k.p.add(zp+".apex", "%v", err)
			continue
		}
		if j, dup := apexes[z.Apex]; dup {
			k.p.add(zp+".apex", "zone %s is also zones[%d]", z.Apex, j)
		}
		apexes[z.Apex] = zi
		k.zone(zp, z)
	}
}

func (k *checker) zone(zp string, z *Zone) {
	k.ttl(zp+".ttl", &z.TTL, defaultZoneTTL)
	names := map[string]*owner{}
	add := func(name, typ, path string) {
		o := names[name]
		if o == nil {
			o = &owner{path: path}
			names[name] = o
		}
		o.types = append(o.types, typ)
	}

	// Nameservers and their glue.
	if len(z.Nameservers) == 0 {
		k.p.add(zp+".nameservers", "at least one nameserver is required")
	}
	nsSeen := map[string]bool{}
	for i := range z.Nameservers {
		ns := &z.Nameservers[i]
		path := fmt.Sprintf("%s.nameservers[%d]", zp, i)
		if strings.TrimSpace(ns.Name) == "" {
			k.p.add(path+".name", "name is required")
			continue
		}
		ns.Name = qualify(ns.Name, z.Apex)
		if err := checkName(ns.Name); err != nil {
			k.p.add(path+".name", "%v", err)
			continue
		}
		if nsSeen[ns.Name] {
			k.p.add(path+".name", "duplicate nameserver %s", ns.Name)
		}
		nsSeen[ns.Name] = true
		if ns.Name == z.Apex {
			k.p.add(path+".name", "a nameserver cannot be the zone apex itself")
		}
		in := inZone(ns.Name, z.Apex)
		switch {
		case in && len(ns.Addresses) == 0:
			k.p.add(path+".addresses", "nameserver %s is inside the zone and needs glue addresses", ns.Name)
		case !in && len(ns.Addresses) > 0:
			k.p.add(path+".addresses", "glue is only for nameservers inside the zone; %s is outside %s", ns.Name, z.Apex)
		}
		k.addresses(path+".addresses", ns.Addresses)
		if in {
			add(ns.Name, "glue", path)
		}
	}

	// SOA.
	s := &z.SOA
	if s.MName == "" {
		if len(z.Nameservers) > 0 {
			s.MName = z.Nameservers[0].Name
		}
	} else {
		s.MName = qualify(s.MName, z.Apex)
		if err := checkName(s.MName); err != nil {
			k.p.add(zp+".soa.mname", "%v", err)
		}
	}
	if s.RName == "" {
		s.RName = "hostmaster." + z.Apex
	} else if rn, err := rname(s.RName, z.Apex); err != nil {
		k.p.add(zp+".soa.rname", "%v", err)
	} else if err := checkName(rn); err != nil {
		k.p.add(zp+".soa.rname", "%v", err)
	} else {
		s.RName = rn
	}
	if s.Serial == 0 {
		s.Serial = 1
	}
	k.ttl(zp+".soa.refresh", &s.Refresh, defaultRefresh)
	k.ttl(zp+".soa.retry", &s.Retry, defaultRetry)
	k.ttl(zp+".soa.expire", &s.Expire, defaultExpire)
	k.ttl(zp+".soa.minimum", &s.Minimum, defaultMinimum)
	k.ttl(zp+".soa.ttl", &s.TTL, z.TTL.D())

	// Static records.
	type recKey struct{ name, typ, value string }
	recSeen := map[recKey]int{}
	// rrsets remembers the first record of each name and type, whose TTL
	// the others must share (RFC 2181 5.2).
	type setKey struct{ name, typ string }
	rrsets := map[setKey]int{}
	for i := range z.Records {
		r := &z.Records[i]
		path := fmt.Sprintf("%s.records[%d]", zp, i)
		r.Name = qualify(r.Name, z.Apex)
		nameOK := true
		if err := checkName(r.Name); err != nil {
			k.p.add(path+".name", "%v", err)
			nameOK = false
		} else if !inZone(r.Name, z.Apex) {
			k.p.add(path+".name", "%s is outside the zone %s", r.Name, z.Apex)
			nameOK = false
		}
		r.Type = strings.ToUpper(strings.TrimSpace(r.Type))
		k.ttl(path+".ttl", &r.TTL, z.TTL.D())
		if r.Type == "" {
			k.p.add(path+".type", "type is required (one of %s)", strings.Join(recordTypes, " "))
			continue
		}
		if !slices.Contains(recordTypes, r.Type) {
			k.p.add(path+".type", "unsupported record type %q (want one of %s)", r.Type, strings.Join(recordTypes, " "))
			continue
		}
		rd, err := parseRData(r.Type, r.Value, z.Apex)
		if err != nil {
			k.p.add(path+".value", "%v", err)
			continue
		}
		r.Parsed = rd
		if !nameOK {
			continue
		}
		if r.Type == "NS" && r.Name == z.Apex {
			k.p.add(path+".type", "apex NS records come from nameservers, not records")
			continue
		}
		if r.Type == "CNAME" && r.Name == z.Apex {
			k.p.add(path+".type", "a CNAME cannot be at the zone apex (the SOA and NS records are there)")
			continue
		}
		key := recKey{r.Name, r.Type, fmt.Sprintf("%+v", rd)}
		if j, dup := recSeen[key]; dup {
			k.p.add(path, "duplicate of %s.records[%d]", zp, j)
			continue
		}
		recSeen[key] = i
		sk := setKey{r.Name, r.Type}
		if j, ok := rrsets[sk]; !ok {
			rrsets[sk] = i
		} else if first := z.Records[j]; first.TTL != r.TTL {
			k.p.add(path+".ttl", "TTL %s differs from %s in %s.records[%d]; all %s records of %s must share one TTL (RFC 2181 5.2)",
				r.TTL, first.TTL, zp, j, r.Type, r.Name)
		}
		add(r.Name, r.Type, path)
	}
	// Data below a delegation is never answered: queries there get a
	// referral. Only addresses (glue for the child's nameservers) belong
	// there.
	var cuts []string
	for _, r := range z.Records {
		if r.Type == "NS" && r.Name != z.Apex && inZone(r.Name, z.Apex) && !slices.Contains(cuts, r.Name) {
			cuts = append(cuts, r.Name)
		}
	}
	below := func(name string) string {
		for _, c := range cuts {
			if name != c && strings.HasSuffix(name, "."+c) {
				return c
			}
		}
		return ""
	}
	for i, r := range z.Records {
		if r.Type == "A" || r.Type == "AAAA" || !slices.Contains(recordTypes, r.Type) || checkName(r.Name) != nil {
			continue
		}
		if c := below(r.Name); c != "" {
			k.p.add(fmt.Sprintf("%s.records[%d].name", zp, i),
				"%s is below the delegation to %s, so it would never be answered (only glue A/AAAA records belong there)", r.Name, c)
		}
	}

	// CNAME must be alone at its name (RFC 1034 3.6.2).
	for i := range z.Records {
		r := &z.Records[i]
		if r.Type != "CNAME" {
			continue
		}
		o := names[r.Name]
		if o == nil || len(o.types) < 2 {
			continue
		}
		var others []string
		for _, t := range o.types {
			if t == "glue" {
				t = "nameserver glue"
			}
			others = append(others, t)
		}
		k.p.add(fmt.Sprintf("%s.records[%d]", zp, i),
			"CNAME at %s cannot coexist with other data there (%s)", r.Name, strings.Join(others, ", "))
	}

	k.rrsetSizes(zp, z)

	// GSLB names.
	gslb := map[string]int{}
	for ni := range z.Names {
		n := &z.Names[ni]
		path := fmt.Sprintf("%s.names[%d]", zp, ni)
		if strings.TrimSpace(n.Name) == "" {
			k.p.add(path+".name", "name is required")
		} else {
			n.Name = qualify(n.Name, z.Apex)
			if err := checkName(n.Name); err != nil {
				k.p.add(path+".name", "%v", err)
			} else if !inZone(n.Name, z.Apex) {
				k.p.add(path+".name", "%s is outside the zone %s", n.Name, z.Apex)
			} else if j, dup := gslb[n.Name]; dup {
				k.p.add(path+".name", "duplicate GSLB name %s (also %s.names[%d])", n.Name, zp, j)
			} else {
				gslb[n.Name] = ni
				if o := names[n.Name]; o != nil {
					k.p.add(path+".name", "%s is also static data at %s; a GSLB name must be alone at its name", n.Name, o.path)
				} else if c := below(n.Name); c != "" {
					k.p.add(path+".name", "%s is below the delegation to %s, so it would never be answered", n.Name, c)
				}
			}
		}
		k.name(path, n, z.Apex)
	}
}

// addresses checks and canonicalises a list of IP addresses in place.
func (k *checker) addresses(path string, addrs []string) {
	seen := map[netip.Addr]int{}
	for i, a := range addrs {
		ap := fmt.Sprintf("%s[%d]", path, i)
		ip, err := parseAddr(a)
		if err != nil {
			k.p.add(ap, "%v", err)
			continue
		}
		ip = ip.Unmap()
		if j, dup := seen[ip]; dup {
			k.p.add(ap, "duplicate address %s (also %s[%d])", ip, path, j)
		}
		seen[ip] = i
		addrs[i] = ip.String()
	}
}
