package gslb

import (
	"fmt"
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
	// Previous carries state across rebuilds: write names' active regions
	// and recent events. Nil at start.
	Previous *Snapshot
	// View is the agreed endpoint state.
	View View
	Now  time.Time
	// Rand returns a float in [0,1) for weighted choice; nil uses math/rand/v2.
	Rand func() float64
}

// maxEvents bounds Snapshot.Events.
const maxEvents = 100

// Snapshot is one immutable, complete answer source: zones, records,
// regions, locator and agreed endpoint states. It is safe for concurrent
// use and never changed once built.
type Snapshot struct {
	cfg  *config.Config
	c    *compiled
	loc  *geo.Locator
	view View
	now  time.Time
	rnd  func() float64
	// rt[g.idx][i] is the state of g.eps[i].
	rt     [][]epRT
	active []activeWrite // by gname.idx; zero for read names
	events []Event
}

// epRT is one endpoint's agreed state as the answer path needs it.
type epRT struct {
	state      State
	nextChange time.Duration
	since      time.Time
	// alone holds the A and AAAA records answered when this endpoint is
	// chosen alone (the usual answers: 1), built once per Snapshot so the
	// answer path can hand them out without allocating.
	alone [2][]Record
}

// activeWrite is a write name's active region and why.
type activeWrite struct {
	region string
	reason string
	// recheck is when an automatic failback becomes due; zero if none.
	recheck time.Time
	// initial is true until the first failover: the region was picked as
	// the first ready one while the others were still proving themselves
	// (probes start at random offsets), so a more preferred region that
	// becomes ready takes over. Failback rules apply only after a failover.
	initial bool
	// at is when the decision that made region active was taken: the
	// build's Now of a local failover or failback, the At of a record
	// adopted from the cluster, zero for an initial choice. A cluster
	// record is adopted only when it is newer than at.
	at time.Time
	// adopted says where an adopted region came from ("adopted from n2
	// (cluster) at ..."); kept while the region stays, for the reasons.
	adopted string
	// decided is true when this very build changed the region by a local
	// failover or failback: the news ActiveChanges hands to the cluster.
	decided bool
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
	s := &Snapshot{cfg: o.Config, c: c, loc: o.Locator, rnd: rnd}
	s.setView(o.Previous, o.View, o.Now)
	return s, nil
}

// WithView returns a new Snapshot with the same config and locator and a
// new View. It never fails, so the publisher can call it on every change
// and when RebuildAt is due.
func (s *Snapshot) WithView(v View, now time.Time) *Snapshot {
	n := &Snapshot{cfg: s.cfg, c: s.c, loc: s.loc, rnd: s.rnd}
	n.setView(s, v, now)
	return n
}

// setView derives everything that depends on the View: endpoint states,
// write names' active regions and events.
func (s *Snapshot) setView(prev *Snapshot, v View, now time.Time) {
	s.view, s.now = v, now
	s.rt = make([][]epRT, len(s.c.names))
	for gi, g := range s.c.names {
		s.rt[gi] = make([]epRT, len(g.eps))
		for i, e := range g.eps {
			es := v.Endpoints[e.id]
			rt := epRT{state: es.State, nextChange: es.NextChange, since: es.Since}
			ttl := g.ttlFor(es.NextChange)
			for f, addrs := range [2][]netip.Addr{e.v4, e.v6} {
				for _, ip := range addrs {
					t := TypeA
					if f == 1 {
						t = TypeAAAA
					}
					rt.alone[f] = append(rt.alone[f], Record{Name: g.fqdn, Type: t, TTL: ttl, Data: RData{Addr: ip}})
				}
				rt.alone[f] = slices.Clip(rt.alone[f])
			}
			s.rt[gi][i] = rt
		}
	}
	s.active = make([]activeWrite, len(s.c.names))
	for gi, g := range s.c.names {
		if !g.write {
			continue
		}
		var was activeWrite
		if prev != nil {
			if pg := prev.c.byName[g.fqdn]; pg != nil && pg.write && pg.idx < len(prev.active) {
				was = prev.active[pg.idx]
				was.decided = false // news of the previous build only
			}
		}
		if rec, ok := v.Active[g.fqdn]; ok {
			was = adopt(g, was, rec)
		}
		s.active[gi] = s.stampActive(g, was)
	}
	// Events: every agreed state change from the previous View, in config
	// order, appended to the carried history.
	var old View
	if prev != nil {
		old = prev.view
		s.events = slices.Clone(prev.events)
	}
	for _, e := range s.c.eps {
		from, to := old.Endpoints[e.id], v.Endpoints[e.id]
		if from.State == to.State {
			continue
		}
		at := to.Since
		if at.IsZero() {
			at = now
		}
		s.events = append(s.events, Event{At: at, Endpoint: e.id, From: from.State, To: to.State, Reason: to.Reason})
	}
	if len(s.events) > maxEvents {
		s.events = slices.Clone(s.events[len(s.events)-maxEvents:])
	}
}

