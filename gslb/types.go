package gslb

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// State is an endpoint's readiness state (ARCHITECTURE.md).
type State uint8

// The endpoint states. Unknown is the state before the first probe round.
const (
	Unknown State = iota
	Down
	Recovering
	Ready
	Drained
)

var stateNames = [...]string{"unknown", "down", "recovering", "ready", "drained"}

// String returns the lower-case state name used in logs, metrics and JSON.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "invalid"
}

// ParseState is the inverse of String.
func ParseState(v string) (State, bool) {
	for i, n := range stateNames {
		if n == v {
			return State(i), true
		}
	}
	return Unknown, false
}

// MarshalText makes State a JSON string.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	v, ok := ParseState(string(b))
	if !ok {
		return errors.New("gslb: unknown state " + string(b))
	}
	*s = v
	return nil
}

// Observation is what one node's prober concluded about one probe
// target: every endpoint whose probes are identical (config.ProbeID)
// follows the same observation. Health emits them; cluster gossips them;
// Agree merges them.
type Observation struct {
	Target string `json:"target"` // probe target ID (config.Endpoint.ProbeID)
	Node   string `json:"node"`   // observer
	State  State  `json:"state"`  // Down, Recovering or Ready
	// Lag is the last lag read; LagKnown is false without a lag source or
	// after a failed read.
	Lag      time.Duration `json:"lag_ns"`
	LagKnown bool          `json:"lag_known"`
	// Reason says why the state is what it is ("3 probes failed: connection refused").
	Reason string `json:"reason"`
	// ObservedAt is the observer's clock at the latest probe result.
	ObservedAt time.Time `json:"observed_at"`
	// Since is when the observer's state last changed.
	Since time.Time `json:"since"`
	// Seq increases with every observation a node emits (per node, not per
	// target), so a receiver can drop replays and older copies.
	Seq uint64 `json:"seq"`
	// Failed is positive evidence of failure: the endpoint is Down after
	// failed probes, or Recovering after this observer had seen it Ready
	// (its lag rose). Unknown, "no result yet" and "not yet proven since
	// start" are not failures: a write name never fails over on them.
	Failed bool `json:"failed,omitempty"`
	// Transition is true while the observer's state may change soon:
	// failed probes below fall, bad lag reads below the lag fall, a run of
	// successes below rise, or recovering (inside the hold). Answers that
	// depend on such an endpoint get the name's min_ttl.
	Transition bool `json:"transition,omitempty"`
}

