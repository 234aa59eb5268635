package geo

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// rangeTable is a Database compiled once, when it is opened, for
// lookups: every network of the search tree whose record locates, sorted
// per address family, pointing at its Location. Each distinct record is
// decoded once while compiling, so a lookup is a binary search and a
// copy, with no decoding and no allocation.
//
// It answers exactly what Database.locate answers from the tree (the same
// network, the same Location), because each Location is made by
// Database.locate itself; addresses it cannot answer that way (the IPv4
// subtree's aliases in an IPv6 tree: ::/96, Teredo 2001::/32, 6to4
// 2002::/16, which the tree walk skips) are left to the tree.
type rangeTable struct {
	// v4 networks: first address and meta (location index << 8 | bits).
	v4Start []uint32
	v4Meta  []uint32
	// v6 networks of at most 64 bits by their first 64 bits; longer
	// ones (rare in real databases) in v6Long.
	v6Start  []uint64
	v6Meta   []uint32
	v6Long   [][2]uint64
	v6LongMt []uint32
	locs     []Location // distinct locations; Network unset, Place = index+1
}

// maxTableLocations bounds distinct locations to what meta's 24 bits hold.
const maxTableLocations = 1 << 24

// aliases are the IPv6 ranges an IPv6 tree may map onto its IPv4
// subtree; lookups there go to the tree.
var aliases = []netip.Prefix{
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2002::/16"),
}

// compileTable walks d's tree once. d.table must be nil (d.locate is
// then the tree lookup that the table copies).
func compileTable(d *Database) (*rangeTable, error) {
	t := &rangeTable{}
	byOffset := map[uintptr]int32{}
	byValue := map[Location]int32{}
	for res := range d.r.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("geo: database %s: corrupt search tree: %w", d.name, err)
		}
		p := unmapPrefix(res.Prefix())
		idx, seen := byOffset[res.Offset()]
		if !seen {
			idx = -1
			if loc, ok := d.locate(p.Addr()); ok {
				loc.Network = netip.Prefix{}
				if i, dup := byValue[loc]; dup {
					idx = i
				} else if len(t.locs) < maxTableLocations {
					idx = int32(len(t.locs))
					loc.Place = uint32(idx) + 1
					t.locs = append(t.locs, loc)
					byValue[loc] = idx
				} else {
					return nil, fmt.Errorf("geo: database %s: more than %d distinct locations", d.name, maxTableLocations)
				}
			}
			byOffset[res.Offset()] = idx
		}
		if idx < 0 {
			continue
		}
		t.add(p, uint32(idx))
	}
	t.sort()
	return t, nil
}

func (t *rangeTable) add(p netip.Prefix, idx uint32) {
	meta := idx<<8 | uint32(p.Bits())
	switch {
	case p.Addr().Is4():
		a := p.Addr().As4()
		t.v4Start = append(t.v4Start, binary.BigEndian.Uint32(a[:]))
		t.v4Meta = append(t.v4Meta, meta)
	case p.Bits() <= 64:
		a := p.Addr().As16()
		t.v6Start = append(t.v6Start, binary.BigEndian.Uint64(a[:8]))
		t.v6Meta = append(t.v6Meta, meta)
	default:
		a := p.Addr().As16()
		t.v6Long = append(t.v6Long, [2]uint64{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])})
		t.v6LongMt = append(t.v6LongMt, meta)
	}
	if p.Addr().Is6() && p.Bits() <= 96 && p.Contains(netip.IPv6Unspecified()) {
		// An IPv6 tree's record above the IPv4 subtree covers all of
		// IPv4; Database.locate reports it as 0.0.0.0/0.
		t.v4Start = append(t.v4Start, 0)
		t.v4Meta = append(t.v4Meta, idx<<8)
	}
}

// sort orders each family by start; a tree walk yields them in order
// already, so this is normally a check.
func (t *rangeTable) sort() {
	sortPairs(t.v4Start, t.v4Meta, cmp.Compare[uint32])
	sortPairs(t.v6Start, t.v6Meta, cmp.Compare[uint64])
	sortPairs(t.v6Long, t.v6LongMt, func(a, b [2]uint64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	t.v4Start, t.v4Meta = slices.Clip(t.v4Start), slices.Clip(t.v4Meta)
	t.v6Start, t.v6Meta = slices.Clip(t.v6Start), slices.Clip(t.v6Meta)
	t.locs = slices.Clip(t.locs)
}

func sortPairs[K any](keys []K, meta []uint32, c func(a, b K) int) {
	if slices.IsSortedFunc(keys, c) {
		return
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return c(keys[a], keys[b]) })
	k2, m2 := make([]K, len(keys)), make([]uint32, len(meta))
	for i, j := range idx {
		k2[i], m2[i] = keys[j], meta[j]
	}
	copy(keys, k2)
	copy(meta, m2)
}

// locate answers a (unmapped, no zone) from the table; handled is false
// when the tree must answer.
func (t *rangeTable) locate(a netip.Addr) (loc Location, ok, handled bool) {
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		i := upper(t.v4Start, x) - 1
		if i < 0 {
			return Location{}, false, true
		}
		bits := int(t.v4Meta[i] & 0xff)
		if uint64(x-t.v4Start[i]) >= uint64(1)<<(32-bits) {
			return Location{}, false, true
		}
		loc = t.locs[t.v4Meta[i]>>8]
		loc.Network = netip.PrefixFrom(netip.AddrFrom4(nth4(t.v4Start[i])), bits)
		return loc, true, true
	}
	for _, p := range aliases {
		if p.Contains(a) {
			return Location{}, false, false
		}
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if len(t.v6Long) > 0 {
		k := [2]uint64{hi, lo}
		i, _ := slices.BinarySearchFunc(t.v6Long, k, func(e, k [2]uint64) int {
			return cmp.Or(cmp.Compare(e[0], k[0]), cmp.Compare(e[1], k[1]))
		})
		if i < len(t.v6Long) && t.v6Long[i] == k {
			i++ // upper bound
		}
		if i--; i >= 0 && t.v6Long[i][0] == hi {
			bits := int(t.v6LongMt[i] & 0xff)
			if lo-t.v6Long[i][1] < uint64(1)<<(128-bits) {
				loc = t.locs[t.v6LongMt[i]>>8]
				loc.Network = netip.PrefixFrom(addr16(t.v6Long[i][0], t.v6Long[i][1]), bits)
				return loc, true, true
			}
		}
	}
	i := upper(t.v6Start, hi) - 1
	if i < 0 {
		return Location{}, false, true
	}
	bits := int(t.v6Meta[i] & 0xff)
	if bits > 0 && hi-t.v6Start[i] >= uint64(1)<<(64-bits) {
		return Location{}, false, true
	}
	loc = t.locs[t.v6Meta[i]>>8]
	loc.Network = netip.PrefixFrom(addr16(t.v6Start[i], 0), bits)
	return loc, true, true
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
	n := 4*(len(t.v4Start)+len(t.v4Meta)) + 8*len(t.v6Start) + 4*len(t.v6Meta) + 20*len(t.v6Long)
	const locSize = 112 // unsafe.Sizeof(Location{}) on 64-bit
	return n + locSize*len(t.locs)
}
