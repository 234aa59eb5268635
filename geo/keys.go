package geo

import "unsafe"

// splitKeys holds an ascending list of keys (a table family's network
// starts) in about half their size: each key's low half per key, its
// high half once per run of keys that share it. Real databases' networks
// cluster: the country database's 475k IPv6 starts share 57k distinct
// first 32 bits, its 494k IPv4 starts 22k distinct first 16 bits.
//
// F is the key's type, L (half its size) holds a key's low half and a
// high half alike.
type splitKeys[F uint32 | uint64, L uint16 | uint32] struct {
	tops  []L      // distinct key >> shift, ascending
	first []uint32 // index in lows of each top's first key, then len(lows)
	lows  []L      // each key's low bits
	shift uint     // bits in L
}

// newSplitKeys splits keys, which must be ascending.
func newSplitKeys[F uint32 | uint64, L uint16 | uint32](keys []F, shift uint) splitKeys[F, L] {
	k := splitKeys[F, L]{lows: make([]L, len(keys)), shift: shift}
	n := 0
	for i, x := range keys {
		if i == 0 || x>>shift != keys[i-1]>>shift {
			n++
		}
	}
	k.tops, k.first = make([]L, 0, n), make([]uint32, 0, n+1)
	for i, x := range keys {
		if i == 0 || x>>shift != keys[i-1]>>shift {
			k.tops = append(k.tops, L(x>>shift))
			k.first = append(k.first, uint32(i))
		}
		k.lows[i] = L(x)
	}
	k.first = append(k.first, uint32(len(keys)))
	return k
}

func (k *splitKeys[F, L]) len() int { return len(k.lows) }

// last is the index and value of the last key at most x; ok is false
// when every key is greater.
func (k *splitKeys[F, L]) last(x F) (i int, key F, ok bool) {
	top := L(x >> k.shift)
	b := upper(k.tops, top) - 1
	if b < 0 {
		return 0, 0, false
	}
	lo, hi := int(k.first[b]), int(k.first[b+1])
	if k.tops[b] == top {
		// Keys of this top above x's low bits are after it.
		hi = lo + upper(k.lows[lo:hi], L(x))
	}
	if hi == lo {
		// Every key of x's own top is above x: the last key before
		// them is the previous top's last, if there is one.
		if b == 0 {
			return 0, 0, false
		}
		b--
	}
	i = hi - 1
	return i, F(k.tops[b])<<k.shift | F(k.lows[i]), true
}

// size is the memory the keys take, in bytes.
func (k *splitKeys[F, L]) size() int {
	var l L
	return (len(k.tops)+len(k.lows))*int(unsafe.Sizeof(l)) + 4*len(k.first)
}
