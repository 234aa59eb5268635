package gslb

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// compiled is the config turned into lookup structures. It depends on the
// config only, so WithView shares it between Snapshots.
type compiled struct {
	cfg     *config.Config
	zones   []*zone // longest apex first
	names   []*gname
	byName  map[string]*gname
	regions map[string]*config.Region
	// regionIdx is each region's index in the config's regions.
	regionIdx map[string]int
	// eps lists every endpoint in config order (endpoint finds one by ID).
	eps []*gep
	// probes lists every probe target ID once, in config order, and
	// probeNames[i] the names with an endpoint of probes[i]; byRegion
	// lists the names with an endpoint in each region (each name once, in
	// config order). A republish rebuilds only the names whose target or
	// region drain changed. probeIdx maps a target ID to its index in
	// probes.
	probes     []string
	probeNames [][]*gname
	probeIdx   map[string]int
	byRegion   map[string][]*gname
	// writeNames are the write names, in config order.
	writeNames []*gname
	// cidr4 and cidr6 are the CIDR map's networks sorted by address, to
	// keep ECS scopes from covering a more specific entry (widenScope).
	cidr4, cidr6 []netip.Prefix
	// orders holds the distinct region orders while compiling (nil after).
	orders map[string]sharedOrder
}

// shareOrder returns the one copy of a name's region order and
// endpoint order that every name with the same ones shares; they are
// never modified.
func (c *compiled) shareOrder(order []string, defOrder []int) ([]string, []int) {
	var key strings.Builder
	for _, r := range order {
		key.WriteString(r)
		key.WriteByte(0)
	}
	for _, i := range defOrder {
		key.WriteString(strconv.Itoa(i))
		key.WriteByte(',')
	}
	if o, ok := c.orders[key.String()]; ok {
		return o.regions, o.eps
	}
	o := sharedOrder{slices.Clip(order), slices.Clip(defOrder)}
	c.orders[key.String()] = o
	return o.regions, o.eps
}

type sharedOrder struct {
	regions []string
	eps     []int
}

// probeID returns the one copy of a probe target ID that compiled
// endpoints share.
func (c *compiled) probeID(id string) string {
	if id == "" {
		return ""
	}
	if i, ok := c.probeIdx[id]; ok {
		return c.probes[i]
	}
	return strings.Clone(id)
}

// endpoint finds an endpoint by ID ("<name>@<gslb name>"): through its
// name, so that no map of every endpoint is kept for the API's lookups.
func (c *compiled) endpoint(id string) *gep {
	_, host, ok := strings.Cut(id, "@")
	if !ok {
		return nil
	}
	g := c.byName[strings.ToLower(host)+"."]
	if g == nil {
		return nil
	}
	for _, e := range g.eps {
		if e.id == id {
			return e
		}
	}
	return nil
}

// settingsOf is cfg without what compiling turned into the compiled form:
// each zone's GSLB names (the compiled names hold all they need) and the
// GeoIP database bytes (compiled into the locator). The compiled config
// and its Snapshots keep only this, so the decoded names of a large
// config, most of its memory, are freed once compiled instead of living
// as long as the config is served.
func settingsOf(cfg *config.Config) *config.Config {
	s := *cfg
	s.Zones = make([]config.Zone, len(cfg.Zones))
	for i, z := range cfg.Zones {
		z.Names = nil
		s.Zones[i] = z
	}
	s.GeoIP.Files = nil
	return &s
}

type zone struct {
	apex   string
	whoami string // "whoami.<apex>"
	// soaNeg is the SOA with TTL min(SOA TTL, minimum), for negative answers.
	soaNeg []Record
	soa    []Record
	ns     []Record
	glue   []Record
	nodes  map[string]*node
	first  *gname // the zone's first GSLB name, for whoami
	// hasCuts: some node is a delegation (node.cut is set; lookup.go).
	hasCuts bool
}

// node is one owner name. A node with no rrsets and no GSLB name is an
// empty non-terminal.
type node struct {
	name   string
	rrsets []rrset // in order of first appearance
	gslb   *gname
	deleg  bool // NS records below the apex: a zone cut
	glue   []Record
	cut    *node // the highest delegation at or above this node (linkCuts)
}

