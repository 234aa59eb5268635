package geo

// Places: every Location a Locator can return from a compiled database
// table or its CIDR map carries a number (Location.Place, from 1 to
// NumPlaces), so that callers can compute what depends only on the
// location (distances, rankings) once per place instead of once per
// query. Only CIDR-map and table locations exist, so every location a
// Locator returns has a place.

// placeBases numbers the table locations of dbs one after the other, as
// EachPlace lists them.
func placeBases(dbs []*Database) []uint32 {
	out := make([]uint32, len(dbs))
	n := uint32(0)
	for i, d := range dbs {
		out[i] = n
		if d != nil && d.table != nil {
			n += uint32(len(d.table.locs))
		}
	}
	return out
}

// numberCIDR numbers the CIDR map's locations after the databases' and
// keeps a list of them for EachPlace.
func (l *Locator) numberCIDR() {
	n := uint32(l.tablePlaces())
	for _, sets := range [][]lengthSet{l.cidr.v4, l.cidr.v6} {
		for _, set := range sets {
			for p, loc := range set.entries {
				n++
				loc.Place = n
				set.entries[p] = loc
				l.cidrPlaces = append(l.cidrPlaces, loc)
			}
		}
	}
}

// tablePlaces is how many places the compiled databases number.
func (l *Locator) tablePlaces() int {
	if len(l.dbs) == 0 {
		return 0
	}
	last := l.dbs[len(l.dbs)-1]
	n := int(l.placeBase[len(l.dbs)-1])
	if last.table != nil {
		n += len(last.table.locs)
	}
	return n
}

// NumPlaces is how many places the Locator numbers: Location.Place of a
// location it returns is 0 or in [1, NumPlaces]. A nil Locator has none.
func (l *Locator) NumPlaces() int {
	if l == nil {
		return 0
	}
	return l.tablePlaces() + len(l.cidrPlaces)
}

// EachPlace calls f with every place number and its location, in order.
// f must neither modify the Location nor keep the pointer, which may be
// reused for the next place. The Location's Network is unset for database
// places (a place stands for every network located there) and its own
// Place field may be numbered per database.
func (l *Locator) EachPlace(f func(place uint32, loc *Location)) {
	if l == nil {
		return
	}
	for i, d := range l.dbs {
		if d.table == nil {
			continue
		}
		// One Location reused: a table keeps its locations compacted.
		var loc Location
		for j := range d.table.locs {
			loc = d.table.location(uint32(j))
			f(l.placeBase[i]+uint32(j)+1, &loc)
		}
	}
	for i := range l.cidrPlaces {
		f(l.cidrPlaces[i].Place, &l.cidrPlaces[i])
	}
}
