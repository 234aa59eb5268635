package geo

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"unsafe"

	"github.com/oschwald/maxminddb-golang/v2"
)

// rangeTable is a Database compiled once, when it is opened, for
// lookups: every network of the search tree whose record locates, sorted
// per address family, pointing at its Location. Each distinct record is
// decoded once while compiling, so a lookup is a binary search and a
// copy, with no decoding and no allocation, and the mmdb image is not
// needed after compiling.
//
// It answers exactly what maxminddb's Reader.Lookup answers (the same
// network, the record's Location), including for the IPv6 ranges that an
// IPv6 tree points at its IPv4 subtree (the writer's aliases: Teredo
// 2001::/32, 6to4 2002::/16; and ::/96, where the subtree itself sits).
// Lookup walks such an address's bits past the alias as an IPv4 address,
// so the table keeps each alias as a zone entry: an IPv6 entry whose
// address is answered by the IPv4 table from the bits after the alias's
// prefix, with the network the tree walk reports, the address's own
// prefix of the alias's length plus the IPv4 network's.
type rangeTable struct {
	// v4 networks: first address, and location index and bits.
	v4Keys splitKeys[uint32, uint16]
	v4Meta metas
	// v6 networks of at most 64 bits by their first 64 bits; longer
	// ones (rare in real databases) in v6Long. The location index zoneIdx
	// marks an alias of the IPv4 subtree.
	v6Keys   splitKeys[uint64, uint32]
	v6Meta   metas
	v6Long   [][2]uint64
	v6LongMt metas
	zoneIdx  uint32
	locs     []tableLoc // distinct locations
	// codes are the distinct Country and Continent strings of locs,
	// sources the Source strings by tableLoc.source.
	codes   []string
	sources [3]string
}

// tableBuilder files a tree's networks into a rangeTable while compiling.
type tableBuilder struct {
	t *rangeTable
	// v4Start and v6Start are the keys until finish splits them.
	v4Start []uint32
	v6Start []uint64
	// counts, while compiling's first walk sets it, makes add count the
	// v4, v6 and v6Long entries instead of filing them, so that the
	// second walk fills slices of exactly their size: appending
	// allocated five to six times the table, most of it garbage at once.
	counts *[3]int
}

// tableLoc is a table's Location in 24 bytes instead of 112 (a City
// database has some 100k): what varies between a database's locations.
// Region is always empty and HasCoords always true, as locationOf
// locates only by coordinates or a centroid.
type tableLoc struct {
	lat, lon           float64
	country, continent uint16 // indexes into codes
	source             uint8  // index into sources
}

// maxCodes bounds the distinct country and continent strings to what
// tableLoc's indexes hold.
const maxCodes = 1 << 16

// location is the Location of locs[i], Network unset, Place = i+1.
func (t *rangeTable) location(i uint32) Location {
	var loc Location
	t.fill(&loc, i)
	return loc
}

// fill writes location i into dst, all fields but Network, in place: a
// Location is some 130 bytes, and the answer path's lookups write into
// the caller's instead of returning copies through each layer.
func (t *rangeTable) fill(dst *Location, i uint32) {
	l := &t.locs[i]
	*dst = Location{
		Country:   t.codes[l.country],
		Continent: t.codes[l.continent],
		Lat:       l.lat,
		Lon:       l.lon,
		HasCoords: true,
		Source:    t.sources[l.source],
		Place:     i + 1,
	}
}

// metas are one family's location indexes and prefix lengths, in 2
// bytes an entry while every index fits in 8 bits (a country database
// has some 250 locations; a City one 100k, which take 4): low holds the
// length and the index's low 8 bits, high (nil when not needed) the rest
// of the index.
type metas struct {
	low  []uint16
	high []uint16
}

func (m *metas) get(i int) (idx uint32, bits int) {
	v := m.low[i]
	idx = uint32(v >> 8)
	if m.high != nil {
		idx |= uint32(m.high[i]) << 8
	}
	return idx, int(v & 0xff)
}

