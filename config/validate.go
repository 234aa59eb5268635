package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults not written next to their fields in config.go.
const (
	defaultDNSListen     = "127.0.0.1:5353"
	defaultHTTPListen    = "127.0.0.1:8053"
	defaultUDPSize       = 1232
	maxUDPWorkers        = 256
	defaultTCPIdle       = 10 * time.Second
	defaultZoneTTL       = 300 * time.Second
	defaultRefresh       = time.Hour
	defaultRetry         = 10 * time.Minute
	defaultExpire        = 168 * time.Hour
	defaultMinimum       = 60 * time.Second
	defaultNameTTL       = 30 * time.Second
	defaultMinTTL        = 5 * time.Second
	defaultFailbackHold  = 60 * time.Second
	defaultInterval      = 5 * time.Second
	defaultTimeout       = 2 * time.Second
	defaultRise          = 2
	defaultFall          = 3
	defaultMaxLag        = 10 * time.Second
	defaultHold          = 30 * time.Second
	defaultIsolationHold = 5 * time.Minute
	defaultWriteGrace    = 10 * time.Second
	defaultStartupLimit  = 30 * time.Second
	maxTTL               = math.MaxInt32 * time.Second
)

var (
	continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	policies   = []string{"all", "nearest", "failover", "weighted", "geomap"}
)

// checker fills defaults, normalises names and validates one decoded
// Config, adding every problem it finds.
type checker struct {
	c *Config
	p *problems
	// regions maps region name to its index, for valid regions only.
	regions map[string]int
}

func check(c *Config, p *problems) {
	k := &checker{c: c, p: p, regions: map[string]int{}}
	k.node()
	k.listen()
	k.health()
	k.regionList()
	k.geoip()
	k.zones()
	k.cluster()
	k.admin()
	k.hooks()
	k.auditLog()
	k.harden()
	if len(c.VersionBind) > 255 {
		p.add("version_bind", "must be at most 255 bytes")
	}
}

// lower normalises an enum value; "" stays "" so the default applies.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (k *checker) oneOf(path, v string, allowed []string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	k.p.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

// dur defaults *d to def when zero and reports negative values.
func (k *checker) dur(path string, d *Duration, def time.Duration) {
	if *d < 0 {
		k.p.add(path, "must not be negative, got %s", *d)
		*d = Duration(def)
		return
	}
	if *d == 0 {
		*d = Duration(def)
	}
}

// ttl is dur plus the DNS limits: whole seconds up to 2^31-1.
func (k *checker) ttl(path string, d *Duration, def time.Duration) {
	k.dur(path, d, def)
	if d.D()%time.Second != 0 {
		k.p.add(path, "TTL %s must be a whole number of seconds", *d)
	}
	if d.D() > maxTTL {
		k.p.add(path, "TTL %s is above the DNS maximum of %d seconds", *d, math.MaxInt32)
	}
}

// count defaults *n to def when unset; a value written as 0 or below is
// an error (0 is only "unset" when the key is absent).
func (k *checker) count(path string, n *int, def int) {
	if *n < 1 && (k.p.present(path) || *n < 0) {
		k.p.add(path, "must be at least 1, got %d", *n)
	}
	if *n < 1 {
		*n = def
	}
}

func (k *checker) node() {
	if k.c.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "gslbd"
		}
		k.c.Node = h
		return
	}
	if strings.ContainsFunc(k.c.Node, isSpace) {
		k.p.add("node", "node name %q must not contain spaces", k.c.Node)
	}
	k.lengthLimit("node", "node name", k.c.Node, maxNodeLen)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// hostPort checks a socket address; with ipOnly the host must be an IP
// literal or empty (listen addresses), otherwise a host name is fine too.
func hostPort(v string, ipOnly bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q must be a number from 0 to 65535", v, port)
	}
	if host == "" {
		return nil
	}
	if _, err := parseAddr(host); err == nil {
		return nil
	}
	if ipOnly {
		return fmt.Errorf("%q: host %q must be an IP address or empty", v, host)
	}
	if err := checkName(absolute(host)); err != nil {
		return fmt.Errorf("%q: host %q is neither an IP address nor a host name", v, host)
	}
	return nil
}

