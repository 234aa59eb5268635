package gslb

import (
	"strconv"

	"github.com/gslbd/gslbd/geo"
)

// famTarget selects only endpoints answered as a CNAME (qtype CNAME).
const famTarget uint8 = 3

// decision is what a GSLB name answers one client. Answer and Explain
// both get it from decide, so they can never disagree.
type decision struct {
	scope   int
	ttl     uint32
	err     error
	neg     []Record // SOA for a negative answer; nil means the zone's
	allDown bool
}

// trace collects the reasons of a decision for Explain. The answer path
// passes nil and builds no strings.
type trace struct {
	reasons []string
	rank    []int     // every candidate in policy order
	dist    []float64 // by endpoint index; <0 unknown
	skip    []string  // by endpoint index; why it is not chosen
}

func (t *trace) reason(s string) {
	if t != nil {
		t.reasons = append(t.reasons, s)
	}
}

func (t *trace) skipped(i int, why string) {
	if t != nil && t.skip[i] == "" {
		t.skip[i] = why
	}
}

const inlineEPs = 16

// epFlags is the part of an endpoint's state that decide reads.
type epFlags struct {
	state      State
	transition bool
}

// locScope is the ECS scope of an answer that depends on where the client
// is: the prefix of the network that located it, lengthened to leave out
// any more specific CIDR map entry inside that network (widenScope), and
// never longer than the source prefix. An unlocated client gets its whole
// source prefix: no source tells how far "unknown" extends, and a shorter
// scope could make a resolver cache the default answer over a located
// sub-network.
func (s *Snapshot) locScope(c Client, loc *geo.Location, located bool) int {
	sp := max(c.SourcePrefix, 0)
	if located && loc.Network.IsValid() {
		bits := s.c.widenScope(c.Addr.Unmap(), loc.Network)
		if c.Addr.Is4In6() && loc.Network.Addr().Is4() {
			bits += 96 // an IPv4-mapped client: the scope counts IPv6 bits
		}
		return min(bits, sp)
	}
	return sp
}

