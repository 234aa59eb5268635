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
// GSLB names are answered by policy (all, nearest, failover, weighted,
// geomap) from the endpoints the agreed View says are Ready; Unknown is
// not ready. One function (decide) computes every decision; Explain runs
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
//     family in policy order with MinTTL (a write name: only its active
//     region, or the first in order if none was active, since writes must
//     never go to several regions); closed returns ErrNoReadyEndpoint.
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
// GSLB answers use the name's TTL, shortened to the smallest NextChange of
// the chosen endpoints (the earliest time their state could change, as
// gdnsd does), but never below MinTTL.
//
// # Write names
//
// A write name (role write) answers only its active region's endpoint.
// The active region starts as the first ready region in Order, moves to
// the first ready region in Order when it stops being ready, and moves
// back to a more preferred region only with failback auto, once that
// region has been Ready (per the View's Since) for FailbackHold; manual
// failback stays put. The active region is carried across Snapshots
// (Options.Previous, WithView). RebuildAt tells the publisher when a
// pending failback becomes due.
//
// Every node must send writes to the same region, also one that restarted
// or joined after a failover. So a failover or failback decided by a
// Snapshot is reported by ActiveChanges (stamped with the build time and
// the node), gossiped by the cluster, and comes back to every node in
// View.Active, newest (At, then By) first. A Snapshot adopts a record that
// is newer than its own decision and names a region still in Order as its
// previous active region (not an initial choice: failback rules apply),
// then applies the rules above: if the adopted region is not ready, it
// fails over, and that is a decision of its own. Initial choices are not
// gossiped: they are the same everywhere (the first ready region in Order)
// until the first failover, and adopted records are never reported again.
//
// # Agreement
//
// Agree merges every node's latest observations into a View by quorum,
// ignoring stale observations and dead members, keeping the last state
// when no live node has a fresh one, holding ready endpoints while this
// node is isolated (bounded by IsolationHold), and applying drains.
package gslb