func (k *checker) listen() {
	l := &k.c.Listen
	if len(l.DNS) == 0 {
		l.DNS = []string{defaultDNSListen}
	}
	seen := map[string]bool{}
	for i, a := range l.DNS {
		path := fmt.Sprintf("listen.dns[%d]", i)
		if err := hostPort(a, true); err != nil {
			k.p.add(path, "%v", err)
		}
		if seen[a] {
			k.p.add(path, "duplicate listen address %q", a)
		}
		seen[a] = true
	}
	// An explicit http: "" disables the HTTP listener; absent means default.
	if l.HTTP == "" && !k.p.present("listen.http") {
		l.HTTP = defaultHTTPListen
	}
	if l.HTTP != "" {
		if err := hostPort(l.HTTP, true); err != nil {
			k.p.add("listen.http", "%v", err)
		}
	}
	if l.UDPSize == 0 {
		l.UDPSize = defaultUDPSize
	} else if l.UDPSize < 512 || l.UDPSize > maxUDPSize {
		k.p.add("listen.udp_size", "must be from 512 to %d, got %d", maxUDPSize, l.UDPSize)
	}
	switch {
	case l.UDPWorkers == 0:
		l.UDPWorkers = runtime.GOMAXPROCS(0)
	case l.UDPWorkers < 0 || l.UDPWorkers > maxUDPWorkers:
		k.p.add("listen.udp_workers", "must be between 1 and %d, got %d", maxUDPWorkers, l.UDPWorkers)
	}
	k.dur("listen.tcp_idle_timeout", &l.TCPIdleTimeout, defaultTCPIdle)
	if l.TCPIdleTimeout.D() > maxTCPIdle {
		k.p.add("listen.tcp_idle_timeout", "must be at most %s, got %s", maxTCPIdle, l.TCPIdleTimeout)
	}
}

func (k *checker) health() {
	h := &k.c.Health
	k.timing("health", &h.Interval, &h.Timeout, Duration(defaultInterval), Duration(defaultTimeout))
	k.count("health.rise", &h.Rise, defaultRise)
	k.count("health.fall", &h.Fall, defaultFall)
	k.dur("health.max_lag", &h.MaxLag, defaultMaxLag)
	k.dur("health.hold", &h.Hold, defaultHold)
	k.dur("health.fast_interval", &h.FastInterval, 0)
	if h.FastInterval > h.Interval {
		k.p.add("health.fast_interval", "fast_interval %s must not exceed interval %s", h.FastInterval, h.Interval)
	}
}

// validName reports why a region or endpoint name cannot be used: it is
// an identifier in endpoint IDs ("name@host"), metrics labels and URLs.
func validIdent(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

func (k *checker) latLon(path string, lat, lon float64) {
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		k.p.add(path+".latitude", "latitude %v is outside -90..90", lat)
	}
	if math.IsNaN(lon) || lon < -180 || lon > 180 {
		k.p.add(path+".longitude", "longitude %v is outside -180..180", lon)
	}
}

func (k *checker) continent(path string, v *string) {
	if *v == "" {
		return
	}
	*v = strings.ToUpper(strings.TrimSpace(*v))
	k.oneOf(path, *v, continents)
}

func (k *checker) country(path string, v *string) {
	if *v == "" {
		return
	}
	orig := *v
	*v = strings.ToUpper(strings.TrimSpace(*v))
	if !isCode(*v) {
		k.p.add(path, "%q is not a two-letter country code", orig)
	}
}

func isCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func (k *checker) regionList() {
	if len(k.c.Regions) == 0 {
		k.p.add("regions", "at least one region is required")
	}
	for i := range k.c.Regions {
		r := &k.c.Regions[i]
		path := fmt.Sprintf("regions[%d]", i)
		if err := validIdent(r.Name); err != nil {
			k.p.add(path+".name", "region name %v", err)
		} else if len(r.Name) > maxRegionLen {
			k.lengthLimit(path+".name", "region name", r.Name, maxRegionLen)
		} else if _, dup := k.regions[r.Name]; dup {
			k.p.add(path+".name", "duplicate region %q", r.Name)
		} else {
			k.regions[r.Name] = i
		}
		for _, f := range []string{"latitude", "longitude"} {
			if !k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is required (regions are placed by coordinates)", f)
			}
		}
		k.latLon(path, r.Latitude, r.Longitude)
		k.continent(path+".continent", &r.Continent)
	}
}

func (k *checker) knownRegion(path, name string) bool {
	if _, ok := k.regions[name]; ok {
		return true
	}
	if name == "" {
		k.p.add(path, "region is required")
	} else {
		k.p.add(path, "unknown region %q", name)
	}
	return false
}

