package gslb

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// defaultWriteGrace is how long a node that lost its quorum keeps
// answering write names from the record in force when the config sets no
// cluster.write_grace.
const defaultWriteGrace = 10 * time.Second

// writeState is one write name as this node sees it in one Snapshot: the
// record in force, the region answered, and the change (if any) that this
// node proposes to the cluster.
type writeState struct {
	// rec is the record in force; Term 0 is the implicit record whose
	// Region is the first region in order.
	rec WriteActive
	// region is the region writes are answered with ("" when fenced).
	region string
	reason string
	// fenced: the node has had no quorum for longer than the grace, so it
	// answers SERVFAIL rather than a region it cannot vouch for.
	fenced bool
	// proposal is the record this node asks the cluster to accept (a
	// failover or an automatic failback); nil when none.
	proposal *WriteActive
	// recheck is when the decision may change with the same View: a
	// pending failback's hold ends, or the quorum grace runs out.
	recheck time.Time
}

// inForce is the record a write name answers from: the cluster's record,
// or the implicit term-0 record naming the first region in order.
func (g *gname) inForce(rec WriteActive) WriteActive {
	if rec.Term == 0 {
		return WriteActive{Name: g.fqdn, Region: g.order[0], Reason: "the first region in order (no failover recorded)"}
	}
	return rec
}

// writeGrace is the configured cluster.write_grace or its default.
func (s *Snapshot) writeGrace() time.Duration {
	if d := s.cfg.Cluster.WriteGrace.D(); d > 0 {
		return d
	}
	return defaultWriteGrace
}

