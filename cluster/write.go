package cluster

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/gslb"
)

// writeTable holds the write record in force per write name: the one that
// supersedes (gslb.WriteActive.Supersedes: higher term, then proposer)
// every other this node has seen. Records are ordered by term, never by a
// clock, and one whose backers are no majority of the cluster is refused
// (gslb.CheckRecord), so a node cut off from the majority cannot create a
// record that wins when the partition heals. Guarded by Node.mu.
type writeTable struct {
	m map[string]gslb.WriteActive
}

func newWriteTable() *writeTable { return &writeTable{m: map[string]gslb.WriteActive{}} }

// merge stores r when it is valid for a cluster of expect members and
// supersedes the record held; it returns the drop reason, or "".
func (t *writeTable) merge(r gslb.WriteActive, expect int) string {
	if gslb.CheckRecord(r, expect) != nil {
		return dropNoQuorum
	}
	cur, had := t.m[r.Name]
	if had && !r.Supersedes(cur) {
		return dropOld
	}
	if !had && len(t.m) >= maxActives {
		return dropUnknown
	}
	t.m[r.Name] = r
	return ""
}

func (t *writeTable) sorted() []gslb.WriteActive {
	out := slices.Collect(maps.Values(t.m))
	slices.SortFunc(out, func(a, b gslb.WriteActive) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (t *writeTable) clone() map[string]gslb.WriteActive {
	if len(t.m) == 0 {
		return nil
	}
	return maps.Clone(t.m)
}

// Propose asks the cluster to accept r, a write-name change proposed by
// this node (a Snapshot's failover or failback, or an operator's move):
// it names this node as the proposer and the members it sees alive as the
// backers, refuses it with gslb.ErrNoQuorum when they are no majority of
// the expected cluster and with gslb.ErrStaleTerm when the record held
// already supersedes it, then stores and gossips it. It returns the
// record as stored.
func (n *Node) Propose(r gslb.WriteActive) (gslb.WriteActive, error) {
	if r.Name == "" || len(r.Name) > maxGSLBNameLen || r.Region == "" || len(r.Region) > maxRegionLen {
		return r, fmt.Errorf("cluster: write record with a bad name or region (%d, %d bytes)", len(r.Name), len(r.Region))
	}
	n.mu.Lock()
	members, expect := n.membersLocked()
	r.By, r.Backers = n.name, nil
	for _, m := range members {
		if m.Alive && len(r.Backers) < maxBackers {
			r.Backers = append(r.Backers, m.Name)
		}
	}
	if !gslb.QuorumOf(len(r.Backers), expect) {
		n.mu.Unlock()
		return r, fmt.Errorf("%w: %d of %d members alive", gslb.ErrNoQuorum, len(r.Backers), expect)
	}
	if cur, ok := n.writes.m[r.Name]; ok && !r.Supersedes(cur) {
		n.mu.Unlock()
		return r, fmt.Errorf("%w: %s already has term %d (%s)", gslb.ErrStaleTerm, r.Name, cur.Term, cur.Region)
	}
	reason := n.writes.merge(r, expect)
	n.mu.Unlock()
	if reason != "" {
		return r, fmt.Errorf("cluster: write record refused: %s", reason)
	}
	n.log.Info("cluster: write record proposed", zap.String("name", r.Name), zap.Uint64("term", r.Term),
		zap.String("from", r.From), zap.String("region", r.Region), zap.Strings("backers", r.Backers),
		zap.String("reason", r.Reason))
	n.queueWrite(r)
	n.poke()
	return r, nil
}

// Restore seeds a write record saved before a restart (the state file).
// It passes the same rule as a record from a peer (a majority of the
// configured cluster size among its backers), else it is refused with
// the reason.
func (n *Node) Restore(r gslb.WriteActive) error {
	n.mu.Lock()
	expect := n.configuredExpectLocked()
	reason := n.writes.merge(r, expect)
	n.mu.Unlock()
	switch reason {
	case "", dropOld:
		return nil
	case dropNoQuorum:
		return fmt.Errorf("write record %s term %d: %v", r.Name, r.Term, gslb.CheckRecord(r, expect))
	}
	return fmt.Errorf("write record %s term %d refused: %s", r.Name, r.Term, reason)
}

// Writes returns the write record in force of every name, sorted by name
// (for the state file).
func (n *Node) Writes() []gslb.WriteActive {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.writes.sorted()
}

func (n *Node) queueWrite(r gslb.WriteActive) {
	if n.solo {
		return
	}
	msg, err := encodeWrite(r)
	if err != nil {
		n.log.Warn("cluster: cannot encode write record", zap.Error(err))
		return
	}
	n.queue.QueueBroadcast(&broadcast{name: "write/" + r.Name, msg: msg})
}
