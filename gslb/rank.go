package gslb

import "github.com/gslbd/gslbd/geo"

// ranking holds the order of every nearest name's endpoints at every place
// the Locator numbers (geo.Location.Place: each distinct location of its
// compiled databases and CIDR map), computed once per config and locator.
// A nearest answer then reads one row and checks health down it, instead
// of computing a distance per endpoint and sorting per query.
//
// The order depends only on the regions of a name's endpoints in its
// default order (distances are per region, ties keep the default order),
// so names with the same pattern share one table: thousands of names over
// the same few regions cost one row of a few bytes per place, plus 4
// bytes per name. Tables past maxRankBytes are not built; their names
// rank per query, as do clients at no place (Place 0) and names with
// more than maxRankEndpoints endpoints. The rows hold exactly the order
// the per-query sort gives (TestRankingMatchesSort).
type ranking struct {
	places int
	class  []int32 // by gname.idx: index in tables, or -1
	tables []rankTable
}

// rankTable is the order of one pattern's endpoints at every place:
// order[(place-1)*n+j] is the position in g.defOrder of the j-th nearest.
type rankTable struct {
	n       int
	pattern []int // region index of each position of g.defOrder
	order   []uint8
}

const (
	// maxRankBytes bounds the tables of one config and locator. One
	// pattern of three endpoints over a City database's ~150k places
	// takes 450 kB.
	maxRankBytes = 32 << 20
	// maxRankEndpoints is what a uint8 position holds.
	maxRankEndpoints = 256
)

// newRanking builds the tables for c's nearest names over loc's places;
// nil when there is nothing to rank.
func newRanking(c *compiled, loc *geo.Locator) *ranking {
	places := loc.NumPlaces()
	regions := c.cfg.Regions
	if places == 0 || len(regions) == 0 {
		return nil
	}
	regionIdx := make(map[string]int, len(regions))
	for i, r := range regions {
		regionIdx[r.Name] = i
	}
	r := &ranking{places: places, class: make([]int32, len(c.names))}
	classes := map[string]int32{}
	var key []byte
	size := 0
	for gi, g := range c.names {
		r.class[gi] = -1
		if !g.ranksByDistance() || len(g.defOrder) > maxRankEndpoints {
			continue
		}
		key = key[:0]
		for _, i := range g.defOrder {
			ri := regionIdx[g.eps[i].region]
			key = append(key, byte(ri>>8), byte(ri))
		}
		if ci, ok := classes[string(key)]; ok {
			r.class[gi] = ci
			continue
		}
		n := len(g.defOrder)
		if size+places*n > maxRankBytes {
			continue
		}
		size += places * n
		t := rankTable{n: n, pattern: make([]int, n)}
		for p, i := range g.defOrder {
			t.pattern[p] = regionIdx[g.eps[i].region]
		}
		ci := int32(len(r.tables))
		classes[string(key)] = ci
		r.tables = append(r.tables, t)
		r.class[gi] = ci
	}
	if len(r.tables) == 0 {
		return nil
	}
	for i := range r.tables {
		r.tables[i].order = make([]uint8, places*r.tables[i].n)
	}
	km := make([]float64, len(regions))
	loc.EachPlace(func(place uint32, l *geo.Location) {
		for i, rg := range regions {
			km[i] = 0
			if l.HasCoords {
				km[i] = geo.DistanceKM(l.Lat, l.Lon, rg.Latitude, rg.Longitude)
			}
		}
		for i := range r.tables {
			t := &r.tables[i]
			row := t.order[int(place-1)*t.n : int(place)*t.n]
			for j := range row {
				row[j] = uint8(j)
			}
			// Insertion sort: stable, so ties keep the default order,
			// as the per-query sort does.
			for a := 1; a < len(row); a++ {
				for b := a; b > 0 && km[t.pattern[row[b]]] < km[t.pattern[row[b-1]]]; b-- {
					row[b], row[b-1] = row[b-1], row[b]
				}
			}
		}
	})
	return r
}

// ranksByDistance reports whether g's order depends on the client's
// distance to its regions: nearest names other than write names, with
// more than one region.
func (g *gname) ranksByDistance() bool {
	return g.policy == polNearest && !g.write && !g.singleRegion
}

// order returns g's ranking at place as positions in g.defOrder, nil when
// it is not precomputed.
func (r *ranking) order(g *gname, place uint32) []uint8 {
	if r == nil || place == 0 || int(place) > r.places {
		return nil
	}
	ci := r.class[g.idx]
	if ci < 0 {
		return nil
	}
	t := &r.tables[ci]
	return t.order[int(place-1)*t.n : int(place)*t.n]
}

// bytes is the tables' memory, for the benchmark.
func (r *ranking) bytes() int {
	if r == nil {
		return 0
	}
	n := 4 * len(r.class)
	for _, t := range r.tables {
		n += len(t.order) + 8*len(t.pattern)
	}
	return n
}

// setServing fills g.serving, so that ranking a name of at most 64
// endpoints reads which serve the family from the name alone, without
// touching each endpoint (at scale, each one a cache miss).
func (g *gname) setServing() {
	if len(g.eps) > 64 {
		return
	}
	for i, e := range g.eps {
		for fam := range g.serving {
			if e.serves(uint8(fam)) {
				g.serving[fam] |= 1 << i
			}
		}
	}
}

// serves is g.eps[i].serves(fam).
func (g *gname) serves(i int, fam uint8) bool {
	if len(g.eps) > 64 || int(fam) >= len(g.serving) {
		return g.eps[i].serves(fam)
	}
	return g.serving[fam]&(1<<i) != 0
}