// Drain is an operator's drain or undrain of one endpoint, or of every
// endpoint of one region (Region set, Endpoint empty). The newest (by At,
// then By) per Key wins cluster-wide. From and Until, when set, make it a
// maintenance window (see StatusAt).
type Drain struct {
	Endpoint string    `json:"endpoint,omitempty"`
	Region   string    `json:"region,omitempty"`
	Drained  bool      `json:"drained"`
	At       time.Time `json:"at"`
	By       string    `json:"by"` // node that took the action
	From     time.Time `json:"from,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Reason   string    `json:"reason,omitempty"` // the operator's words
}

// WriteActive is a write name's replicated primary record: the region
// writes go to. Records are ordered by Term, never by a clock: a node
// proposes Term+1 only while it sees a quorum of members (Backers), and
// every node keeps the record that Supersedes the others, so a node cut
// off from the majority cannot create a record that wins on heal.
// Term 0 is the implicit record of every write name: the first region of
// its order, the configured primary.
type WriteActive struct {
	Name   string `json:"name"` // GSLB name FQDN, e.g. "db.gslb.test."
	Term   uint64 `json:"term"`
	Region string `json:"region"`
	// From is the region the record moved writes away from.
	From string `json:"from,omitempty"`
	// By is the proposer; Backers are the members it saw alive when it
	// proposed (itself included), a majority of the expected cluster.
	By      string   `json:"by"`
	Backers []string `json:"backers,omitempty"`
	// Reason says why: "failover: eu-west down by 2 of 3 observers", "set
	// by an operator", "failback: us-east ready for 1m0s".
	Reason string `json:"reason,omitempty"`
	// Lag is the new primary's agreed replication lag at the change: the
	// estimate of the writes lost (RPO) when the old primary died.
	Lag      time.Duration `json:"lag_ns"`
	LagKnown bool          `json:"lag_known"`
	// Detection is the time from the old primary's last agreed-ready
	// moment to this change (0 for a planned move or when unknown).
	Detection time.Duration `json:"detection_ns"`
	// At is the proposer's clock at the change: shown to operators, never
	// used to order records.
	At time.Time `json:"at"`
}

// Supersedes reports whether record a wins over b: the higher term, and
// for two proposals of the same term the greater proposer name, so every
// node keeps the same record whatever order gossip brings them in.
func (a WriteActive) Supersedes(b WriteActive) bool {
	if a.Term != b.Term {
		return a.Term > b.Term
	}
	return a.By > b.By
}

// QuorumOf reports whether alive members out of expect form a majority.
func QuorumOf(alive, expect int) bool { return alive*2 > max(expect, 1) }

// CheckRecord is the validity rule a write record must pass before a node
// stores it, whether it comes from gossip, a push/pull sync or the state
// file: a term, a name and region, a proposer among its backers, and
// backers that form a majority of expect. A record that a node created
// without seeing a quorum is refused everywhere.
func CheckRecord(a WriteActive, expect int) error {
	switch {
	case a.Term == 0:
		return errors.New("write record without a term")
	case a.Name == "" || a.Region == "":
		return errors.New("write record without a name or region")
	case a.By == "" || !slices.Contains(a.Backers, a.By):
		return fmt.Errorf("write record of %s: proposer %q is not among its backers", a.Name, a.By)
	}
	seen := make(map[string]bool, len(a.Backers))
	for _, b := range a.Backers {
		seen[b] = true
	}
	if !QuorumOf(len(seen), expect) {
		return fmt.Errorf("write record %s term %d: %d backers are no majority of %d members", a.Name, a.Term, len(seen), expect)
	}
	return nil
}

// Member is one cluster member as the local node sees it.
type Member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	Alive bool   `json:"alive"`
}

// QuorumKind selects how many fresh observers must agree an endpoint is ready.
type QuorumKind uint8

// Quorum kinds.
const (
	QuorumMajority QuorumKind = iota // more than half
	QuorumAny                        // at least one
	QuorumAll                        // every one
	QuorumFraction                   // at least Fraction of them (rounded up)
)

// Quorum is a parsed quorum rule.
type Quorum struct {
	Kind     QuorumKind
	Fraction float64 // for QuorumFraction, in (0,1]
}

// AgreeInput is everything the agreement rule looks at. It is a plain
// value so the rule is a pure, table-testable function.
type AgreeInput struct {
	Now  time.Time
	Self string
	// Members are the cluster members, self included, alive or not.
	Members []Member
	// Expect is the configured/last-known cluster size (>= 1).
	Expect int
	// Observations holds the latest observation per node, per probe
	// target: Observations[node][targetID].
	Observations map[string]map[string]Observation
	// Drains holds the newest drain record per Drain.Key: per endpoint,
	// and per region (RegionDrainKey). Agree passes them to the View; an
	// endpoint's drain is applied where its state is read (View.Endpoint).
	Drains map[string]Drain
	// Active holds the record in force per write name (by
	// WriteActive.Name); Agree passes it to the View unchanged.
	Active map[string]WriteActive
	// Targets lists every configured probe target ID.
	Targets    []string
	StaleAfter time.Duration
	Quorum     Quorum
	// Previous is the last agreed View (zero value at start).
	Previous View
	// IsolationHold bounds how long an isolated node keeps ready endpoints
	// ready against its own observations.
	IsolationHold time.Duration
	// Synced is true once a joining node has merged its peers' state (or
	// it is solo).
	Synced bool
}

// View is the cluster's agreed state of every endpoint, as one node sees it.
type View struct {
	Self    string   `json:"self"`
	Members []Member `json:"members"`
	// Isolated is true when this node sees fewer than half of Expect.
	Isolated      bool      `json:"isolated"`
	IsolatedSince time.Time `json:"isolated_since,omitzero"`
	// Expect is the cluster size the quorum is counted against; Quorum is
	// true while this node sees a majority of it alive (itself included;
	// a solo node is its own quorum). NoQuorumSince is when it lost it.
	Expect        int       `json:"expect"`
	Quorum        bool      `json:"quorum"`
	NoQuorumSince time.Time `json:"no_quorum_since,omitzero"`
	// Synced: see AgreeInput.Synced.
	Synced bool `json:"synced"`
	// FirstRound and StartupOver are this node's own start-up gates, set
	// by the publisher before it builds a Snapshot: its first full probe
	// round is done; the start-up limit has passed (the gates no longer
	// hold anything back). See Answering and Deciding.
	FirstRound  bool `json:"first_round"`
	StartupOver bool `json:"startup_over"`
	// Targets is the agreed state of every probe target. An endpoint's
	// state is its target's unless a drain takes it out (View.Endpoint);
	// an endpoint without probes has no target and is ready.
	Targets map[string]TargetState `json:"targets"`
	At      time.Time              `json:"at"`
	// Active is the write record in force per write name (the one that
	// supersedes every other this node has seen); every node answers a
	// write name from it, so all send writes to the same region.
	Active map[string]WriteActive `json:"active,omitempty"`
	// RegionDrains holds the region drain records by region, and
	// EndpointDrains the endpoint drain records by endpoint ID, whatever
	// their status (the API shows scheduled and ended ones too).
	RegionDrains   map[string]Drain `json:"region_drains,omitempty"`
	EndpointDrains map[string]Drain `json:"endpoint_drains,omitempty"`
	// DrainChangeAt is when a maintenance window starts or ends next
	// (zero if none): the View must be agreed again then.
	DrainChangeAt time.Time `json:"drain_change_at,omitzero"`
}

// Answering reports whether the node has a view worth answering GSLB names
// from: its peers' state (Synced with another member alive) or its own
// first probe round, or the start-up limit passed. Before that, GSLB names
// get SERVFAIL (resolvers ask another name server) while static data is
// served. A solo node has no peers to learn from: it waits for its round.
func (v View) Answering() bool {
	return v.StartupOver || v.FirstRound || (v.Synced && aliveCount(v) > 1)
}

// Deciding reports whether the node may propose write-name changes: it has
// both synced with its peers and finished its own first probe round (or
// the start-up limit passed), and it sees a quorum.
func (v View) Deciding() bool { return v.Quorum && (v.StartupOver || (v.Synced && v.FirstRound)) }

// TargetState is the agreed state of one probe target.
type TargetState struct {
	State State `json:"state"`
	// Stale is true when no live node has a fresh observation; State is
	// then the last agreed one.
	Stale  bool      `json:"stale"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
	// Lag is the median lag of the fresh observers that know it.
	Lag      time.Duration `json:"lag_ns"`
	LagKnown bool          `json:"lag_known"`
	// Transition is true when a fresh observer reports its state may
	// change soon (Observation.Transition).
	Transition bool `json:"transition,omitempty"`
	// Failed counts the fresh observers with positive evidence of failure
	// (Observation.Failed). A write name fails over only when they are a
	// majority of the expected cluster.
	Failed int `json:"failed"`
	// LastReady is the last time this node agreed the target was Ready
	// (zero if never): the start of a write failover's detection time.
	LastReady time.Time `json:"last_ready,omitzero"`
	// Observers is each node's latest observation (fresh or not).
	Observers map[string]Observation `json:"observers"`
}