// regionReady reports whether any endpoint of g in region r is Ready, and
// since when the earliest of them has been.
func (s *Snapshot) regionReady(g *gname, r string) (bool, time.Time) {
	ok := false
	var since time.Time
	for i, e := range g.eps {
		st := s.rt[g.idx][i]
		if e.region != r || st.state != Ready {
			continue
		}
		if !ok || st.since.Before(since) {
			since = st.since
		}
		ok = true
	}
	return ok, since
}

// adopt returns the region the write-name rules start from: the
// cluster's record when it is newer than the local decision and names a
// region still in the order, else the local one. An adopted region is not
// an initial choice, so failback rules apply to it.
func adopt(g *gname, was activeWrite, rec WriteActive) activeWrite {
	if rec.Region == "" || !slices.Contains(g.order, rec.Region) || !rec.At.After(was.at) {
		return was
	}
	if rec.Region == was.region && !was.initial {
		// The same decision, ours coming back or a peer's twin (the
		// cluster may have moved its At past an older record): only
		// remember the newer time, so it is not adopted again.
		was.at = rec.At
		return was
	}
	from := "adopted from " + rec.By + " (cluster) at " + rec.At.UTC().Format(time.RFC3339)
	return activeWrite{region: rec.Region, reason: from, at: rec.At, adopted: from}
}

// stampActive applies chooseActive to was and stamps the result: a region
// kept keeps its decision time and origin; a region changed by failover or
// failback is a local decision taken now.
func (s *Snapshot) stampActive(g *gname, was activeWrite) activeWrite {
	a := s.chooseActive(g, was)
	switch {
	case a.region == was.region:
		a.at, a.adopted = was.at, was.adopted
		if a.adopted != "" && a.reason != a.adopted {
			a.reason += " (" + a.adopted + ")"
		}
	case !a.initial && a.region != "":
		a.at, a.decided = s.now, true
	}
	return a
}

// chooseActive applies the write-name rules: start on the first ready
// region in order; leave the active region only when it is not ready;
// go back to a more preferred region only with failback auto, after it
// has been ready for the whole failback hold.
func (s *Snapshot) chooseActive(g *gname, prev activeWrite) activeWrite {
	was := prev.region
	if was != "" && !slices.Contains(g.order, was) {
		was = "" // the region left the config
	}
	first := ""
	for _, r := range g.order {
		if ok, _ := s.regionReady(g, r); ok {
			first = r
			break
		}
	}
	switch {
	case was == "" && first == "":
		return activeWrite{reason: "no region is ready yet"}
	case was == "":
		return activeWrite{region: first, reason: "first ready region in order " + fmt.Sprint(g.order), initial: true}
	}
	if ok, _ := s.regionReady(g, was); !ok {
		if first == "" {
			return activeWrite{region: was, reason: "active region " + was + " is not ready and no other region is ready", initial: prev.initial}
		}
		return activeWrite{region: first, reason: "failed over from " + was + " (not ready) to " + first + ", the first ready region in order"}
	}
	if first == was {
		return activeWrite{region: was, reason: was + " is the most preferred ready region", initial: prev.initial}
	}
	if prev.initial {
		return activeWrite{region: first, reason: "first ready region in order " + fmt.Sprint(g.order) + " (no failover yet)", initial: true}
	}
	if !g.autoBack {
		return activeWrite{region: was, reason: "staying on " + was + ": failback is manual although " + first + " is ready and preferred"}
	}
	// Automatic failback: the most preferred region that has been ready
	// for the whole hold wins; others still waiting set the recheck time.
	aw := activeWrite{region: was}
	for _, r := range g.order {
		if r == was {
			break
		}
		ok, since := s.regionReady(g, r)
		if !ok {
			continue
		}
		due := since.Add(g.hold)
		if !s.now.Before(due) {
			return activeWrite{region: r, reason: "failed back from " + was + " to " + r + ": ready for at least " + g.hold.String()}
		}
		if aw.recheck.IsZero() || due.Before(aw.recheck) {
			aw.recheck = due
			aw.reason = "staying on " + was + ": failback to " + r + " after it has been ready for " + g.hold.String() +
				" (at " + due.UTC().Format(time.RFC3339) + ")"
		}
	}
	return aw
}

