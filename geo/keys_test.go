package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkSplitKeys requires splitKeys.last to agree with a binary search
// of the plain keys for every key, its neighbours and random values.
func checkSplitKeys[F uint32 | uint64, L uint16 | uint32](t *testing.T, keys []F, shift uint, random func() F) {
	t.Helper()
	slices.Sort(keys)
	keys = slices.Compact(keys)
	k := newSplitKeys[F, L](keys, shift)
	if k.len() != len(keys) {
		t.Fatalf("len %d, want %d", k.len(), len(keys))
	}
	probe := func(x F) {
		want := upper(keys, x) - 1
		i, key, ok := k.last(x)
		if ok != (want >= 0) || ok && (i != want || key != keys[want]) {
			t.Fatalf("last(%#x) = %d %#x %v, want %d", x, i, key, ok, want)
		}
	}
	for _, x := range keys {
		probe(x)
		probe(x - 1) // wraps at 0: the largest value
		probe(x + 1)
	}
	probe(0)
	probe(^F(0))
	for range 10000 {
		probe(random())
	}
}

func TestSplitKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// Clustered keys (a few tops, many lows), scattered ones (one key per
	// top), and the extremes.
	v4 := []uint32{0, 1, math.MaxUint32, 0xffff, 0x10000}
	for range 3000 {
		v4 = append(v4, uint32(r.IntN(8))<<16|uint32(r.IntN(1<<16)), r.Uint32())
	}
	checkSplitKeys[uint32, uint16](t, v4, 16, func() uint32 {
		if r.IntN(2) == 0 {
			return uint32(r.IntN(9)) << 16
		}
		return r.Uint32()
	})
	v6 := []uint64{0, math.MaxUint64, 1 << 32, 1<<32 - 1}
	for range 3000 {
		v6 = append(v6, 0x2a00_0000_0000_0000|uint64(r.IntN(8))<<32|uint64(r.Uint32()), r.Uint64())
	}
	checkSplitKeys[uint64, uint32](t, v6, 32, func() uint64 {
		if r.IntN(2) == 0 {
			return 0x2a00_0000_0000_0000 | uint64(r.IntN(9))<<32 | uint64(r.Uint32())
		}
		return r.Uint64()
	})
	checkSplitKeys[uint32, uint16](t, nil, 16, r.Uint32)
	checkSplitKeys[uint32, uint16](t, []uint32{0x50000}, 16, r.Uint32)
}
