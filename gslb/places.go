package gslb

import "github.com/gslbd/gslbd/geo"

// placeKM holds the great-circle distance from every place the Locator's
// compiled databases can return (geo.Location.Place) to every region, in
// kilometres, computed once per config and locator. Ranking by distance
// was most of a GeoIP answer's cost: with the table a query reads the
// distances it needs instead of computing them. The values are exactly
// geo.DistanceKM's, so rankings do not change.
type placeKM struct {
	regions int
	km      []float64 // km[(place-1)*regions + region]
	// epRegion[g.idx][i] is the region index of g.eps[i].
	epRegion [][]int
}

// newPlaceKM builds the table for c's regions and loc's places; nil when
// there is nothing to precompute.
func newPlaceKM(c *compiled, loc *geo.Locator) *placeKM {
	places := loc.Places()
	if len(places) == 0 || len(c.cfg.Regions) == 0 {
		return nil
	}
	regions := c.cfg.Regions
	idx := make(map[string]int, len(regions))
	for i, r := range regions {
		idx[r.Name] = i
	}
	p := &placeKM{regions: len(regions), km: make([]float64, len(places)*len(regions))}
	for i, pl := range places {
		if !pl.HasCoords {
			continue
		}
		for j, r := range regions {
			p.km[i*len(regions)+j] = geo.DistanceKM(pl.Lat, pl.Lon, r.Latitude, r.Longitude)
		}
	}
	p.epRegion = make([][]int, len(c.names))
	for gi, g := range c.names {
		p.epRegion[gi] = make([]int, len(g.eps))
		for i, e := range g.eps {
			p.epRegion[gi][i] = idx[e.region]
		}
	}
	return p
}

// distanceKM is geo.DistanceKM from loc to g.eps[i], read from the table
// when loc is one of its places.
func (s *Snapshot) distanceKM(loc *geo.Location, g *gname, i int) float64 {
	if p := s.km; p != nil && loc.Place > 0 && int(loc.Place) <= len(p.km)/p.regions {
		return p.km[int(loc.Place-1)*p.regions+p.epRegion[g.idx][i]]
	}
	e := g.eps[i]
	return geo.DistanceKM(loc.Lat, loc.Lon, e.lat, e.lon)
}