func (k *checker) geoip() {
	g := &k.c.GeoIP
	seen := map[string]bool{}
	for i, db := range g.Databases {
		path := fmt.Sprintf("geoip.databases[%d]", i)
		if strings.TrimSpace(db) == "" {
			k.p.add(path, "database path must not be empty")
		} else if seen[db] {
			k.p.add(path, "duplicate database %q", db)
		}
		seen[db] = true
	}
	nets := map[netip.Prefix]int{}
	for i := range g.CIDRMap {
		e := &g.CIDRMap[i]
		path := fmt.Sprintf("geoip.cidr_map[%d]", i)
		pfx, err := netip.ParsePrefix(strings.TrimSpace(e.Network))
		switch {
		case err != nil:
			k.p.add(path+".network", "invalid network %q; want e.g. 192.0.2.0/24", e.Network)
		case pfx.Masked() != pfx:
			k.p.add(path+".network", "network %q has host bits set; did you mean %s?", e.Network, pfx.Masked())
		default:
			if j, dup := nets[pfx]; dup {
				k.p.add(path+".network", "network %s is also in geoip.cidr_map[%d]", pfx, j)
			}
			nets[pfx] = i
			e.Network = pfx.String()
			e.Prefix = pfx
		}
		hasCoord := e.Latitude != nil || e.Longitude != nil
		switch {
		case e.Region != "" && hasCoord:
			k.p.add(path, "set region or latitude/longitude, not both")
		case e.Region != "":
			if k.knownRegion(path+".region", e.Region) {
				// Fill the place from the region so geo needs no region table.
				r := k.c.Regions[k.regions[e.Region]]
				lat, lon := r.Latitude, r.Longitude
				e.Latitude, e.Longitude = &lat, &lon
			}
		case e.Latitude == nil || e.Longitude == nil:
			k.p.add(path, "needs a region or both latitude and longitude")
		default:
			k.latLon(path, *e.Latitude, *e.Longitude)
		}
		k.country(path+".country", &e.Country)
		k.continent(path+".continent", &e.Continent)
		if e.Continent == "" && e.Region != "" {
			if j, ok := k.regions[e.Region]; ok {
				e.Continent = k.c.Regions[j].Continent
			}
		}
	}
}

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
		ep := fmt.Sprintf("%s.endpoints[%d]", path, ei)
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
		k.lengthLimit(ep+".name", "endpoint ID "+strconv.Quote(truncate(e.ID, 40)), e.ID, maxEndpointLen)
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

// timing fills interval and timeout and checks timeout < interval. A
// timeout left unset takes defTimeout, capped at half the interval so a
// short interval alone is a valid probe.
func (k *checker) timing(path string, interval, timeout *Duration, defInterval, defTimeout Duration) {
	k.dur(path+".interval", interval, defInterval.D())
	if *interval > 0 && interval.D() < minProbeInterval {
		k.p.add(path+".interval", "must be at least %s, got %s", minProbeInterval, *interval)
	}
	if *timeout == 0 && defTimeout >= *interval {
		defTimeout = *interval / 2
	}
	k.dur(path+".timeout", timeout, defTimeout.D())
	if *timeout >= *interval {
		k.p.add(path+".timeout", "timeout %s must be less than interval %s", *timeout, *interval)
	}
}

// httpURL checks a probe URL: http or https with a host.
func (k *checker) httpURL(path, v string) (scheme string, ok bool) {
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		k.p.add(path, "%q is not an http:// or https:// URL with a host", v)
		return "", false
	}
	k.urlPort(path, u)
	return u.Scheme, true
}