type rrset struct {
	typ  uint16
	recs []Record
}

func (n *node) get(t uint16) []Record {
	for i := range n.rrsets {
		if n.rrsets[i].typ == t {
			return n.rrsets[i].recs
		}
	}
	return nil
}

func (n *node) add(r Record) {
	for i := range n.rrsets {
		if n.rrsets[i].typ == r.Type {
			for _, o := range n.rrsets[i].recs {
				if sameData(o, r) {
					return
				}
			}
			n.rrsets[i].recs = append(n.rrsets[i].recs, r)
			return
		}
	}
	n.rrsets = append(n.rrsets, rrset{typ: r.Type, recs: []Record{r}})
}

func sameData(a, b Record) bool {
	return a.Type == b.Type && a.Data.Addr == b.Data.Addr && a.Data.Target == b.Data.Target &&
		a.Data.Pref == b.Data.Pref && a.Data.Priority == b.Data.Priority && a.Data.Weight == b.Data.Weight &&
		a.Data.Port == b.Data.Port && rareEqual(a.Data.Rare, b.Data.Rare)
}

type policyKind uint8

const (
	polNearest policyKind = iota
	polAll
	polFailover
	polWeighted
	polGeomap
)

// String is the policy's config word, for explanations.
func (p policyKind) String() string {
	return [...]string{polNearest: "nearest", polAll: "all", polFailover: "failover",
		polWeighted: "weighted", polGeomap: "geomap"}[p]
}

var policyNames = map[string]policyKind{
	"": polNearest, "nearest": polNearest, "all": polAll, "failover": polFailover,
	"weighted": polWeighted, "geomap": polGeomap,
}

// gname is a compiled GSLB name.
type gname struct {
	idx      int // index in compiled.names and Snapshot.rt
	fqdn     string
	zone     *zone
	policy   policyKind
	ttl      uint32
	minTTL   uint32
	answers  int
	write    bool
	autoBack bool
	hold     time.Duration
	openDown bool
	// eps in config order; defOrder indexes eps by Order, then config order.
	eps      []*gep
	defOrder []int
	// serving[fam] has bit i set when eps[i] serves fam (setServing).
	serving [famTarget + 1]uint64
	// order is Order followed by the other regions of the endpoints.
	order        []string
	geomap       map[string][]string // keys upper case, "default" lower case
	res          *residency
	singleRegion bool
	byLocation   bool // the ranking depends on where the client is
	hasTarget    bool // some endpoint is answered as a CNAME
}

type residency struct {
	match   map[string]bool // upper-case country or continent codes
	regions map[string]bool
	list    []string // the configured regions, in order, for explanations
	closed  bool
	// neg is the SOA answered to fenced clients with fail closed: TTL and
	// minimum are the name's TTL.
	neg []Record
}

// gep is a compiled endpoint. A 100k-name config has hundreds of
// thousands, so it holds only what answers and republishing read; the
// rest is derived when an operator asks (name, addresses as text).
type gep struct {
	id     string // config.Endpoint.ID: "<endpoint name>@<gslb name>"
	region string
	probe  string // probe target ID, "" without probes
	g      *gname
	rg     *config.Region // the region's coordinates
	weight int32
	// pi is the index of probe in compiled.probes (-1 without probes) and
	// ri of region in the config's regions: Snapshot.epState's keys.
	pi, ri int32
	target string
	// alone are the A and AAAA records answered when e is chosen alone,
	// with the name's TTL (see epRT.alone); built once here, shared by
	// every Snapshot of this config. They hold e's addresses (in config
	// order per family): there is no other copy.
	alone [2][]Record
}

// name is the endpoint's own name, the part of its ID before the "@".
func (e *gep) name() string {
	name, _, _ := strings.Cut(e.id, "@")
	return name
}

func (e *gep) serves(fam uint8) bool {
	switch fam {
	case fam4:
		return len(e.alone[0]) > 0 || e.target != ""
	case fam6:
		return len(e.alone[1]) > 0 || e.target != ""
	case famTarget:
		return e.target != ""
	}
	return true
}