// EndpointState is the agreed state of one endpoint: its probe target's,
// unless a drain takes it out (View.Endpoint). The target's fields are
// embedded, so the JSON row is flat; LastReady and Since are then the
// endpoint's.
type EndpointState struct {
	ID string `json:"id"`
	// Probe is the endpoint's probe target ID ("" without probes).
	Probe string `json:"probe,omitempty"`
	TargetState
	Drain *Drain `json:"drain,omitempty"`
	// RegionDrain is the drain record of the endpoint's region, if any.
	RegionDrain *Drain `json:"region_drain,omitempty"`
}

// Query types gslb knows by number (same values as the DNS wire protocol).
const (
	TypeA     uint16 = 1
	TypeNS    uint16 = 2
	TypeCNAME uint16 = 5
	TypeSOA   uint16 = 6
	TypeMX    uint16 = 15
	TypeTXT   uint16 = 16
	TypeAAAA  uint16 = 28
	TypeSRV   uint16 = 33
	TypeCAA   uint16 = 257
	TypeANY   uint16 = 255
)

// Question is one DNS question, as gslb sees it.
type Question struct {
	// Name is a FQDN; it is matched case-insensitively.
	Name string
	Type uint16
}

// Client is who the answer is for.
type Client struct {
	// Addr is the ECS address (masked to its source prefix) or the socket
	// source address.
	Addr netip.Addr
	// SourcePrefix is the ECS source prefix length; for a socket address
	// it is the full length (32/128). The returned scope never exceeds it.
	SourcePrefix int
	// ECS is true when Addr came from EDNS Client Subnet.
	ECS bool
}

