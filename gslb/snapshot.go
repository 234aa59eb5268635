package gslb

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// Options builds a Snapshot.
type Options struct {
	// Config must be a validated config (config.Parse succeeded).
	Config *config.Config
	// Locator locates clients; nil locates nobody.
	Locator *geo.Locator
	// Previous carries state across rebuilds: recent events and write
	// history. Nil at start.
	Previous *Snapshot
	// View is the agreed endpoint state.
	View View
	Now  time.Time
	// Rand returns a float in [0,1) for weighted choice; nil uses math/rand/v2.
	Rand func() float64
}

// maxEvents bounds Snapshot.Events; maxHistory bounds WriteHistory.
const (
	maxEvents  = 100
	maxHistory = 50
)

// Snapshot is one immutable, complete answer source: zones, records,
// regions, locator and agreed endpoint states. It is safe for concurrent
// use and never changed once built.
type Snapshot struct {
	cfg  *config.Config
	c    *compiled
	loc  *geo.Locator
	rank *ranking // nearest names' orders per place; nil without places
	view View
	now  time.Time
	rnd  func() float64
	// tgt[e.pi] is the agreed state of e's probe target (noProbe for an
	// endpoint without probes): what most endpoints' state is (epState).
	// A republish rebuilds this, a pass over the targets, and nothing
	// per name.
	tgt []epRT
	// rdrain[e.ri] is the drain record of e's region (nil: none), and
	// edrain is set when the View holds endpoint drain records: only then
	// does epState look further than tgt.
	rdrain []*Drain
	edrain bool
	// writes holds the write names' decisions by gname.idx (a map: 100k
	// read names should not cost a slot each on every publish).
	writes map[int]writeState
	events []Event
	// changes are the events of this build alone, uncapped (Changes).
	changes []Event
	// history holds the write records this node has seen come into force,
	// oldest first (at most maxHistory).
	history []WriteActive
}

// epRT is one endpoint's agreed state as the answer path needs it.
type epRT struct {
	state      State
	transition bool
	since      time.Time
}

// noProbe is the state of an endpoint without probes and without drains.
var noProbe = epRT{state: Ready}

// epState is e's agreed state under the Snapshot's View: what
// View.Endpoint says, from the per-target table unless a drain record
// of e or its region is in the View. Small enough to inline into the
// answer path; drains take drainedState.
func (s *Snapshot) epState(e *gep) epRT {
	if s.edrain || s.rdrain != nil {
		return s.drainedState(e)
	}
	if e.pi < 0 {
		return noProbe
	}
	return s.tgt[e.pi]
}

func (s *Snapshot) drainedState(e *gep) epRT {
	st := noProbe
	if e.pi >= 0 {
		st = s.tgt[e.pi]
	}
	var ed, rd *Drain
	if s.edrain {
		if d, ok := s.view.EndpointDrains[e.id]; ok {
			ed = &d
		}
	}
	if s.rdrain != nil {
		rd = s.rdrain[e.ri]
	}
	for _, d := range [2]*Drain{ed, rd} {
		if d == nil {
			continue
		}
		if d.ActiveAt(s.view.At) {
			return epRT{state: Drained, since: d.changedAt(s.view.At)}
		}
		if at := d.changedAt(s.view.At); at.After(st.since) {
			st.since = at
		}
	}
	return st
}

// setTargets builds the per-target table and the drain lookups of v.
func (s *Snapshot) setTargets(v View) {
	s.tgt = make([]epRT, len(s.c.probes))
	for i, id := range s.c.probes {
		ts, ok := v.Targets[id]
		if !ok {
			s.tgt[i] = epRT{state: Unknown}
			continue
		}
		s.tgt[i] = epRT{state: ts.State, transition: ts.Transition, since: ts.Since}
	}
	s.edrain = len(v.EndpointDrains) > 0
	if len(v.RegionDrains) > 0 {
		regions := s.c.cfg.Regions
		s.rdrain = make([]*Drain, len(regions))
		for i := range regions {
			s.rdrain[i] = drainOf(v.RegionDrains, regions[i].Name)
		}
	}
}