// decide ranks g's endpoints for one client and picks the answer: the
// chosen endpoints (indexes into g.eps, in answer order), stored in buf
// (the caller's stack array; returned apart from d so that it stays on
// the stack).
func (s *Snapshot) decide(g *gname, fam uint8, c Client, loc *geo.Location, located bool, buf []int, tr *trace) (d decision, chosen []int) {
	n := len(g.eps)
	// The endpoints' states, read once from the per-target table; only
	// the two bytes decide uses, so the stack array stays small.
	var rtBuf [inlineEPs]epFlags
	rt := rtBuf[:0]
	if n > inlineEPs {
		rt = make([]epFlags, 0, n)
	}
	for _, e := range g.eps {
		st := s.epState(e)
		rt = append(rt, epFlags{st.state, st.transition})
	}
	var ordBuf [inlineEPs]int
	var distBuf [inlineEPs]float64
	ord, dist := ordBuf[:0], distBuf[:0]
	if n > inlineEPs {
		ord, dist = make([]int, 0, n), make([]float64, n)
	}
	dist = dist[:n]
	if tr != nil {
		tr.dist = make([]float64, n)
		tr.skip = make([]string, n)
		for i := range tr.dist {
			tr.dist[i] = -1
		}
	}

	// A nearest name's order at the client's place is precomputed
	// (rank.go); other orders start from the default one.
	hasCoords := located && loc.HasCoords
	var ranked []uint8
	if hasCoords && g.ranksByDistance() {
		ranked = s.rank.order(g, loc.Place)
	}
	for k, i := range g.defOrder {
		if ranked != nil {
			i = g.defOrder[ranked[k]]
		}
		if g.serves(i, fam) {
			ord = append(ord, i)
			continue
		}
		if tr != nil {
			switch fam {
			case fam4:
				tr.skipped(i, "no IPv4 address")
			case fam6:
				tr.skipped(i, "no IPv6 address")
			default:
				tr.skipped(i, "no target")
			}
		}
	}
	if !s.view.Answering() {
		tr.reason("this node has no view yet (start-up: no peer sync and no full probe round): SERVFAIL")
		d.err = ErrUnavailable
		return d, nil
	}
	if len(ord) == 0 {
		tr.reason("no endpoint has an answer of this type: NODATA")
		d.err = ErrNoData
		return d, nil
	}

	if hasCoords && tr != nil {
		for _, i := range ord {
			tr.dist[i] = geo.DistanceKM(loc.Lat, loc.Lon, g.eps[i].rg.Latitude, g.eps[i].rg.Longitude)
		}
	}
	switch {
	case g.write:
		if tr != nil {
			tr.reason("write name: regions in order " + joinList(g.order))
		}
	case g.policy == polNearest && hasCoords:
		if ranked == nil && g.ranksByDistance() {
			// Not precomputed: sort here. Insertion sort: stable (ties
			// keep the default order), no allocation, and n is small.
			for _, i := range ord {
				dist[i] = geo.DistanceKM(loc.Lat, loc.Lon, g.eps[i].rg.Latitude, g.eps[i].rg.Longitude)
			}
			for a := 1; a < len(ord); a++ {
				for b := a; b > 0 && dist[ord[b]] < dist[ord[b-1]]; b-- {
					ord[b], ord[b-1] = ord[b-1], ord[b]
				}
			}
		}
		tr.reason("nearest: ranked by distance from the client")
	case g.policy == polNearest:
		if tr != nil {
			tr.reason("nearest: client has no coordinates, using the default order " + joinList(g.order))
		}
	case g.policy == polGeomap:
		list, key := g.geomapList(loc, located)
		if tr != nil {
			if key == "" {
				tr.reason("geomap: no entry for the client and no default; using the default order")
			} else {
				if tr != nil {
					tr.reason("geomap: entry " + key + " -> " + joinList(list))
				}
			}
		}
		pos := func(i int) int {
			for p, r := range list {
				if r == g.eps[i].region {
					return p
				}
			}
			return len(list)
		}
		for a := 1; a < len(ord); a++ {
			for b := a; b > 0 && pos(ord[b]) < pos(ord[b-1]); b-- {
				ord[b], ord[b-1] = ord[b-1], ord[b]
			}
		}
	case g.policy == polFailover:
		if tr != nil {
			tr.reason("failover: regions in order " + joinList(g.order))
		}
	case g.policy == polWeighted:
		tr.reason("weighted: random choice by weight among ready endpoints")
	default:
		tr.reason("all: every ready endpoint")
	}

	// A CIDR map entry that names a region sends its network there while
	// that region is ready.
	if !g.write && (g.policy == polNearest || g.policy == polGeomap) && located && loc.Region != "" {
		k := 0
		for a := range ord {
			if i := ord[a]; g.eps[i].region == loc.Region && rt[i].state == Ready {
				copy(ord[k+1:a+1], ord[k:a])
				ord[k] = i
				k++
			}
		}
		if k > 0 {
			if tr != nil {
				tr.reason("the client's network is mapped to region " + loc.Region + ", which is ready")
			}
		}
	}
	if tr != nil {
		tr.rank = append(tr.rank, ord...)
	}

	if g.byLocation {
		d.scope = s.locScope(c, loc, located)
	}

	// Residency fence (write names: below, on their one region).
	if g.res != nil && !g.write && located && (g.res.match[loc.Country] || g.res.match[loc.Continent]) {
		k, readyIn := 0, false
		for _, i := range ord {
			if g.res.regions[g.eps[i].region] {
				ord[k] = i
				k++
				readyIn = readyIn || rt[i].state == Ready
			}
		}
		switch {
		case readyIn:
			if tr != nil {
				for _, i := range tr.rank {
					if !g.res.regions[g.eps[i].region] {
						tr.skipped(i, "outside the residency fence")
					}
				}
				if tr != nil {
					tr.reason("residency: client in " + loc.Country + "/" + loc.Continent + " is fenced to " + joinList(g.res.list))
				}
			}
			ord = ord[:k]
		case g.res.closed:
			tr.reason("residency: client is fenced and no fenced region is ready; fail closed: NODATA with the name's TTL")
			d.err, d.neg = ErrNoData, g.res.neg
			return d, nil
		default:
			tr.reason("residency: client is fenced but no fenced region is ready; fail open: normal policy")
		}
	}

	if tr != nil {
		for i := range g.eps {
			if rt[i].state != Ready {
				tr.skipped(i, "not ready: "+rt[i].state.String())
			}
		}
	}
	chosen = buf[:0]
	switch {
	case g.write:
		w := s.writes[g.idx]
		if tr != nil {
			tr.reason("write record: " + w.reason)
		}
		if w.fenced {
			d.err = ErrUnavailable
			d.scope = 0
			return d, nil
		}
		// A write name has one region to offer: a fenced client may use
		// it only when it lies inside the fence.
		if g.res != nil && located && (g.res.match[loc.Country] || g.res.match[loc.Continent]) && !g.res.regions[w.region] {
			if tr != nil {
				tr.reason("residency: client in " + loc.Country + "/" + loc.Continent + " is fenced to " +
					joinList(g.res.list) + " and the write region " + w.region + " is outside it")
			}
			if g.res.closed {
				tr.reason("fail closed: NODATA with the name's TTL")
				d.err, d.neg = ErrNoData, g.res.neg
				return d, nil
			}
			tr.reason("fail open: answering the write region")
		}
		for _, i := range ord {
			if g.eps[i].region == w.region && rt[i].state == Ready {
				chosen = append(chosen, i)
				break
			}
		}
		if len(chosen) == 0 {
			if ok, _ := s.regionReady(g, w.region); ok {
				tr.reason("the write region has no endpoint of this type: NODATA")
				d.err = ErrNoData
				d.scope = 0
				return d, nil
			}
		}
		if tr != nil {
			for _, i := range ord {
				if g.eps[i].region != w.region {
					tr.skipped(i, "not the write region")
				}
			}
		}
	case g.policy == polWeighted:
		chosen = s.pickWeighted(g, ord, chosen, true)
		if len(chosen) == 0 {
			chosen = s.pickWeighted(g, ord, chosen, false)
			if len(chosen) > 0 {
				tr.reason("no ready endpoint with weight > 0: using weight-0 endpoints")
			}
		}
		if tr != nil {
			for _, i := range ord {
				if g.eps[i].weight == 0 {
					tr.skipped(i, "weight 0: only when nothing else is ready")
				} else {
					tr.skipped(i, "not picked by weight")
				}
			}
		}
	default:
		limit := g.answers
		if g.policy == polAll {
			limit = n
		}
		for _, i := range ord {
			if len(chosen) == limit && tr == nil {
				break // the rest only matter to Explain
			}
			if rt[i].state == Ready && len(chosen) < limit {
				chosen = append(chosen, i)
			} else if rt[i].state == Ready {
				if tr != nil {
					tr.skipped(i, "beyond answers="+strconv.Itoa(g.answers))
				}
			}
		}
	}
	if len(chosen) == 0 {
		if !g.openDown {
			tr.reason("no endpoint is ready and all_down is closed: SERVFAIL")
			d.err = ErrNoReadyEndpoint
			d.scope = 0
			return d, nil
		}
		d.allDown = true
		// all_down open answers every endpoint that is not drained (a
		// drained endpoint is never answered); a write name answers only
		// its write region, since writes must never go to several regions.
		for _, i := range ord {
			if rt[i].state == Drained || (g.write && g.eps[i].region != s.writes[g.idx].region) {
				continue
			}
			chosen = append(chosen, i)
			if g.write {
				break
			}
		}
		if len(chosen) == 0 {
			tr.reason("no endpoint is ready and the others are drained: SERVFAIL")
			d.err = ErrNoReadyEndpoint
			d.scope = 0
			return d, nil
		}
		if tr != nil && g.write {
			tr.reason("no endpoint is ready and all_down is open: a write name answers its write region, " + s.writes[g.idx].region)
		} else {
			tr.reason("no endpoint is ready and all_down is open: answering every endpoint that is not drained")
		}
	}

	// TTL: the name's TTL while the answer is stable; MinTTL while it may
	// change soon, so resolvers see the change quickly: all down, a write
	// name awaiting a change or without quorum, or an endpoint the answer
	// depends on in transition (one chosen, or ranked before the last one
	// chosen, whose recovery would take over).
	d.ttl = g.ttl
	switch {
	case d.allDown:
		d.ttl = g.minTTL
	case g.write && (s.writes[g.idx].proposal != nil || !s.view.Quorum):
		d.ttl = g.minTTL
		tr.reason("the write region may change soon: min_ttl")
	default:
		last := chosen[len(chosen)-1]
		for _, i := range ord {
			if g.write && g.eps[i].region != s.writes[g.idx].region {
				continue // writes depend on their region alone
			}
			if rt[i].transition {
				d.ttl = g.minTTL
				if tr != nil {
					tr.reason(g.eps[i].id + " is in transition: min_ttl")
				}
				break
			}
			if i == last && g.policy != polWeighted {
				break
			}
		}
	}
	return d, chosen
}