// addresses are e's addresses as text, IPv4 first (the config's own
// strings are not kept).
func (e *gep) addresses() []string {
	out := make([]string, 0, len(e.alone[0])+len(e.alone[1]))
	for _, recs := range e.alone {
		for _, r := range recs {
			out = append(out, r.Data.Addr.String())
		}
	}
	return out
}

const (
	famAny uint8 = iota
	fam4
	fam6
)

func secs(d config.Duration, def time.Duration) uint32 {
	v := d.D()
	if v <= 0 {
		v = def
	}
	s := v / time.Second
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return uint32(s)
}

// fqdn lower-cases n and makes it absolute under apex ("@" is the apex).
func fqdn(n, apex string) string {
	n = strings.ToLower(strings.TrimSpace(n))
	switch {
	case n == "" || n == "@":
		return apex
	case strings.HasSuffix(n, "."):
		return n
	case apex == ".":
		return n + "."
	}
	return n + "." + apex
}

var typeByName = map[string]uint16{
	"A": TypeA, "AAAA": TypeAAAA, "CNAME": TypeCNAME, "TXT": TypeTXT, "MX": TypeMX,
	"SRV": TypeSRV, "CAA": TypeCAA, "NS": TypeNS,
}

func compile(cfg *config.Config) (*compiled, error) {
	if cfg == nil {
		return nil, errors.New("gslb: no config")
	}
	c := &compiled{
		cfg:       cfg,
		byName:    map[string]*gname{},
		regions:   map[string]*config.Region{},
		regionIdx: map[string]int{},
		probeIdx:  map[string]int{},
		byRegion:  map[string][]*gname{},
		orders:    map[string]sharedOrder{},
	}
	var errs []error
	for i := range cfg.Regions {
		c.regions[cfg.Regions[i].Name] = &cfg.Regions[i]
		c.regionIdx[cfg.Regions[i].Name] = i
	}
	for zi := range cfg.Zones {
		z, err := c.compileZone(&cfg.Zones[zi])
		if err != nil {
			errs = append(errs, fmt.Errorf("zones[%d]: %w", zi, err))
			continue
		}
		for _, o := range c.zones {
			if o.apex == z.apex {
				errs = append(errs, fmt.Errorf("zones[%d]: duplicate apex %s", zi, z.apex))
			}
		}
		c.zones = append(c.zones, z)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(c.zones, func(a, b *zone) int { return len(b.apex) - len(a.apex) })
	for _, e := range cfg.GeoIP.CIDRMap {
		if p := geo.UnmapPrefix(e.Prefix); p.Addr().Is4() {
			c.cidr4 = append(c.cidr4, p)
		} else {
			c.cidr6 = append(c.cidr6, p)
		}
	}
	for _, l := range [][]netip.Prefix{c.cidr4, c.cidr6} {
		slices.SortFunc(l, func(a, b netip.Prefix) int {
			if n := a.Addr().Compare(b.Addr()); n != 0 {
				return n
			}
			return a.Bits() - b.Bits()
		})
	}
	c.cfg, c.orders = settingsOf(cfg), nil
	return c, nil
}

// widenScope returns the shortest prefix length around addr, at least
// net's, whose network holds no CIDR map entry that lies inside net and
// does not hold addr. A resolver caches an answer for the whole scope
// network; without this, a client located by 10.0.0.0/8 would get scope
// 8 and the resolver would reuse its answer for 10.1.0.0/16 clients that
// a more specific entry sends elsewhere. (The mmdb tree already returns
// the most specific network, but a CIDR entry inside it wins over it.)
//
// For addresses sorted in order, the longest common prefix with addr is
// found next to addr's position, so only the nearest entry on each side
// inside net needs looking at.
func (c *compiled) widenScope(addr netip.Addr, net netip.Prefix) int {
	bits := net.Bits()
	l := c.cidr6
	if addr.Is4() {
		l = c.cidr4
	}
	if len(l) == 0 || !net.Contains(addr) {
		return bits
	}
	i, _ := slices.BinarySearchFunc(l, addr, func(p netip.Prefix, a netip.Addr) int { return p.Addr().Compare(a) })
	// Entries at addr itself hold addr; the first one after them is the
	// successor.
	j := i
	for j < len(l) && l[j].Addr() == addr {
		j++
	}
	// The predecessor: entries holding addr (net itself or wider) sort
	// before any entry inside net that does not, so the first entry
	// before i either qualifies or none does.
	for _, k := range [2]int{i - 1, j} {
		if k < 0 || k >= len(l) {
			continue
		}
		p := l[k]
		if p.Bits() <= bits || !net.Contains(p.Addr()) || p.Contains(addr) {
			continue
		}
		bits = max(bits, commonBits(addr, p.Addr())+1)
	}
	return bits
}

// commonBits is the length of the common prefix of two addresses of the
// same family.
func commonBits(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			n += bits.LeadingZeros8(d)
			break
		}
		n += 8
	}
	if a.Is4() {
		n -= 96
	}
	return n
}