// NewSnapshot compiles a validated config with a View into a Snapshot.
// A config that cannot be compiled (it should have failed validation)
// gives an error listing every problem.
func NewSnapshot(o Options) (*Snapshot, error) {
	c, err := compile(o.Config)
	if err != nil {
		return nil, err
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	s := &Snapshot{cfg: c.cfg, c: c, loc: o.Locator, rank: newRanking(c, o.Locator), rnd: rnd}
	s.setView(o.Previous, o.View, o.Now)
	return s, nil
}

// WithView returns a new Snapshot with the same config and locator and a
// new View. It never fails, so the publisher can call it on every change
// and when RebuildAt is due.
func (s *Snapshot) WithView(v View, now time.Time) *Snapshot {
	n := &Snapshot{cfg: s.cfg, c: s.c, loc: s.loc, rank: s.rank, rnd: s.rnd}
	n.setView(s, v, now)
	return n
}

// setView derives everything that depends on the View: endpoint states,
// write names' active regions and events. Endpoint states come from the
// table by target (setTargets); when prev was built from the same
// compiled config, only the names with an endpoint whose target or drain
// changed are visited, for the events. A republish costs a pass over the
// targets and drains plus the events of what changed, not a pass over
// every name or endpoint.
func (s *Snapshot) setView(prev *Snapshot, v View, now time.Time) {
	s.view, s.now = v, now
	// moved are the endpoints whose agreed state changed, with the state
	// they had under prev.view.
	type move struct {
		e    *gep
		from State
	}
	var moved []move
	s.setTargets(v)
	if prev != nil && prev.c == s.c {
		dirty := s.c.dirtyNames(prev, s)
		if len(dirty) > 0 {
			moved = make([]move, 0, len(dirty)) // one endpoint a name, usually
		}
		for _, g := range dirty {
			for _, e := range g.eps {
				if from, to := prev.epState(e).state, s.epState(e).state; from != to {
					moved = append(moved, move{e, from})
				}
			}
		}
	}
	if prev != nil {
		s.history = prev.history
	}
	if len(s.c.writeNames) > 0 {
		s.writes = make(map[int]writeState, len(s.c.writeNames))
	}
	for _, g := range s.c.writeNames {
		rec := v.Active[g.fqdn]
		s.writes[g.idx] = s.decideWrite(g, rec)
		if prev != nil {
			if pg := prev.c.byName[g.fqdn]; pg != nil && pg.write && rec.Term > 0 &&
				rec.Supersedes(prev.writes[pg.idx].rec) {
				s.history = append(slices.Clip(s.history), rec)
			}
		}
	}
	if len(s.history) > maxHistory {
		s.history = slices.Clone(s.history[len(s.history)-maxHistory:])
	}
	// Events: every agreed state change from the previous View, in config
	// order, appended to the carried history. The first Snapshot has no
	// previous state to change from.
	if prev != nil && prev.c == s.c {
		s.changes = make([]Event, 0, len(moved))
		// View.Endpoint with its target part looked up once per target,
		// not per endpoint: 10k endpoints move when one of 30 targets
		// fails under 100k names.
		var byProbe []*TargetState
		if len(moved) > 0 {
			byProbe = make([]*TargetState, len(s.c.probes))
		}
		for _, m := range moved {
			e := m.e
			es := EndpointState{ID: e.id, Probe: e.probe}
			if e.pi < 0 {
				es.TargetState = v.target(e.probe)
			} else {
				if byProbe[e.pi] == nil {
					ts := v.target(e.probe)
					byProbe[e.pi] = &ts
				}
				es.TargetState = *byProbe[e.pi]
			}
			to := v.drained(es, e.region)
			s.addChange(e, m.from, &to, now)
		}
	}
	var eps []*gep
	if prev != nil && prev.c != s.c {
		eps = s.c.eps
	}
	for _, e := range eps {
		var from EndpointState
		if pe := prev.c.endpoint(e.id); pe != nil {
			from = prev.view.Endpoint(pe.id, pe.probe, pe.region)
		}
		to := v.Endpoint(e.id, e.probe, e.region)
		s.addChange(e, from.State, &to, now)
	}
	if prev != nil {
		s.events = prev.events
	}
	if len(s.changes) > 0 {
		s.events = append(slices.Clip(s.events), s.changes[max(len(s.changes)-maxEvents, 0):]...)
	}
	if len(s.events) > maxEvents {
		s.events = slices.Clone(s.events[len(s.events)-maxEvents:])
	}
}

// dirtyNames lists, in config order, the names with an endpoint whose
// runtime state may differ between the Snapshots prev and s of this
// compiled config: its probe target's state, since or transition moved
// (their target tables differ), or a drain of it or of its region
// changed or started or ended between the two Views' times.
func (c *compiled) dirtyNames(prev, s *Snapshot) []*gname {
	old, v := prev.view, s.view
	var dirty []bool // by gname.idx, allocated at the first change
	n := 0
	mark := func(gs ...*gname) {
		if dirty == nil {
			dirty = make([]bool, len(c.names))
		}
		for _, g := range gs {
			if !dirty[g.idx] {
				dirty[g.idx] = true
				n++
			}
		}
	}
	for i := range c.probes {
		if a, b := prev.tgt[i], s.tgt[i]; a.state != b.state || a.transition != b.transition || !a.since.Equal(b.since) {
			mark(c.probeNames[i]...)
		}
	}
	for id := range drainChanges(old.EndpointDrains, v.EndpointDrains, old.At, v.At) {
		if e := c.endpoint(id); e != nil {
			mark(e.g)
		}
	}
	for r := range drainChanges(old.RegionDrains, v.RegionDrains, old.At, v.At) {
		mark(c.byRegion[r]...)
	}
	if dirty == nil {
		return nil
	}
	out := make([]*gname, 0, n)
	for i, d := range dirty {
		if d {
			out = append(out, c.names[i])
		}
	}
	return out
}

// drainChanges yields the keys whose drain record differs between a and
// b, or whose effect differs between the times ta and tb.
func drainChanges(a, b map[string]Drain, ta, tb time.Time) map[string]bool {
	var out map[string]bool
	add := func(k string) {
		if out == nil {
			out = map[string]bool{}
		}
		out[k] = true
	}
	for k, da := range a {
		db, ok := b[k]
		if !ok || da != db || da.ActiveAt(ta) != db.ActiveAt(tb) {
			add(k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			add(k)
		}
	}
	return out
}

// addChange records e's move from the state from to to, if it moved.
func (s *Snapshot) addChange(e *gep, from State, to *EndpointState, now time.Time) {
	if from == to.State {
		return
	}
	at := to.Since
	if at.IsZero() {
		at = now
	}
	s.changes = append(s.changes, Event{At: at, Endpoint: e.id, GSLBName: e.g.fqdn, Region: e.region,
		From: from, To: to.State, Reason: to.Reason})
}

// aloneRecords builds the A and AAAA records of addrs (IPv4 and IPv6,
// in order) as answered when their endpoint is chosen alone, with TTL
// ttl. Their capacity is full, so an append by a caller copies instead of
// writing into a Snapshot. They are also the endpoint's only copy of its
// addresses.
func aloneRecords(g *gname, addrs []netip.Addr, ttl uint32) [2][]Record {
	var out [2][]Record
	n4 := 0
	for _, ip := range addrs {
		if ip.Is4() {
			n4++
		}
	}
	if len(addrs) == 0 {
		return out
	}
	recs := make([]Record, 0, len(addrs)) // one allocation for both
	for _, ip := range addrs {
		t := TypeAAAA
		if ip.Is4() {
			t = TypeA
		}
		recs = append(recs, Record{Name: g.fqdn, Type: t, TTL: ttl, Data: RData{Addr: ip}})
	}
	if n4 > 0 {
		out[0] = recs[:n4:n4]
	}
	if n4 < len(recs) {
		out[1] = recs[n4:]
	}
	return out
}

// Config returns the settings of the config the Snapshot was built from:
// all of it but each zone's GSLB names and the GeoIP database bytes,
// which live on compiled (Endpoints, Explain, the locator) and are not
// kept twice. Callers must not modify it.
func (s *Snapshot) Config() *config.Config { return s.cfg }

// View returns the agreed state the Snapshot answers from. Its maps are
// shared: callers must not modify them.
func (s *Snapshot) View() View { return s.view }

// NodeName is the configured node name (CHAOS id.server).
func (s *Snapshot) NodeName() string { return s.cfg.Node }

// VersionBind is the configured CHAOS version.bind answer; "" refuses it.
func (s *Snapshot) VersionBind() string { return s.cfg.VersionBind }

// Regions returns the configured regions. Callers must not modify them.
func (s *Snapshot) Regions() []config.Region { return s.cfg.Regions }

// Endpoint returns one endpoint's configuration and agreed state.
func (s *Snapshot) Endpoint(id string) (EndpointInfo, bool) {
	e := s.c.endpoint(id)
	if e == nil {
		return EndpointInfo{}, false
	}
	return s.info(e), true
}

func (s *Snapshot) info(e *gep) EndpointInfo {
	st := s.view.Endpoint(e.id, e.probe, e.region)
	return EndpointInfo{
		ID: e.id, Name: e.name(), GSLBName: e.g.fqdn, Zone: e.g.zone.apex, Region: e.region,
		Addresses: e.addresses(), Target: e.target, Weight: int(e.weight), State: st,
		Active: e.g.write && s.writes[e.g.idx].region == e.region,
	}
}

// Endpoints lists every configured endpoint with its agreed state, in
// config order.
func (s *Snapshot) Endpoints() []EndpointInfo {
	out := make([]EndpointInfo, len(s.c.eps))
	for i, e := range s.c.eps {
		out[i] = s.info(e)
	}
	return out
}

// Events returns recent agreed state changes, newest last (at most 100).
// Callers must not modify the slice.
func (s *Snapshot) Events() []Event { return s.events }

// Changes returns the agreed state changes from the Snapshot this one was
// built from, every one of them (Events keeps the last 100 only), in
// config order. Callers must not modify the slice.
func (s *Snapshot) Changes() []Event { return s.changes }

// BuiltAt is the Now the Snapshot was built with.
func (s *Snapshot) BuiltAt() time.Time { return s.now }

// EndpointInfo is one endpoint's configuration and agreed state.
type EndpointInfo struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	GSLBName  string        `json:"gslb_name"`
	Zone      string        `json:"zone"`
	Region    string        `json:"region"`
	Addresses []string      `json:"addresses,omitempty"`
	Target    string        `json:"target,omitempty"`
	Weight    int           `json:"weight"`
	State     EndpointState `json:"state"`
	// Active is true for the endpoint a write name currently sends to.
	Active bool `json:"active,omitempty"`
}

// Event is one agreed state change.
type Event struct {
	At       time.Time `json:"at"`
	Endpoint string    `json:"endpoint"`
	// GSLBName and Region are the endpoint's, so that a consumer of many
	// events (metrics, after a region outage under 100k names) needs no
	// lookup per event.
	GSLBName string `json:"gslb_name"`
	Region   string `json:"region"`
	From     State  `json:"from"`
	To       State  `json:"to"`
	Reason   string `json:"reason"`
}

// Explanation is a decision with its reasons.
type Explanation struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
	ECS    bool   `json:"ecs"`
	// Location is nil when no source located the client.
	Location *geo.Location `json:"location"`
	Policy   string        `json:"policy"`
	Role     string        `json:"role"`
	// Ranking lists every endpoint in the order the policy ranked them.
	Ranking []Ranked `json:"ranking"`
	// Answer holds the addresses or target answered.
	Answer []string `json:"answer"`
	Scope  int      `json:"scope"`
	TTL    uint32   `json:"ttl"`
	// Reasons are human sentences: "client located by mmdb:City in GB", ...
	Reasons []string `json:"reasons"`
	// Error is the sentinel error text, if the answer is negative.
	Error string `json:"error,omitempty"`
}

// Ranked is one endpoint in an Explanation.
type Ranked struct {
	ID         string  `json:"id"`
	Region     string  `json:"region"`
	State      State   `json:"state"`
	DistanceKM float64 `json:"distance_km,omitempty"`
	Chosen     bool    `json:"chosen"`
	// Skipped says why an endpoint was not chosen ("not ready: down").
	Skipped string `json:"skipped,omitempty"`
}