// pickWeighted appends up to g.answers distinct ready endpoints of ord,
// chosen at random by weight; positive selects weight > 0 endpoints,
// otherwise weight-0 endpoints are chosen uniformly.
func (s *Snapshot) pickWeighted(g *gname, ord, chosen []int, positive bool) []int {
	w := func(i int) int {
		if s.epState(g.eps[i]).state != Ready {
			return 0
		}
		for _, c := range chosen {
			if c == i {
				return 0
			}
		}
		if positive {
			return int(g.eps[i].weight)
		}
		if g.eps[i].weight == 0 {
			return 1
		}
		return 0
	}
	for len(chosen) < g.answers {
		// A float64 sum: weights are ints and their sum may pass 2^63,
		// where an int total wraps negative and every draw hits the
		// first endpoint.
		total := 0.0
		for _, i := range ord {
			total += float64(w(i))
		}
		if total == 0 {
			break
		}
		r := s.rnd() * total
		pick := -1
		for _, i := range ord {
			wi := w(i)
			if wi == 0 {
				continue
			}
			pick = i
			if r -= float64(wi); r < 0 {
				break
			}
		}
		chosen = append(chosen, pick)
	}
	return chosen
}

// geomapList returns the ordered regions for the client's country, else
// continent, else "default", with the key used ("" if none).
func (g *gname) geomapList(loc *geo.Location, located bool) ([]string, string) {
	if located {
		if l, ok := g.geomap[loc.Country]; ok && loc.Country != "" {
			return l, loc.Country
		}
		if l, ok := g.geomap[loc.Continent]; ok && loc.Continent != "" {
			return l, loc.Continent
		}
	}
	if l, ok := g.geomap["default"]; ok {
		return l, "default"
	}
	return nil, ""
}

func joinList(l []string) string {
	s := "["
	for i, v := range l {
		if i > 0 {
			s += " "
		}
		s += v
	}
	return s + "]"
}
