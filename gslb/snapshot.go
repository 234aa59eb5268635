package gslb

import (
	"errors"
	"net/netip"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// CONTRACT STUB: the gslb helper replaces the bodies; signatures are fixed.

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

// Snapshot is one immutable, complete answer source: zones, records,
// regions, locator and agreed endpoint states. It is safe for concurrent
// use and never changed once built.
type Snapshot struct {
	cfg *config.Config
}

// NewSnapshot compiles a validated config with a View into a Snapshot.
func NewSnapshot(o Options) (*Snapshot, error) { return nil, errors.New("gslb: not implemented") }

// WithView returns a new Snapshot with the same config and locator and a
// new View. It never fails, so the publisher can call it on every change.
func (s *Snapshot) WithView(v View, now time.Time) *Snapshot { return s }

// Answer answers one question for one client. See the sentinel errors.
func (s *Snapshot) Answer(q Question, c Client) (Answer, error) {
	return Answer{}, ErrNotAuthoritative
}

// Explain returns the decision Answer would make for a GSLB name, with
// reasons. It never fails; problems are in Explanation.Error.
func (s *Snapshot) Explain(name string, qtype uint16, c Client) Explanation {
	return Explanation{}
}

// Config returns the config the Snapshot was built from. Callers must not
// modify it.
func (s *Snapshot) Config() *config.Config { return s.cfg }

// View returns the agreed state the Snapshot answers from.
func (s *Snapshot) View() View { return View{} }

// Endpoints lists every configured endpoint with its agreed state, in
// config order.
func (s *Snapshot) Endpoints() []EndpointInfo { return nil }

// Events returns recent state changes, newest last (at most 100).
func (s *Snapshot) Events() []Event { return nil }

// BuiltAt is the Now the Snapshot was built with.
func (s *Snapshot) BuiltAt() time.Time { return time.Time{} }

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

var _ = netip.Addr{}
