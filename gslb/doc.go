// Package gslb is the pure core of gslbd: the domain types (State,
// Observation, View), the agreement rule (Agree), the answer policies and
// the immutable Snapshot that answers questions, with the Store that
// publishes it.
//
// # Imports and concurrency
//
// gslb imports only config and geo of ours, and does no I/O, starts no
// goroutines and does not log: problems are returned as errors. A
// Snapshot is immutable once built, so any number of goroutines may call
// its methods at once; Answer takes no lock and allocates little (nothing
// for a static answer nor for a GSLB answer of one endpoint, whose
// records each Snapshot builds ahead; one slice for larger GSLB answers;
// plus what the Locator needs). The one publisher goroutine builds Snapshots
// (NewSnapshot on a config change, WithView on a View change or when
// RebuildAt is due) and swaps them into a Store.
//
// # Answers
//
// Answer finds the zone with the longest matching apex and answers
// authoritatively: records, NODATA/NXDOMAIN with the SOA whose TTL is
// min(SOA TTL, minimum), referrals with glue below a delegation, the NS
// set with glue at the apex, in-zone CNAME chains (at most 8 hops),
// minimal ANY (one RRset, RFC 8482), DS at a zone cut answered by the
// parent side (NODATA, not a referral), REFUSED for AXFR/IXFR, and the
// whoami.<apex> TXT diagnostic. The slices of an Answer may share the
// Snapshot's memory and must not be modified.
//
// A question name is found with one map probe (Lookup; zone cuts are
// linked to every node when the zone is compiled), so the UDP fast path
// finds and answers a name from its parse buffer without a string.
//
// GSLB names are answered by policy (all, nearest, failover, weighted,
// geomap) from the endpoints the agreed View says are Ready; Unknown is
// not ready. A nearest name's order at each place the Locator numbers is
// computed when the config and locator are prepared (rank.go: one table
// per pattern of regions, shared by every name with that pattern), so a
// located query reads a row and checks health down it. One function (decide) computes every decision; Explain runs
// the same function with a trace, so an explanation cannot disagree with
// an answer.
//
//   - A residency fence sends clients located in a listed country or
//     continent only to the listed regions. With fail closed and no fenced
//     region ready the answer is NODATA whose SOA has TTL and minimum set to
//     the name's TTL, so resolvers cache the refusal for the name's TTL.
//     A write name has one region to offer: a fenced client gets it only
//     when it is inside the fence (else NODATA with fail closed, the
//     region anyway with fail open).
//   - When nothing is ready, all_down open answers every endpoint of the
//     family that is not drained, in policy order, with MinTTL (a write
//     name: only its record's region, since writes must never go to
//     several regions); closed returns ErrNoReadyEndpoint.
//   - A name whose endpoints have targets is a CNAME for every type.
//   - A CIDR map entry naming a region puts that region first (nearest and
//     geomap) while it is ready.
//   - geomap regions not in the client's list follow in the default order,
//     so clients leave their list only when all of it is down.
//
// # ECS scope
//
// The scope is 0 when the answer does not depend on where the client is:
// static records, negative answers, names with a single region, and the
// policies all, failover and weighted and write names, unless they have a
// residency fence. Names that rank by
// location (nearest, geomap, or any policy with a residency fence) answer
// with the prefix length of the network that located the client, capped
// at the source prefix. When that network holds a more specific CIDR map
// entry that does not hold the client, the scope is lengthened until its
// network leaves that entry out, so a resolver's cached answer never
// covers clients the entry sends elsewhere. A client that no source locates gets its whole
// source prefix: nothing tells how far "not located" extends, and a
// shorter scope could make a resolver reuse the default answer for a
// located sub-network. A fenced client refused with fail closed gets the
// fence's network as scope although the answer is negative, since the
// refusal holds for that network only.
//
// # TTL
//
// GSLB answers use the name's configured TTL while the answer is stable,
// and MinTTL while it may change soon: an endpoint the answer depends on
// (a chosen one, or one ranked before the last chosen, whose recovery
// would take over) is in transition (failed probes below fall, recovering,
// inside a hold: Observation.Transition), nothing is ready (all_down
// open), or a write name awaits a change or has no quorum. Names whose
// endpoints have no probes are always stable.
//
// # Start-up
//
// Until a node has a view (View.Answering: peer sync or its own first
// full probe round, or the start-up limit passed), GSLB names answer
// ErrUnavailable (SERVFAIL) while static data is served. Drained
// endpoints are never answered, all_down open included.
//
// # Write names
//
// A write name (role write) answers only the region of the write record
// in force (WriteActive): a replicated record ordered by a term, never by
// a clock. Term 0 is implicit: the first region in order. The cluster
// keeps, per name, the record that Supersedes every other it has seen
// (higher term, then greater proposer), and refuses any record whose
// backers are no majority of the cluster (CheckRecord).
//
// A Snapshot only proposes (Proposals): Term+1, while this node may decide
// (View.Deciding: it sees a quorum and its start-up is complete), on
// positive evidence that the record's region failed — each of its
// endpoints drained, or down or recovering with a majority of the
// expected cluster reporting a failure (Observation.Failed). Unknown, "not
// yet proven since start" and ties never move writes. The new region is
// the first ready one in order. Failback auto moves once, straight to the
// most preferred ready region once it has been ready for FailbackHold;
// manual stays put until an operator moves it (ProposeMove, the same
// record rule). A node without quorum proposes nothing and, once it has
// been without quorum for cluster.write_grace, answers ErrUnavailable for
// write names rather than a region it cannot vouch for. WriteHistory keeps
// the records this node saw come into force; RebuildAt tells the
// publisher when a pending failback or the grace falls due.
//
// # Agreement
//
// Agree merges every node's latest observations of every probe target
// into a View by quorum, ignoring stale observations and dead members,
// keeping the last state when no live node has a fresh one, and holding
// ready targets while this node is isolated (bounded by IsolationHold).
// Endpoints whose probes are identical share one target
// (config.Endpoint.ProbeID), so the work is per target, not per endpoint.
//
// View.Endpoint gives an endpoint's state: its target's, unless a drain
// takes it out; an endpoint without probes is Ready unless drained. A
// drain is of one endpoint or of a whole region and may be a maintenance
// window: Drain.StatusAt is the pure rule (in effect from From,
// inclusive, until Until, exclusive), evaluated at the View's time;
// View.DrainChangeAt is the next window edge, when the caller must agree
// again. A Snapshot holds no state per name or endpoint: an endpoint's
// state is its target's, from a table by target that WithView rebuilds
// (a pass over the targets), unless a drain record of the endpoint or its
// region is in the View (epState). Only the events of a republish visit
// the names that use a target or a drain that changed.
//
// # Memory
//
// A compiled config holds what answering and republishing read and little
// else, because a config may have 100k names: an endpoint's addresses live
// only in its prebuilt records, TXT/CAA/SOA data sits behind RData's
// pointer, names share their region orders, and the decoded config's
// names are dropped once compiled (Snapshot.Config keeps the settings
// only; Endpoints and Explain give the names back). Compiled strings are
// copies, so no string of the decoded config pins its freed memory.
//
// # Changes
//
// Change is the event type failover hooks deliver and the audit log
// records (write-primary moves, endpoint state changes, region drains,
// admin actions), with a content-derived idempotency key.
package gslb