func (c *compiled) compileZone(zc *config.Zone) (*zone, error) {
	apex := fqdn(zc.Apex, ".")
	if apex == "." && strings.TrimSpace(zc.Apex) == "" {
		return nil, errors.New("apex is empty")
	}
	z := &zone{apex: apex, whoami: "whoami." + apex, nodes: map[string]*node{}}
	if apex == "." {
		z.whoami = "whoami."
	}
	if !zc.WhoAmI { // off unless asked for: it shows endpoint states to anyone
		z.whoami = ""
	}
	zttl := secs(zc.TTL, 300*time.Second)
	var errs []error
	nodeAt := func(name string) *node {
		n := z.nodes[name]
		if n == nil {
			n = &node{name: name}
			z.nodes[name] = n
		}
		// Every ancestor up to the apex exists, as an empty non-terminal
		// if nothing else.
		for p := name; p != apex; {
			i := strings.IndexByte(p, '.')
			if i < 0 || i == len(p)-1 {
				break
			}
			p = p[i+1:]
			if z.nodes[p] == nil {
				z.nodes[p] = &node{name: p}
			}
		}
		return n
	}
	apexNode := nodeAt(apex)

	// SOA.
	s := zc.SOA
	mname := fqdn(s.MName, apex)
	if strings.TrimSpace(s.MName) == "" && len(zc.Nameservers) > 0 {
		mname = fqdn(zc.Nameservers[0].Name, apex)
	}
	rname := fqdn(s.RName, apex)
	if strings.TrimSpace(s.RName) == "" {
		rname = "hostmaster." + apex
	}
	serial := s.Serial
	if serial == 0 {
		serial = 1
	}
	soaTTL := secs(s.TTL, time.Duration(zttl)*time.Second)
	soa := Record{Name: apex, Type: TypeSOA, TTL: soaTTL, Data: RData{Rare: &Rare{
		MName: mname, RName: rname, Serial: serial,
		Refresh: secs(s.Refresh, time.Hour), Retry: secs(s.Retry, 10*time.Minute),
		Expire: secs(s.Expire, 168*time.Hour), Minimum: secs(s.Minimum, time.Minute),
	}}}
	z.soa = []Record{soa}
	neg := soa
	neg.TTL = min(soa.TTL, soa.Data.Minimum)
	z.soaNeg = []Record{neg}
	apexNode.add(soa)

	// Apex NS set, with the nameservers' addresses as records of the zone.
	for i, ns := range zc.Nameservers {
		name := fqdn(ns.Name, apex)
		apexNode.add(Record{Name: apex, Type: TypeNS, TTL: zttl, Data: RData{Target: name}})
		for j, a := range ns.Addresses {
			ip, err := netip.ParseAddr(strings.TrimSpace(a))
			if err != nil {
				errs = append(errs, fmt.Errorf("nameservers[%d].addresses[%d]: %w", i, j, err))
				continue
			}
			if !inZone(name, apex) {
				continue // glue only matters for names inside the zone
			}
			ip = ip.Unmap()
			t := TypeA
			if ip.Is6() {
				t = TypeAAAA
			}
			nodeAt(name).add(Record{Name: name, Type: t, TTL: zttl, Data: RData{Addr: ip}})
		}
	}

	// Static records.
	for i := range zc.Records {
		r, err := staticRecord(&zc.Records[i], apex, zttl)
		if err != nil {
			errs = append(errs, fmt.Errorf("records[%d]: %w", i, err))
			continue
		}
		if !inZone(r.Name, apex) {
			errs = append(errs, fmt.Errorf("records[%d]: %s is outside the zone %s", i, r.Name, apex))
			continue
		}
		n := nodeAt(r.Name)
		if r.Type == TypeNS && r.Name != apex {
			n.deleg = true
		}
		n.add(r)
	}

	// GSLB names.
	for i := range zc.Names {
		g, err := c.compileName(&zc.Names[i], z)
		if err != nil {
			errs = append(errs, fmt.Errorf("names[%d]: %w", i, err))
			continue
		}
		if !inZone(g.fqdn, apex) {
			errs = append(errs, fmt.Errorf("names[%d]: %s is outside the zone %s", i, g.fqdn, apex))
			continue
		}
		n := nodeAt(g.fqdn)
		if n.gslb != nil || len(n.rrsets) > 0 {
			errs = append(errs, fmt.Errorf("names[%d]: %s already has records", i, g.fqdn))
			continue
		}
		n.gslb = g
		if z.first == nil {
			z.first = g
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Answers hand these slices out shared; a full capacity makes any
	// append by a caller copy instead of writing into the Snapshot.
	for _, n := range z.nodes {
		for i := range n.rrsets {
			n.rrsets[i].recs = slices.Clip(n.rrsets[i].recs)
		}
	}
	z.ns = apexNode.get(TypeNS)
	z.glue = slices.Clip(z.glueFor(z.ns))
	for _, n := range z.nodes {
		if n.deleg {
			n.glue = slices.Clip(z.glueFor(n.get(TypeNS)))
		}
	}
	z.linkCuts()
	return z, nil
}

// glueFor returns the in-zone addresses of the NS targets in ns.
func (z *zone) glueFor(ns []Record) []Record {
	var out []Record
	for _, r := range ns {
		if n := z.nodes[r.Data.Target]; n != nil && inZone(r.Data.Target, z.apex) {
			out = append(out, n.get(TypeA)...)
			out = append(out, n.get(TypeAAAA)...)
		}
	}
	return out
}

// staticRecord turns a config record into a Record, using Parsed when it
// is filled and parsing Value otherwise.
func staticRecord(rc *config.Record, apex string, zttl uint32) (Record, error) {
	t, ok := typeByName[strings.ToUpper(strings.TrimSpace(rc.Type))]
	if !ok {
		return Record{}, fmt.Errorf("unsupported type %q", rc.Type)
	}
	r := Record{Name: fqdn(rc.Name, apex), Type: t, TTL: secs(rc.TTL, time.Duration(zttl)*time.Second)}
	p := rc.Parsed
	f := strings.Fields(rc.Value)
	bad := func() (Record, error) {
		return Record{}, fmt.Errorf("bad %s value %q", strings.ToUpper(rc.Type), rc.Value)
	}
	u16 := func(s string) (uint16, bool) {
		v, err := strconv.ParseUint(s, 10, 16)
		return uint16(v), err == nil
	}
	switch t {
	case TypeA, TypeAAAA:
		s := p.Addr
		if s == "" {
			s = strings.TrimSpace(rc.Value)
		}
		ip, err := netip.ParseAddr(s)
		if err != nil || (t == TypeA) != ip.Unmap().Is4() {
			return bad()
		}
		r.Data.Addr = ip.Unmap()
	case TypeCNAME, TypeNS:
		s := p.Target
		if s == "" {
			if len(f) != 1 {
				return bad()
			}
			s = f[0]
		}
		r.Data.Target = fqdn(s, apex)
	case TypeTXT:
		r.Data.Rare = &Rare{Text: p.Text}
		if len(r.Data.Text) == 0 {
			r.Data.Text = []string{rc.Value}
		}
	case TypeMX:
		r.Data.Pref, r.Data.Target = p.Pref, p.Target
		if r.Data.Target == "" {
			var ok bool
			if len(f) != 2 {
				return bad()
			}
			if r.Data.Pref, ok = u16(f[0]); !ok {
				return bad()
			}
			r.Data.Target = f[1]
		}
		r.Data.Target = fqdn(r.Data.Target, apex)
	case TypeSRV:
		r.Data.Priority, r.Data.Weight, r.Data.Port, r.Data.Target = p.Priority, p.Weight, p.Port, p.Target
		if r.Data.Target == "" {
			var ok1, ok2, ok3 bool
			if len(f) != 4 {
				return bad()
			}
			r.Data.Priority, ok1 = u16(f[0])
			r.Data.Weight, ok2 = u16(f[1])
			r.Data.Port, ok3 = u16(f[2])
			if !ok1 || !ok2 || !ok3 {
				return bad()
			}
			r.Data.Target = f[3]
		}
		r.Data.Target = fqdn(r.Data.Target, apex)
	case TypeCAA:
		r.Data.Rare = &Rare{Flag: p.Flag, Tag: p.Tag, Value: p.CAAValue}
		if r.Data.Tag == "" {
			if len(f) < 3 {
				return bad()
			}
			fl, err := strconv.ParseUint(f[0], 10, 8)
			if err != nil {
				return bad()
			}
			r.Data.Flag, r.Data.Tag = uint8(fl), f[1]
			v := strings.TrimSpace(rc.Value)
			v = strings.TrimSpace(v[strings.Index(v, f[1])+len(f[1]):])
			r.Data.Value = strings.Trim(v, `"`)
		}
	}
	return r, nil
}

func (c *compiled) compileName(nc *config.Name, z *zone) (*gname, error) {
	g := &gname{
		idx:      len(c.names),
		fqdn:     fqdn(nc.Name, z.apex),
		zone:     z,
		ttl:      secs(nc.TTL, 30*time.Second),
		minTTL:   secs(nc.MinTTL, 5*time.Second),
		answers:  max(nc.Answers, 1),
		write:    strings.EqualFold(nc.Role, "write"),
		autoBack: strings.EqualFold(nc.Failback, "auto"),
		hold:     nc.FailbackHold.D(),
		openDown: !strings.EqualFold(nc.AllDown, "closed"),
	}
	if nc.FailbackHold <= 0 {
		g.hold = 60 * time.Second
	}
	g.minTTL = min(g.minTTL, g.ttl)
	pol, ok := policyNames[strings.ToLower(nc.Policy)]
	if !ok {
		return nil, fmt.Errorf("%s: unknown policy %q", g.fqdn, nc.Policy)
	}
	g.policy = pol
	if g.write {
		g.answers = 1
	}
	if len(nc.Endpoints) == 0 {
		return nil, fmt.Errorf("%s: no endpoints", g.fqdn)
	}
	if _, dup := c.byName[g.fqdn]; dup {
		return nil, fmt.Errorf("%s: duplicate GSLB name", g.fqdn)
	}
	regions := map[string]bool{}
	for i := range nc.Endpoints {
		ec := &nc.Endpoints[i]
		rg, ok := c.regions[ec.Region]
		if !ok {
			return nil, fmt.Errorf("%s: endpoints[%d]: unknown region %q", g.fqdn, i, ec.Region)
		}
		// rg.Name is one string shared by every endpoint of the region, so
		// the answer path's region comparisons (metrics) find equal
		// pointers rather than reading each endpoint's copy, cold at scale.
		// The ID is copied and the probe ID shared, so that no string of
		// the decoded config outlives it: each would pin a span of the
		// freed config's memory (see settingsOf).
		e := &gep{id: strings.Clone(ec.ID), region: rg.Name, probe: c.probeID(ec.ProbeID), g: g, rg: rg, weight: 1,
			pi: -1, ri: int32(c.regionIdx[ec.Region])}
		if ec.Weight != nil {
			e.weight = int32(min(max(*ec.Weight, 0), math.MaxInt32))
		}
		addrs := make([]netip.Addr, 0, len(ec.Addresses))
		for j, a := range ec.Addresses {
			ip, err := netip.ParseAddr(strings.TrimSpace(a))
			if err != nil {
				return nil, fmt.Errorf("%s: endpoints[%d].addresses[%d]: %w", g.fqdn, i, j, err)
			}
			addrs = append(addrs, ip.Unmap())
		}
		// IPv4 first, each family in config order.
		slices.SortStableFunc(addrs, func(a, b netip.Addr) int { return cmp.Compare(a.BitLen(), b.BitLen()) })
		if ec.Target != "" {
			e.target = fqdn(ec.Target, z.apex)
			g.hasTarget = true
		}
		e.alone = aloneRecords(g, addrs, g.ttl)
		if slices.ContainsFunc(g.eps, func(o *gep) bool { return o.id == e.id }) {
			return nil, fmt.Errorf("%s: endpoints[%d]: duplicate endpoint id %q", g.fqdn, i, e.id)
		}
		c.eps = append(c.eps, e)
		g.eps = append(g.eps, e)
		regions[e.region] = true
		if e.probe != "" {
			pi, ok := c.probeIdx[e.probe]
			if !ok {
				pi = len(c.probes)
				c.probeIdx[e.probe] = pi
				c.probes = append(c.probes, e.probe)
				c.probeNames = append(c.probeNames, nil)
			}
			e.pi = int32(pi)
			if !slices.ContainsFunc(g.eps[:i], func(o *gep) bool { return o.probe == e.probe }) {
				c.probeNames[pi] = append(c.probeNames[pi], g)
			}
		}
		if !slices.ContainsFunc(g.eps[:i], func(o *gep) bool { return o.region == e.region }) {
			c.byRegion[e.region] = append(c.byRegion[e.region], g)
		}
	}
	g.singleRegion = len(regions) == 1

	// Region order: Order first, then the endpoints' other regions in
	// config order. Names mostly repeat a few orders, so each distinct
	// one is kept once (c.orders).
	order := make([]string, 0, len(nc.Order)+len(g.eps))
	for _, r := range nc.Order {
		if rg, ok := c.regions[r]; ok {
			r = rg.Name // the shared copy, not the decoded config's
		}
		if !slices.Contains(order, r) {
			order = append(order, r)
		}
	}
	for _, e := range g.eps {
		if !slices.Contains(order, e.region) {
			order = append(order, e.region)
		}
	}
	defOrder := make([]int, 0, len(g.eps))
	for _, r := range order {
		for i, e := range g.eps {
			if e.region == r {
				defOrder = append(defOrder, i)
			}
		}
	}
	g.order, g.defOrder = c.shareOrder(order, defOrder)
	if len(nc.GeoMap) > 0 {
		g.geomap = make(map[string][]string, len(nc.GeoMap))
		for k, v := range nc.GeoMap {
			if strings.EqualFold(k, "default") {
				g.geomap["default"] = v
			} else {
				g.geomap[strings.ToUpper(k)] = v
			}
		}
	}
	if nc.Residency != nil {
		g.res = &residency{match: map[string]bool{}, regions: map[string]bool{},
			list: slices.Clone(nc.Residency.Regions), closed: strings.EqualFold(nc.Residency.Fail, "closed")}
		for _, m := range nc.Residency.Match {
			g.res.match[strings.ToUpper(m)] = true
		}
		for _, r := range nc.Residency.Regions {
			g.res.regions[r] = true
		}
		neg, rare := z.soa[0], *z.soa[0].Data.Rare
		rare.Minimum = g.ttl
		neg.TTL, neg.Data.Rare = g.ttl, &rare
		g.res.neg = []Record{neg}
	}
	g.byLocation = g.res != nil || (!g.write && (g.policy == polNearest || g.policy == polGeomap))
	if g.singleRegion && g.res == nil {
		g.byLocation = false
	}
	g.setServing()
	c.byName[g.fqdn] = g
	c.names = append(c.names, g)
	if g.write {
		c.writeNames = append(c.writeNames, g)
	}
	return g, nil
}