func (m *metas) alloc(n int, wide bool) {
	m.low = make([]uint16, 0, n)
	if wide {
		m.high = make([]uint16, 0, n)
	}
}

func (m *metas) add(idx uint32, bits int) {
	m.low = append(m.low, uint16(idx&0xff)<<8|uint16(bits))
	if m.high != nil {
		m.high = append(m.high, uint16(idx>>8))
	}
}

// zoneIndex is the location index add is given for an alias of the IPv4
// subtree; the table files it as zone, one past its last location, which
// keeps indexes within 8 bits whenever the locations are. Indexes are 24
// bits at most.
const (
	zoneIndex         = 1<<24 - 1
	maxTableLocations = zoneIndex
)

// compileTable builds the table of data (opened as r): it walks the
// search tree twice, first decoding each record it reaches once, with
// decode, into a Location named after src, and counting the networks,
// then filing them.
//
// It reads the tree's nodes itself rather than through r.Networks, which
// skips every network that points at the IPv4 subtree's root outside it
// (the aliases): the table must answer those too, as zones.
func compileTable(r *maxminddb.Reader, data []byte, src sourceNames, decode func(maxminddb.Result) (fields, error)) (*rangeTable, error) {
	tr, err := newSearchTree(r, data)
	if err != nil {
		return nil, err
	}
	t := &rangeTable{sources: [3]string{src.city, src.country, src.continent}}
	b := &tableBuilder{t: t}
	byOffset := map[uint]int32{}
	byValue := map[Location]int32{}
	codes := map[string]uint16{}
	code := func(s string) (uint16, error) {
		c, ok := codes[s]
		if !ok {
			if len(t.codes) >= maxCodes {
				return 0, fmt.Errorf("more than %d distinct country and continent codes", maxCodes)
			}
			c = uint16(len(t.codes))
			codes[s] = c
			t.codes = append(t.codes, s)
		}
		return c, nil
	}
	leaf := func(hi, lo uint64, bits int, ptr uint) error {
		offset, err := tr.dataOffset(ptr)
		if err != nil {
			return err
		}
		idx, seen := byOffset[offset]
		if !seen {
			idx = -1
			// A record that does not decode locates nothing, as a
			// lookup that failed to decode it would.
			if rec, err := decode(r.LookupOffset(uintptr(offset))); err == nil {
				if loc, ok := locationOf(rec, src); ok {
					if i, dup := byValue[loc]; dup {
						idx = i
					} else if len(t.locs) < maxTableLocations {
						tl, err := t.compact(loc, code)
						if err != nil {
							return err
						}
						idx = int32(len(t.locs))
						t.locs = append(t.locs, tl)
						byValue[loc] = idx
					} else {
						return fmt.Errorf("more than %d distinct locations", maxTableLocations)
					}
				}
			}
			byOffset[offset] = idx
		}
		if idx >= 0 {
			b.add(hi, lo, bits, uint32(idx))
		}
		return nil
	}
	zone := func(hi, lo uint64, bits int) { b.add(hi, lo, bits, zoneIndex) }
	var n [3]int
	b.counts = &n
	if err := tr.walk(leaf, zone); err != nil {
		return nil, err
	}
	b.counts = nil
	t.zoneIdx = uint32(len(t.locs))
	wide := t.zoneIdx > 0xff
	b.v4Start = make([]uint32, 0, n[0])
	b.v6Start = make([]uint64, 0, n[1])
	t.v6Long = make([][2]uint64, 0, n[2])
	t.v4Meta.alloc(n[0], wide)
	t.v6Meta.alloc(n[1], wide)
	t.v6LongMt.alloc(n[2], wide)
	// Every record is decoded by now: this walk only files networks.
	if err := tr.walk(leaf, zone); err != nil {
		return nil, err
	}
	b.finish()
	return t, nil
}

