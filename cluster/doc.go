// Package cluster makes gslbd nodes agree on every probe target's state
// (and so on every endpoint's: each follows its target unless drained).
//
// It owns the memberlist setup (bind, advertise, seeds joined with
// backoff, graceful leave, the encryption keyring and its rotation on
// reload), the gossip codec, and the table of the latest observation of
// every node for every probe target (config.Endpoint.ProbeID: one however
// many endpoints share it) plus the operator drains and the write
// names' records. It turns that table into a gslb.View by calling
// the pure agreement rule gslb.Agree; it decides nothing about health
// itself, it only moves bytes.
//
// Imports: of gslbd's packages only config, gslb and the leaf connlimit
// (caps on gossip streams, see guard.go). It must never import
// dns, health, dashboard or cmd; cmd/gslbd wires Observe to health's
// output and OnView to the publisher.
//
// Gossip. A node broadcasts its own observation when the state changes
// and re-broadcasts all of its own every Refresh, through a
// memberlist.TransmitLimitedQueue with named broadcasts
// ("obs/<node>/<target>", "drain/<endpoint>", "write/<name>") so a newer
// record replaces a queued older one. A received record that changes a state is
// re-broadcast once (epidemic relay), which makes convergence fast even
// when the originator's transmits miss a node. Push/pull
// (LocalState/MergeRemoteState) exchanges the whole table, so a joining
// node is up to date before it reports Synced. Every message starts with a
// protocol version byte (3) and a type byte; unknown versions or types,
// garbage and truncated messages are dropped and counted in
// gslbd_cluster_messages_dropped_total{reason}. Each observation carries
// its observer's sequence number (stamped here, never below the wall clock
// in nanoseconds so it survives restarts); a record whose Seq is not newer
// than the one held from that observer is a replay or an older copy and is
// ignored, and one time-stamped more than a minute in our future is
// dropped. Only a node speaks for itself: copies of our own observations
// coming back are never stored. Drains are newest-At-wins (then By), one
// record per endpoint or per region (gslb.Drain.Key); the View carries
// them and gslb.View.Endpoint applies them to each endpoint. A drain's
// maintenance window (From, Until) is evaluated against the View's time
// (this node's clock), and the loop agrees again
// at View.DrainChangeAt, so a window starts and ends on every node with
// nothing gossiped at that moment.
//
// Write records (gslb.WriteActive: a write name's primary) are not
// last-writer-wins: they are ordered by a term. Propose stores and gossips
// one only while this node sees a quorum of the expected cluster, naming
// itself as proposer and the members it sees alive as backers; a received
// record is kept only when its backers are a majority of the configured
// cluster size (gslb.CheckRecord) and it supersedes the one held (higher
// term, then proposer), and is relayed once; push/pull carries them all;
// the View holds the record in force per name (View.Active). Restore
// seeds one from the state file through the same rule. The cluster does
// not know the GSLB names, so it keeps any valid record (bounded in
// length and number); the Snapshot ignores names it does not have.
//
// Encryption uses memberlist's keyring (AES-GCM) with incoming and
// outgoing verification on, so a peer without a current key can neither
// join nor inject records.
//
// Concurrency. memberlist calls the unexported delegate from its own
// goroutines; those callbacks never block, never call back into
// memberlist, and copy what they keep. One mutex guards the table; it is
// never held while calling memberlist (whose event callbacks take it while
// holding memberlist's lock). Run owns two goroutines: the loop that
// recomputes the View on every change and every Refresh and calls OnView
// (so OnView is never called concurrently), and the join loop, which
// joins the seeds at start and again whenever the node is alone or
// isolated (memberlist stops gossiping to members dead for longer than
// GossipToTheDeadTime, so a long partition does not heal by itself); it
// joins one seed at a time so a stop waits for at most one join. Observe,
// SetDrain, Drains, Propose, Restore, Writes, Reload, Status and View are safe
// from any goroutine.
package cluster
