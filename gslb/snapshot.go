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
	km   *placeKM // distances per place and region; nil without places
	view View
	now  time.Time
	rnd  func() float64
	// rt[g.idx][i] is the state of g.eps[i].
	rt     [][]epRT
	writes []writeState // by gname.idx; zero for read names, nil without write names
	events []Event
	// history holds the write records this node has seen come into force,
	// oldest first (at most maxHistory).
	history []WriteActive
}

// epRT is one endpoint's agreed state as the answer path needs it.
type epRT struct {
	state      State
	transition bool
	since      time.Time
	// alone holds the A and AAAA records answered when this endpoint is
	// chosen alone (the usual answers: 1), built once per Snapshot so the
	// answer path can hand them out without allocating.
	alone [2][]Record
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
	s := &Snapshot{cfg: o.Config, c: c, loc: o.Locator, km: newPlaceKM(c, o.Locator), rnd: rnd}
	s.setView(o.Previous, o.View, o.Now)
	return s, nil
}

// WithView returns a new Snapshot with the same config and locator and a
// new View. It never fails, so the publisher can call it on every change
// and when RebuildAt is due.
func (s *Snapshot) WithView(v View, now time.Time) *Snapshot {
	n := &Snapshot{cfg: s.cfg, c: s.c, loc: s.loc, km: s.km, rnd: s.rnd}
	n.setView(s, v, now)
	return n
}

// setView derives everything that depends on the View: endpoint states,
// write names' active regions and events. When prev was built from the
// same compiled config, only the names with an endpoint whose agreed
// state changed get new runtime state; the others share prev's (which is
// immutable), so a republish costs a pass over the View plus the work of
// the names that changed, not a rebuild of every name's records.
func (s *Snapshot) setView(prev *Snapshot, v View, now time.Time) {
	s.view, s.now = v, now
	var changed []*gep // endpoints whose state, since or transition moved
	if prev != nil && prev.c == s.c {
		// prev.rt holds what the previous View said of every endpoint, so
		// one lookup in the new View per endpoint finds the changes.
		s.rt = slices.Clone(prev.rt)
		for gi, g := range s.c.names {
			moved := false
			for i, e := range g.eps {
				if old := prev.rt[gi][i]; !old.same(v.Endpoints[e.id]) {
					changed = append(changed, e)
					moved = true
				}
			}
			if moved {
				s.rt[gi] = buildRT(g, v)
			}
		}
	} else {
		s.rt = make([][]epRT, len(s.c.names))
		for gi, g := range s.c.names {
			s.rt[gi] = buildRT(g, v)
		}
	}
	if prev != nil {
		s.history = prev.history
	}
	for gi, g := range s.c.names {
		if !g.write {
			continue
		}
		if s.writes == nil {
			// Allocated only with write names: read names never index it,
			// and 100k read names should not pay for it on every publish.
			s.writes = make([]writeState, len(s.c.names))
		}
		rec := v.Active[g.fqdn]
		s.writes[gi] = s.decideWrite(g, rec)
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
	// order, appended to the carried history.
	var old View
	eps := s.c.eps
	if prev != nil {
		old = prev.view
		s.events = slices.Clone(prev.events)
		if prev.c == s.c {
			eps = changed // a state change is a change same sees
		}
	}
	for _, e := range eps {
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

// same reports whether an endpoint with agreed state es would get the
// runtime state r.
func (r *epRT) same(es EndpointState) bool {
	return r.state == es.State && r.transition == es.Transition && r.since.Equal(es.Since)
}

// buildRT returns the runtime state of g's endpoints under v.
func buildRT(g *gname, v View) []epRT {
	out := make([]epRT, len(g.eps))
	for i, e := range g.eps {
		es := v.Endpoints[e.id]
		rt := epRT{state: es.State, transition: es.Transition, since: es.Since}
		ttl := g.ttl
		if es.Transition {
			ttl = g.minTTL
		}
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
		out[i] = rt
	}
	return out
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

// Regions returns the configured regions. Callers must not modify them.
func (s *Snapshot) Regions() []config.Region { return s.cfg.Regions }

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