// compact is loc as a tableLoc, its strings numbered by code.
func (t *rangeTable) compact(loc Location, code func(string) (uint16, error)) (tableLoc, error) {
	tl := tableLoc{lat: loc.Lat, lon: loc.Lon}
	var err error
	if tl.country, err = code(loc.Country); err != nil {
		return tableLoc{}, err
	}
	if tl.continent, err = code(loc.Continent); err != nil {
		return tableLoc{}, err
	}
	i := slices.Index(t.sources[:], loc.Source)
	if i < 0 || !loc.HasCoords || loc.Region != "" {
		return tableLoc{}, fmt.Errorf("internal error: location %+v cannot be compacted", loc)
	}
	tl.source = uint8(i)
	return tl, nil
}

// add files the tree's network (hi, lo)/bits, in the tree's IPv6 terms
// (an IPv4-only tree's are under ::/96), under idx. The IPv4 subtree's
// networks are IPv4 ones, as a lookup reports them; networks inside
// ::ffff:0:0/96 are dropped, as every lookup unmaps those addresses first.
func (b *tableBuilder) add(hi, lo uint64, bits int, idx uint32) {
	isZone := idx == zoneIndex
	if isZone {
		idx = b.t.zoneIdx
	}
	switch {
	case bits >= 96 && hi == 0 && lo>>32 == 0xffff:
	case bits >= 96 && hi == 0 && lo>>32 == 0 && !isZone:
		b.add4(uint32(lo), idx, bits-96)
	case bits <= 64:
		if b.counts != nil {
			b.counts[1]++
			break
		}
		b.v6Start = append(b.v6Start, hi)
		b.t.v6Meta.add(idx, bits)
	default:
		if b.counts != nil {
			b.counts[2]++
			break
		}
		b.t.v6Long = append(b.t.v6Long, [2]uint64{hi, lo})
		b.t.v6LongMt.add(idx, bits)
	}
	if bits < 96 && hi == 0 && lo == 0 && !isZone {
		// An IPv6 tree's record above the IPv4 subtree covers all of
		// IPv4; Lookup reports it to an IPv4 address as this network,
		// which in IPv4 terms is 0.0.0.0/0.
		b.add4(0, idx, 0)
	}
}

func (b *tableBuilder) add4(start, idx uint32, bits int) {
	if b.counts != nil {
		b.counts[0]++
		return
	}
	b.v4Start = append(b.v4Start, start)
	b.t.v4Meta.add(idx, bits)
}

// finish orders each family by start (a tree walk yields them in order
// already, so this is normally a check) and splits the keys.
func (b *tableBuilder) finish() {
	sortPairs(b.v4Start, &b.t.v4Meta, cmp.Compare[uint32])
	sortPairs(b.v6Start, &b.t.v6Meta, cmp.Compare[uint64])
	sortPairs(b.t.v6Long, &b.t.v6LongMt, func(x, y [2]uint64) int {
		return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]))
	})
	b.t.v4Keys, b.v4Start = newSplitKeys[uint32, uint16](b.v4Start, 16), nil
	b.t.v6Keys, b.v6Start = newSplitKeys[uint64, uint32](b.v6Start, 32), nil
	// The network slices were made to size; appending left up to a
	// quarter of these unused, and they live as long as the Database.
	b.t.locs, b.t.codes = trim(b.t.locs), trim(b.t.codes)
}

// trim returns s in an array of exactly its length.
func trim[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	return append(make([]T, 0, len(s)), s...)
}

func sortPairs[K any](keys []K, m *metas, c func(a, b K) int) {
	if slices.IsSortedFunc(keys, c) {
		return
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return c(keys[a], keys[b]) })
	k2 := make([]K, 0, len(keys))
	var m2 metas
	m2.alloc(len(keys), m.high != nil)
	for _, j := range idx {
		k2 = append(k2, keys[j])
		m2.add(m.get(j))
	}
	copy(keys, k2)
	*m = m2
}