// decideWrite is the write-name rule. The record in force decides where
// writes go; this node only proposes a new record (Term+1) when it may
// decide (View.Deciding: a quorum, start-up complete) and:
//
//   - failover: the record's region has positive evidence of failure
//     (regionFailed) and another region in order is ready: the first such
//     region in order;
//   - failback (failback auto only): the record's region is ready and the
//     most preferred ready region before it has been ready for
//     failback_hold: straight there, never through the regions between.
//
// "Unknown", "not yet proven since start" and a tie among observers are
// never a reason to move writes. A node without quorum proposes nothing,
// and once it has been without quorum for the grace it stops answering
// the name (fenced) rather than answer a region it cannot vouch for.
func (s *Snapshot) decideWrite(g *gname, cluster WriteActive) writeState {
	rec := g.inForce(cluster)
	ws := writeState{rec: rec, region: rec.Region}
	v := s.view
	term := "term " + strconv.FormatUint(rec.Term, 10)
	if !v.Quorum {
		until := v.NoQuorumSince.Add(s.writeGrace())
		if !s.now.Before(until) {
			ws.fenced, ws.region = true, ""
			ws.reason = fmt.Sprintf("no quorum since %s (%d of %d members expected): write names answer SERVFAIL until the quorum is back",
				v.NoQuorumSince.UTC().Format(time.RFC3339), aliveCount(v), v.Expect)
			return ws
		}
		ws.recheck = until
		ws.reason = fmt.Sprintf("%s, %s in force; no quorum since %s: answering it until %s, then SERVFAIL",
			rec.Region, term, v.NoQuorumSince.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
		return ws
	}
	ws.reason = rec.Region + ", " + term + " in force"
	if rec.Term > 0 {
		ws.reason += " (" + rec.Reason + ", by " + rec.By + ")"
	}
	if !v.Deciding() {
		ws.reason += "; this node proposes no change until its start-up is complete"
		return ws
	}
	R := rec.Region
	failed, why := s.regionFailed(g, R)
	if failed {
		target := ""
		for _, r := range g.order {
			if ok, _ := s.regionReady(g, r); ok && r != R {
				target = r
				break
			}
		}
		if target == "" {
			ws.reason += "; " + R + " failed (" + why + ") but no other region is ready: staying"
			return ws
		}
		p := s.proposal(g, rec, target, "failover from "+R+": "+why)
		if t := s.lastReady(g, R); !t.IsZero() {
			p.Detection = max(s.now.Sub(t), 0)
		}
		ws.proposal = &p
		ws.reason += "; proposing term " + strconv.FormatUint(p.Term, 10) + ": " + p.Reason
		return ws
	}
	if !g.autoBack {
		if first := s.firstReady(g); first != "" && first != R && slices.Index(g.order, first) < slices.Index(g.order, R) {
			ws.reason += "; failback is manual although " + first + " is ready and preferred"
		}
		return ws
	}
	if ok, _ := s.regionReady(g, R); !ok {
		return ws
	}
	for _, r := range g.order {
		if r == R {
			break
		}
		ok, since := s.regionReady(g, r)
		if !ok {
			continue
		}
		// r is the most preferred ready region: move there once its hold
		// is over, and never to a less preferred one meanwhile.
		due := since.Add(g.hold)
		if s.now.Before(due) {
			ws.recheck = due
			ws.reason += "; failback to " + r + " once it has been ready for " + g.hold.String() +
				" (at " + due.UTC().Format(time.RFC3339) + ")"
			return ws
		}
		p := s.proposal(g, rec, r, "failback to "+r+": ready for at least "+g.hold.String())
		ws.proposal = &p
		ws.reason += "; proposing term " + strconv.FormatUint(p.Term, 10) + ": " + p.Reason
		return ws
	}
	return ws
}

// proposal is the record that moves g's writes from rec to region.
func (s *Snapshot) proposal(g *gname, rec WriteActive, region, reason string) WriteActive {
	p := WriteActive{Name: g.fqdn, Term: rec.Term + 1, Region: region, From: rec.Region, Reason: reason, At: s.now}
	for _, e := range g.eps {
		if es := s.state(e); e.region == region && es.State == Ready && es.LagKnown {
			p.Lag, p.LagKnown = es.Lag, true
			break
		}
	}
	return p
}

// regionFailed reports positive evidence that region r of g has failed:
// it has endpoints and each is drained, or down or recovering with a
// majority of the expected cluster reporting a failure (Observation.Failed).
// A region that left the order has failed too: writes cannot stay there.
func (s *Snapshot) regionFailed(g *gname, r string) (bool, string) {
	if !slices.Contains(g.order, r) {
		return true, "region " + r + " is no longer in the order"
	}
	n := 0
	why := ""
	for _, e := range g.eps {
		if e.region != r {
			continue
		}
		n++
		es := s.state(e)
		switch {
		case es.State == Drained:
			why = "drained"
		case (es.State == Down || es.State == Recovering) && QuorumOf(es.Failed, s.view.Expect):
			why = fmt.Sprintf("%s, failure seen by %d of %d members", es.State, es.Failed, s.view.Expect)
		default:
			return false, ""
		}
	}
	return n > 0, why
}

// lastReady is the latest time any endpoint of region r was agreed Ready.
func (s *Snapshot) lastReady(g *gname, r string) time.Time {
	var t time.Time
	for _, e := range g.eps {
		if lr := s.state(e).LastReady; e.region == r && lr.After(t) {
			t = lr
		}
	}
	return t
}

// regionReady reports whether any endpoint of g in region r is Ready, and
// since when the earliest of them has been.
func (s *Snapshot) regionReady(g *gname, r string) (bool, time.Time) {
	ok := false
	var since time.Time
	for _, e := range g.eps {
		st := s.epState(e)
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

// firstReady is the first region in g's order with a Ready endpoint.
func (s *Snapshot) firstReady(g *gname) string {
	for _, r := range g.order {
		if ok, _ := s.regionReady(g, r); ok {
			return r
		}
	}
	return ""
}

func aliveCount(v View) int {
	n := 0
	for _, m := range v.Members {
		if m.Alive {
			n++
		}
	}
	return max(n, 1)
}

// Proposals returns the write records this node proposes in this
// Snapshot (failovers and automatic failbacks), for the publisher to hand
// to the cluster, which fills in the proposer and backers and refuses a
// proposal without quorum or that another record superseded meanwhile.
func (s *Snapshot) Proposals() []WriteActive {
	var out []WriteActive
	for _, g := range s.c.writeNames {
		if w := s.writes[g.idx]; w.proposal != nil {
			out = append(out, *w.proposal)
		}
	}
	return out
}

// ProposeMove is an operator's move of a write name to region (a manual
// failback, or a planned move): the record Term+1 of the one in force. It
// is refused with ErrNoQuorum when this node may not decide, ErrNotReady
// when region is not ready, and a plain error for an unknown write name or
// a region outside its order.
func (s *Snapshot) ProposeMove(name, region string) (WriteActive, error) {
	g := s.c.byName[lowerFQDN(name)]
	if g == nil || !g.write {
		return WriteActive{}, fmt.Errorf("%s is not a write name", name)
	}
	if !slices.Contains(g.order, region) {
		return WriteActive{}, fmt.Errorf("region %q is not in the order of %s %v", region, g.fqdn, g.order)
	}
	if !s.view.Deciding() {
		why := "its start-up is not complete"
		if !s.view.Quorum {
			why = fmt.Sprintf("it sees %d of %d members", aliveCount(s.view), s.view.Expect)
		}
		return WriteActive{}, fmt.Errorf("%w: this node may not move writes: %s", ErrNoQuorum, why)
	}
	if ok, _ := s.regionReady(g, region); !ok {
		return WriteActive{}, fmt.Errorf("%w: %s has no ready endpoint of %s", ErrNotReady, region, g.fqdn)
	}
	rec := s.writes[g.idx].rec
	return s.proposal(g, rec, region, "moved by an operator from "+rec.Region), nil
}

// WriteInfo is one write name's state for the API and dashboard.
type WriteInfo struct {
	Name string `json:"name"`
	// Record is the record in force (Term 0: the first region in order).
	Record WriteActive `json:"record"`
	// Region is the region answered; "" when Fenced.
	Region string `json:"region"`
	Fenced bool   `json:"fenced"`
	Reason string `json:"reason"`
	// Proposal is the change this node asks for, if any.
	Proposal *WriteActive `json:"proposal,omitempty"`
	Order    []string     `json:"order"`
}

// Writes lists every write name's state, in config order.
func (s *Snapshot) Writes() []WriteInfo {
	var out []WriteInfo
	for _, g := range s.c.writeNames {
		w := s.writes[g.idx]
		out = append(out, WriteInfo{Name: g.fqdn, Record: w.rec, Region: w.region, Fenced: w.fenced,
			Reason: w.reason, Proposal: w.proposal, Order: g.order})
	}
	return out
}

// WriteHistory returns the write records this node has seen come into
// force, oldest first (at most 50). Callers must not modify the slice.
func (s *Snapshot) WriteHistory() []WriteActive { return s.history }

// ActiveRegion returns a write name's answered region and why; ok is
// false for unknown or read names.
func (s *Snapshot) ActiveRegion(name string) (region, reason string, ok bool) {
	g := s.c.byName[lowerFQDN(name)]
	if g == nil || !g.write {
		return "", "", false
	}
	w := s.writes[g.idx]
	return w.region, w.reason, true
}

// RebuildAt is the earliest time at which rebuilding the Snapshot with the
// same View (WithView(s.View(), now)) could change an answer: a pending
// automatic failback, or the end of the quorum grace. Zero means none.
func (s *Snapshot) RebuildAt() time.Time {
	var t time.Time
	for _, g := range s.c.writeNames {
		if w := s.writes[g.idx]; !w.recheck.IsZero() && (t.IsZero() || w.recheck.Before(t)) {
			t = w.recheck
		}
	}
	return t
}
