package geo

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// cidrTable answers longest-prefix matches over the CIDR map. It keeps one
// hash map per prefix length that occurs, longest first, so a lookup costs
// one masked-prefix hash probe per distinct length and never allocates.
// Maps in practice hold a handful of lengths, so this beats a bit trie on
// both code size and speed.
type cidrTable struct {
	v4, v6 []lengthSet
}

type lengthSet struct {
	bits    int
	entries map[netip.Prefix]Location
}

func (t *cidrTable) lookup(a netip.Addr, dst *Location) bool {
	sets := t.v6
	if a.Is4() {
		sets = t.v4
	}
	for i := range sets {
		p, err := a.Prefix(sets[i].bits)
		if err != nil {
			continue
		}
		if loc, ok := sets[i].entries[p]; ok {
			*dst = loc
			return true
		}
	}
	return false
}

// newCIDRTable validates entries and builds the table. Every problem is
// reported, each naming the entry by index and network.
func newCIDRTable(entries []CIDREntry) (cidrTable, []error) {
	var errs []error
	byBits := map[bool]map[int]map[netip.Prefix]Location{true: {}, false: {}}
	for i, e := range entries {
		loc, err := entryLocation(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("cidr entry %d (%s): %w", i, e.Network, err))
			continue
		}
		p := loc.Network
		v4 := p.Addr().Is4()
		set := byBits[v4][p.Bits()]
		if set == nil {
			set = map[netip.Prefix]Location{}
			byBits[v4][p.Bits()] = set
		}
		if _, dup := set[p]; dup {
			errs = append(errs, fmt.Errorf("cidr entry %d (%s): network listed twice", i, e.Network))
			continue
		}
		set[p] = loc
	}
	var t cidrTable
	for v4, lengths := range byBits {
		var sets []lengthSet
		for bits, m := range lengths {
			sets = append(sets, lengthSet{bits: bits, entries: m})
		}
		slices.SortFunc(sets, func(a, b lengthSet) int { return b.bits - a.bits })
		if v4 {
			t.v4 = sets
		} else {
			t.v6 = sets
		}
	}
	return t, errs
}

// entryLocation checks one entry and turns it into the Location it answers.
// An IPv4-mapped IPv6 network becomes the IPv4 network, because queries are
// unmapped before lookup. Missing coordinates or continent are filled from
// the country, then the continent, centroid.
func entryLocation(e CIDREntry) (Location, error) {
	p := e.Network
	if !p.IsValid() {
		return Location{}, fmt.Errorf("invalid network")
	}
	if p.Addr().Zone() != "" {
		return Location{}, fmt.Errorf("network has a zone")
	}
	if p != p.Masked() {
		return Location{}, fmt.Errorf("network has host bits set (want %s)", p.Masked())
	}
	p = unmapPrefix(p)
	loc := Location{
		Region:  e.Region,
		Network: p,
		Source:  "cidr",
	}
	if e.Country != "" {
		lat, lon, cont, ok := CountryCentroid(e.Country)
		if !ok {
			return Location{}, fmt.Errorf("unknown country code %q", e.Country)
		}
		loc.Country = strings.ToUpper(e.Country)
		loc.Continent = cont
		loc.Lat, loc.Lon, loc.HasCoords = lat, lon, true
	}
	if e.Continent != "" {
		lat, lon, ok := ContinentCentroid(e.Continent)
		if !ok {
			return Location{}, fmt.Errorf("unknown continent code %q (want one of AF AN AS EU NA OC SA)", e.Continent)
		}
		loc.Continent = strings.ToUpper(e.Continent)
		if !loc.HasCoords {
			loc.Lat, loc.Lon, loc.HasCoords = lat, lon, true
		}
	}
	if e.HasCoords {
		if !validCoords(e.Lat, e.Lon) {
			return Location{}, fmt.Errorf("coordinates %g,%g out of range (lat -90..90, lon -180..180)", e.Lat, e.Lon)
		}
		loc.Lat, loc.Lon, loc.HasCoords = e.Lat, e.Lon, true
	}
	if loc.Region == "" && !loc.HasCoords {
		return Location{}, fmt.Errorf("entry names no region, coordinates, country or continent")
	}
	return loc, nil
}

func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// UnmapPrefix turns a prefix inside ::ffff:0:0/96 into the IPv4 prefix it
// covers (::ffff:81.2.69.160/123 becomes 81.2.69.160/27; ::ffff:0:0/96
// itself becomes 0.0.0.0/0). Any other prefix is returned unchanged.
func UnmapPrefix(p netip.Prefix) netip.Prefix { return unmapPrefix(p) }

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() || !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
}