// locate answers a (unmapped, no zone) from the table into dst, which
// it leaves alone when it reports false.
func (t *rangeTable) locate(a netip.Addr, dst *Location) bool {
	if a.Is4() {
		b := a.As4()
		i, start, ok := t.find4(binary.BigEndian.Uint32(b[:]))
		if !ok {
			return false
		}
		idx, bits := t.v4Meta.get(i)
		t.fill(dst, idx)
		dst.Network = netip.PrefixFrom(netip.AddrFrom4(nth4(start)), bits)
		return true
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var start [2]uint64
	var idx uint32
	var bits int
	if i, ok := t.find6Long(hi, lo); ok {
		start = t.v6Long[i]
		idx, bits = t.v6LongMt.get(i)
	} else {
		i, s, ok := t.v6Keys.last(hi)
		if !ok {
			return false
		}
		idx, bits = t.v6Meta.get(i)
		if bits > 0 && hi-s >= uint64(1)<<(64-bits) {
			return false
		}
		start = [2]uint64{s, 0}
	}
	if idx == t.zoneIdx {
		return t.zone(a, hi, lo, bits, dst)
	}
	t.fill(dst, idx)
	dst.Network = netip.PrefixFrom(addr16(start[0], start[1]), bits)
	return true
}

// find6Long is the index of the v6Long network holding (hi, lo).
func (t *rangeTable) find6Long(hi, lo uint64) (int, bool) {
	if len(t.v6Long) == 0 {
		return 0, false
	}
	k := [2]uint64{hi, lo}
	i, found := slices.BinarySearchFunc(t.v6Long, k, func(e, k [2]uint64) int {
		return cmp.Or(cmp.Compare(e[0], k[0]), cmp.Compare(e[1], k[1]))
	})
	if found {
		return i, true
	}
	// Networks longer than 64 bits share their first 64 with the address.
	if i--; i >= 0 && t.v6Long[i][0] == hi {
		_, bits := t.v6LongMt.get(i)
		if lo-t.v6Long[i][1] < uint64(1)<<(128-bits) {
			return i, true
		}
	}
	return 0, false
}

// find4 is the index and first address of the v4 network holding x.
func (t *rangeTable) find4(x uint32) (int, uint32, bool) {
	i, start, ok := t.v4Keys.last(x)
	if !ok {
		return 0, 0, false
	}
	_, bits := t.v4Meta.get(i)
	if uint64(x-start) >= uint64(1)<<(32-bits) {
		return 0, 0, false
	}
	return i, start, true
}

// zone answers a, inside an alias of the IPv4 subtree depth bits long, as
// Lookup does: it walks the address's next 32 bits down the IPv4 subtree
// and reports the address's prefix of depth plus the network's bits. A
// walk that would need bits past the address's end fails in Lookup, so it
// locates nothing here either.
func (t *rangeTable) zone(a netip.Addr, hi, lo uint64, depth int, dst *Location) bool {
	i, _, ok := t.find4(bitsAfter(hi, lo, depth))
	if !ok {
		return false
	}
	idx, bits := t.v4Meta.get(i)
	if depth+bits > 128 {
		return false
	}
	t.fill(dst, idx)
	dst.Network = netip.PrefixFrom(a, depth+bits).Masked()
	return true
}

// bitsAfter is the 32 bits of the address (hi, lo) that follow its first
// n, zero past its end.
func bitsAfter(hi, lo uint64, n int) uint32 {
	switch {
	case n == 0:
	case n < 64:
		hi = hi<<n | lo>>(64-n)
	case n < 128:
		hi = lo << (n - 64)
	default:
		hi = 0
	}
	return uint32(hi >> 32)
}

// upper is the index of the first element greater than x.
func upper[K cmp.Ordered](s []K, x K) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func nth4(v uint32) [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b
}

func addr16(hi, lo uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// size is the table's approximate memory in bytes, for the benchmark.
func (t *rangeTable) size() int {
	n := t.v4Keys.size() + t.v6Keys.size() + 16*len(t.v6Long)
	for _, m := range []*metas{&t.v4Meta, &t.v6Meta, &t.v6LongMt} {
		n += 2 * (len(m.low) + len(m.high))
	}
	n += int(unsafe.Sizeof(tableLoc{})) * len(t.locs)
	for _, c := range t.codes {
		n += int(unsafe.Sizeof(c)) + len(c)
	}
	return n
}