// ActiveChanges returns the write names whose active region this Snapshot
// changed by its own failover or failback decision (not an initial choice,
// not one adopted from the cluster), stamped with the build time and the
// node name, for the publisher to gossip.
func (s *Snapshot) ActiveChanges() []WriteActive {
	var out []WriteActive
	for gi, a := range s.active {
		if a.decided {
			out = append(out, WriteActive{Name: s.c.names[gi].fqdn, Region: a.region, At: a.at, By: s.cfg.Node})
		}
	}
	return out
}

// RebuildAt is the earliest time at which rebuilding the Snapshot with the
// same View (WithView(s.View(), now)) would change an answer: a pending
// automatic failback of a write name. Zero means no rebuild is needed.
func (s *Snapshot) RebuildAt() time.Time {
	var t time.Time
	for _, a := range s.active {
		if !a.recheck.IsZero() && (t.IsZero() || a.recheck.Before(t)) {
			t = a.recheck
		}
	}
	return t
}

// Config returns the config the Snapshot was built from. Callers must not
// modify it.
func (s *Snapshot) Config() *config.Config { return s.cfg }

// View returns the agreed state the Snapshot answers from. Its maps are
// shared: callers must not modify them.
func (s *Snapshot) View() View { return s.view }

// NodeName is the configured node name (CHAOS id.server).
func (s *Snapshot) NodeName() string { return s.cfg.Node }

// VersionBind is the configured CHAOS version.bind answer; "" refuses it.
func (s *Snapshot) VersionBind() string { return s.cfg.VersionBind }

// Locator returns the Locator answers use (nil locates nobody).
func (s *Snapshot) Locator() *geo.Locator { return s.loc }

// Regions returns the configured regions. Callers must not modify them.
func (s *Snapshot) Regions() []config.Region { return s.cfg.Regions }

// EndpointIDs lists every endpoint ID in config order.
func (s *Snapshot) EndpointIDs() []string {
	out := make([]string, len(s.c.eps))
	for i, e := range s.c.eps {
		out[i] = e.id
	}
	return out
}

// Endpoint returns one endpoint's configuration and agreed state.
func (s *Snapshot) Endpoint(id string) (EndpointInfo, bool) {
	i, ok := s.c.epIdx[id]
	if !ok {
		return EndpointInfo{}, false
	}
	return s.info(s.c.eps[i]), true
}

func (s *Snapshot) info(e *gep) EndpointInfo {
	st, ok := s.view.Endpoints[e.id]
	if !ok {
		st = EndpointState{ID: e.id, State: Unknown, Reason: "not observed yet"}
	}
	return EndpointInfo{
		ID: e.id, Name: e.name, GSLBName: e.g.fqdn, Zone: e.g.zone.apex, Region: e.region,
		Addresses: e.cfg.Addresses, Target: e.target, Weight: e.weight, State: st,
		Active: e.g.write && s.active[e.g.idx].region == e.region,
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

// ActiveRegion returns a write name's active region and why it is active;
// ok is false for unknown or read names.
func (s *Snapshot) ActiveRegion(name string) (region, reason string, ok bool) {
	g := s.c.byName[lowerFQDN(name)]
	if g == nil || !g.write {
		return "", "", false
	}
	a := s.active[g.idx]
	return a.region, a.reason, true
}

// Events returns recent agreed state changes, newest last (at most 100).
// Callers must not modify the slice.
func (s *Snapshot) Events() []Event { return s.events }

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
	From     State     `json:"from"`
	To       State     `json:"to"`
	Reason   string    `json:"reason"`
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
