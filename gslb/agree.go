package gslb

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// String returns the quorum as cluster.quorum writes it (config parses it).
func (q Quorum) String() string {
	switch q.Kind {
	case QuorumAny:
		return "any"
	case QuorumAll:
		return "all"
	case QuorumFraction:
		return strconv.FormatFloat(q.Fraction, 'g', -1, 64)
	}
	return "majority"
}

// reached reports whether ready observers out of fresh ones satisfy q.
func (q Quorum) reached(ready, fresh int) bool {
	if fresh == 0 {
		return false
	}
	switch q.Kind {
	case QuorumAny:
		return ready >= 1
	case QuorumAll:
		return ready == fresh
	case QuorumFraction:
		// The epsilon keeps 0.5×4 = 2 from becoming 3 through rounding
		// noise in the product.
		need := int(math.Ceil(q.Fraction*float64(fresh) - 1e-9))
		return ready >= max(need, 1)
	}
	return ready*2 > fresh
}

// Agree is the cluster's agreement rule: it merges every node's latest
// observations into one View. It is pure; the same input gives the same
// View on every node.
//
// Per probe target it takes each alive member's latest observation; those
// older than StaleAfter (0 = never stale) do not count. The target is
// Ready when the ready fresh observers reach the quorum of the fresh
// observers, Down when more than half of them say Down, Recovering
// otherwise. With no fresh observer the previous agreed state is kept and
// marked Stale (Unknown if it was never seen). Every endpoint that uses
// the target follows it (View.Endpoint); the work is per target, however
// many endpoints share one.
//
// A node is isolated when it sees fewer than half of Expect alive
// (alive×2 < Expect). While isolated, and for at most IsolationHold from
// when isolation began, a target that was Ready stays Ready whatever
// the (own) observations say: a node cut off from the network must not
// fail every region over. After the hold its own observations count.
//
// The drain records go into the View by endpoint and by region; a drain
// in effect at the View's time (Drain.StatusAt: maintenance windows start
// and end by the clock) makes the endpoint Drained whatever is observed
// (View.Endpoint), and View.DrainChangeAt says when the View must be
// agreed again because a window starts or ends. Since is kept from
// Previous while the state is unchanged.
//
// The View also says whether this node sees a quorum: a majority of
// Expect alive, itself included (NoQuorumSince carried from Previous).
// Per target it counts the fresh observers with positive evidence of
// failure (Failed) and whether any reports a pending change (Transition),
// which the write-name rule and the TTL rule read.
//
// The write records (AgreeInput.Active) are copied into the View
// unchanged: the cluster keeps the one in force per name.
func Agree(in AgreeInput) View {
	v := View{
		Self:    in.Self,
		Members: slices.Clone(in.Members),
		Synced:  in.Synced,
		Targets: make(map[string]TargetState, len(in.Targets)),
		At:      in.Now,
		Active:  maps.Clone(in.Active),
	}
	alive := make(map[string]bool, len(in.Members)+1)
	for _, m := range in.Members {
		if m.Alive {
			alive[m.Name] = true
		}
	}
	// This node is alive by definition, even if the member list (not yet
	// joined, or solo) does not hold it.
	if in.Self != "" {
		alive[in.Self] = true
	}
	expect := max(in.Expect, 1)
	v.Expect = expect
	v.Quorum = QuorumOf(len(alive), expect)
	if !v.Quorum {
		v.NoQuorumSince = in.Now
		if !in.Previous.Quorum && !in.Previous.NoQuorumSince.IsZero() {
			v.NoQuorumSince = in.Previous.NoQuorumSince
		}
	}
	if len(alive)*2 < expect {
		v.Isolated = true
		v.IsolatedSince = in.Now
		if in.Previous.Isolated && !in.Previous.IsolatedSince.IsZero() {
			v.IsolatedSince = in.Previous.IsolatedSince
		}
	}
	for _, d := range in.Drains {
		if d.Region != "" {
			if v.RegionDrains == nil {
				v.RegionDrains = map[string]Drain{}
			}
			v.RegionDrains[d.Region] = d
		} else if d.Endpoint != "" {
			if v.EndpointDrains == nil {
				v.EndpointDrains = map[string]Drain{}
			}
			v.EndpointDrains[d.Endpoint] = d
		}
	}
	v.DrainChangeAt = NextDrainChange(in.Drains, in.Now)
	holding := v.Isolated && in.IsolationHold > 0 && in.Now.Before(v.IsolatedSince.Add(in.IsolationHold))

	nodes := make([]string, 0, len(in.Observations))
	for n := range in.Observations {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes) // deterministic reasons and lag medians
	var lags []time.Duration
	for _, id := range in.Targets {
		prev, seen := in.Previous.Targets[id]
		var ts TargetState
		var nFresh, nReady, nDown int
		lags = lags[:0]
		var lastReason string
		for _, n := range nodes {
			o, ok := in.Observations[n][id]
			if !ok {
				continue
			}
			if ts.Observers == nil {
				ts.Observers = make(map[string]Observation)
			}
			ts.Observers[n] = o
			if !alive[n] {
				continue
			}
			if in.StaleAfter > 0 && in.Now.Sub(o.ObservedAt) > in.StaleAfter {
				continue
			}
			nFresh++
			switch o.State {
			case Ready:
				nReady++
			case Down:
				nDown++
				lastReason = o.Reason
			default:
				if lastReason == "" {
					lastReason = o.Reason
				}
			}
			if o.LagKnown {
				lags = append(lags, o.Lag)
			}
			if o.Failed {
				ts.Failed++
			}
			ts.Transition = ts.Transition || o.Transition
		}
		if len(lags) > 0 {
			slices.Sort(lags)
			m := len(lags) / 2
			ts.Lag = lags[m]
			if len(lags)%2 == 0 {
				ts.Lag = (lags[m-1] + lags[m]) / 2
			}
			ts.LagKnown = true
		}
		switch {
		case nFresh == 0:
			ts.State = prev.State
			ts.Stale = true
			ts.Reason = "no fresh observation from a live node"
			if seen && prev.Reason != "" {
				ts.Reason += "; last: " + strings.TrimPrefix(prev.Reason, ts.Reason+"; last: ")
			}
		case in.Quorum.Kind == QuorumMajority && nReady*2 == nFresh && seen && prev.State != Unknown:
			// A tie is no majority either way: one observer's bad network
			// path must not flip the target while its peers disagree (and,
			// in a cluster losing members one by one, the tie comes before
			// isolation is noticed).
			ts.State = prev.State
			ts.Reason = fmt.Sprintf("%d of %d fresh observers ready: a tie keeps %s", nReady, nFresh, prev.State)
		case in.Quorum.reached(nReady, nFresh):
			ts.State = Ready
			ts.Reason = fmt.Sprintf("ready by %d of %d fresh observers (quorum %s)", nReady, nFresh, in.Quorum)
		default:
			ts.State = Recovering
			if nDown*2 > nFresh {
				ts.State = Down
			}
			ts.Reason = fmt.Sprintf("%d of %d fresh observers ready (quorum %s)", nReady, nFresh, in.Quorum)
			if lastReason != "" {
				ts.Reason += ": " + lastReason
			}
			if holding && prev.State == Ready {
				ts.Reason = fmt.Sprintf("isolated since %s: keeping ready until %s (%s)",
					v.IsolatedSince.UTC().Format(time.RFC3339),
					v.IsolatedSince.Add(in.IsolationHold).UTC().Format(time.RFC3339), ts.Reason)
				ts.State = Ready
			}
		}
		ts.Since = in.Now
		if seen && prev.State == ts.State && !prev.Since.IsZero() {
			ts.Since = prev.Since
		}
		ts.LastReady = prev.LastReady
		if ts.State == Ready {
			ts.LastReady = in.Now
		}
		v.Targets[id] = ts
	}
	return v
}