// Record is one resource record of an answer.
type Record struct {
	Name string // FQDN, owner as configured (lower case), or the question's name
	Type uint16
	TTL  uint32
	Data RData
}

// RData is a record's data; only the fields of its Type are set.
//
// The fields of TXT, CAA and SOA records sit behind the embedded *Rare
// (nil for other types): a zone has few of them, while every GSLB
// endpoint carries prebuilt A and AAAA records, so a 100k-name config
// holds hundreds of thousands of Records that should not each carry room
// for an SOA. Rare's fields read as RData's own (d.MName), but only on a
// record of their type.
type RData struct {
	Addr     netip.Addr // A, AAAA
	Target   string     // CNAME, NS, MX, SRV (FQDN)
	Pref     uint16     // MX
	Priority uint16     // SRV
	Weight   uint16     // SRV
	Port     uint16     // SRV
	*Rare               // TXT, CAA, SOA
}

// Rare holds the data of the record types a zone has few of.
type Rare struct {
	Text  []string // TXT
	Flag  uint8    // CAA
	Tag   string   // CAA
	Value string   // CAA
	// SOA fields
	MName, RName                            string
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// rareEqual compares two records' rare data, nil being no data.
func rareEqual(a, b *Rare) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Text, b.Text) && a.Flag == b.Flag && a.Tag == b.Tag && a.Value == b.Value &&
		a.MName == b.MName && a.RName == b.RName && a.Serial == b.Serial && a.Refresh == b.Refresh &&
		a.Retry == b.Retry && a.Expire == b.Expire && a.Minimum == b.Minimum
}

// Answer is the outcome of one question. On error the Answer still carries
// what the reply needs (the SOA for NXDOMAIN/NODATA, a CNAME chain).
type Answer struct {
	// Zone is the apex of the zone that answered ("" when not authoritative).
	Zone string
	// Answer, Authority and Additional map to the DNS sections.
	Answer     []Record
	Authority  []Record
	Additional []Record
	// Authoritative is false for referrals below a delegation.
	Authoritative bool
	// Scope is the ECS scope prefix length the answer depends on (0 when
	// it does not depend on the client's location).
	Scope int
	// GSLBName and Region name the GSLB name and the region of the first
	// chosen endpoint when a GSLB name was answered ("" otherwise), for
	// the answers-by-region metric.
	GSLBName, Region string
}

// Sentinel errors mapped to rcodes in exactly one place (dns).
var (
	// ErrNotAuthoritative: the name is in no zone of ours -> REFUSED.
	ErrNotAuthoritative = errors.New("gslb: not authoritative")
	// ErrNoSuchName -> NXDOMAIN with the SOA.
	ErrNoSuchName = errors.New("gslb: no such name")
	// ErrNoData -> NOERROR, empty answer, SOA in authority.
	ErrNoData = errors.New("gslb: no data")
	// ErrNoReadyEndpoint: nothing ready and all_down closed -> SERVFAIL.
	ErrNoReadyEndpoint = errors.New("gslb: no ready endpoint")
	// ErrRefused: a type we refuse (AXFR, IXFR) -> REFUSED.
	ErrRefused = errors.New("gslb: refused")
	// ErrUnavailable: this node cannot answer the name now -> SERVFAIL, so
	// resolvers ask another name server: a GSLB name before the node has a
	// view, or a write name on a node without quorum.
	ErrUnavailable = errors.New("gslb: unavailable on this node")
	// ErrNoQuorum: a write-name change was refused because this node does
	// not see a majority of the cluster.
	ErrNoQuorum = errors.New("gslb: no quorum")
	// ErrStaleTerm: a proposed write record does not supersede the one in
	// force (another node changed it first).
	ErrStaleTerm = errors.New("gslb: stale term")
	// ErrNotReady: a write name was asked to move to a region that is not
	// ready.
	ErrNotReady = errors.New("gslb: region not ready")
)