func (k *checker) probe(path string, pr *Probe) {
	h := k.c.Health
	pr.Type = lower(pr.Type)
	urlChecked := false
	if pr.Type == "" {
		switch {
		case pr.URL != "":
			// The type comes from the scheme, so a URL without one (or one
			// that does not parse) must be reported here: left typeless,
			// the probe would otherwise pass validation unchecked.
			urlChecked = true
			if scheme, ok := k.httpURL(path+".url", pr.URL); ok {
				pr.Type = scheme
			}
		case pr.Address != "":
			pr.Type = "tcp"
		default:
			k.p.add(path, "a probe needs a url (http/https) or an address (tcp)")
		}
	}
	switch pr.Type {
	case "http", "https":
		if pr.URL == "" {
			k.p.add(path+".url", "url is required for %s probes", pr.Type)
		} else if !urlChecked { // a type taken from the URL matches it
			if scheme, ok := k.httpURL(path+".url", pr.URL); ok && scheme != pr.Type {
				k.p.add(path+".url", "url scheme %s does not match type %s", scheme, pr.Type)
			}
		}
		if pr.Address != "" {
			k.p.add(path+".address", "address is only for tcp probes")
		}
		pr.Method = strings.ToUpper(strings.TrimSpace(pr.Method))
		if pr.Method == "" {
			pr.Method = "GET"
		}
		for i, st := range pr.ExpectStatus {
			if st < 100 || st > 599 {
				k.p.add(fmt.Sprintf("%s.expect_status[%d]", path, i), "%d is not an HTTP status code", st)
			}
		}
	case "tcp":
		if pr.Address == "" {
			k.p.add(path+".address", "address (host:port) is required for tcp probes")
		} else if err := hostPort(pr.Address, false); err != nil {
			k.p.add(path+".address", "%v", err)
		}
		if pr.URL != "" {
			k.p.add(path+".url", "url is only for http and https probes")
		}
		for _, f := range []string{"method", "host", "expect_status", "body_contains"} {
			if k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is only for http and https probes", f)
			}
		}
	case "":
	default:
		k.p.add(path+".type", "unsupported probe type %q (want http, https or tcp)", pr.Type)
	}
	k.timing(path, &pr.Interval, &pr.Timeout, h.Interval, h.Timeout)
	k.count(path+".rise", &pr.Rise, h.Rise)
	k.count(path+".fall", &pr.Fall, h.Fall)
	fast := h.FastInterval.D()
	if fast <= 0 {
		fast = pr.Interval.D() / 4
	}
	k.dur(path+".fast_interval", &pr.FastInterval, min(fast, pr.Interval.D()))
	if pr.FastInterval > pr.Interval {
		k.p.add(path+".fast_interval", "fast_interval %s must not exceed interval %s", pr.FastInterval, pr.Interval)
	}
}

func (k *checker) readiness(path string, r *Readiness, live *Probe) {
	h := k.c.Health
	r.Type = lower(r.Type)
	if r.Type == "" {
		switch {
		case r.DSN != "":
			r.Type = "postgres"
		case r.Metric != "":
			r.Type = "prometheus"
		case r.Field != "":
			r.Type = "http_json"
		default:
			k.p.add(path+".type", "type is required (http_json, prometheus or postgres)")
		}
	}
	need := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			k.p.add(path+"."+field, "%s is required for type %s", field, r.Type)
		}
	}
	unused := func(fields ...string) {
		for _, f := range fields {
			if k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is not used by type %s", f, r.Type)
			}
		}
	}
	switch r.Type {
	case "http_json":
		need("url", r.URL)
		need("field", r.Field)
		if r.URL != "" {
			k.httpURL(path+".url", r.URL)
		}
		if r.Field != "" && slices.Contains(strings.Split(r.Field, "."), "") {
			k.p.add(path+".field", "field %q has an empty path element", r.Field)
		}
		unused("metric", "labels", "dsn")
	case "prometheus":
		need("url", r.URL)
		need("metric", r.Metric)
		if r.URL != "" {
			k.httpURL(path+".url", r.URL)
		}
		unused("field", "dsn")
	case "postgres":
		need("dsn", r.DSN)
		unused("url", "field", "metric", "labels")
	case "":
	default:
		k.p.add(path+".type", "unsupported readiness type %q (want http_json, prometheus or postgres)", r.Type)
	}
	k.dur(path+".max_lag", &r.MaxLag, h.MaxLag.D())
	k.dur(path+".hold", &r.Hold, h.Hold.D())
	defInterval, defTimeout := h.Interval, h.Timeout
	if live != nil {
		defInterval, defTimeout = live.Interval, live.Timeout
	}
	k.timing(path, &r.Interval, &r.Timeout, defInterval, defTimeout)
}

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

func (k *checker) admin() {
	a := &k.c.Admin
	if a.Token != "" && a.TokenFile != "" {
		k.p.add("admin", "set token or token_file, not both")
	}
	if a.Token != "" {
		a.Secret = strings.TrimSpace(a.Token)
		checkToken(k.p, "admin.token", a.Secret)
	}
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
