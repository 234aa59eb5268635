package geo

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// searchTree reads the search tree of an mmdb image node by node, the way
// maxminddb's Reader.Lookup walks it, for compileTable: only while a
// Database is opened, never on a lookup.
type searchTree struct {
	nodes      []byte // the tree section of the image
	nodeCount  uint
	recordSize uint // bits per record: 24, 28 or 32
	dataSize   uint // bytes of the data section
	ipv6       bool
}

// metadataMarker starts the metadata section (MaxMind DB format spec).
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

// dataSeparator is the size of the zero block between tree and data.
const dataSeparator = 16

// maxVisitsPerNode bounds the walk: a valid tree visits each node once,
// but a damaged one whose records point back up would be walked along
// every path, which can be exponentially many.
const maxVisitsPerNode = 4

func newSearchTree(r *maxminddb.Reader, data []byte) (*searchTree, error) {
	m := r.Metadata
	switch m.RecordSize {
	case 24, 28, 32:
	default:
		return nil, fmt.Errorf("unsupported record size %d", m.RecordSize)
	}
	// OpenBytes has checked that this product does not overflow and that
	// tree and separator end before the metadata.
	treeSize := m.NodeCount * (m.RecordSize / 4)
	end := bytes.LastIndex(data, metadataMarker)
	if end < 0 || treeSize+dataSeparator > uint(end) {
		return nil, errors.New("corrupt search tree: it overlaps the metadata")
	}
	return &searchTree{
		nodes:      data[:treeSize],
		nodeCount:  m.NodeCount,
		recordSize: m.RecordSize,
		dataSize:   uint(end) - treeSize - dataSeparator,
		ipv6:       m.IPVersion == 6,
	}, nil
}

// children reads node n's two records; n must be below nodeCount.
func (s *searchTree) children(n uint) (left, right uint) {
	switch s.recordSize {
	case 24:
		b := s.nodes[n*6 : n*6+6]
		left = uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2])
		right = uint(b[3])<<16 | uint(b[4])<<8 | uint(b[5])
	case 28:
		b := s.nodes[n*7 : n*7+7]
		left = uint(b[3]&0xf0)<<20 | uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2])
		right = uint(b[3]&0x0f)<<24 | uint(b[4])<<16 | uint(b[5])<<8 | uint(b[6])
	default:
		b := s.nodes[n*8 : n*8+8]
		left = uint(b[0])<<24 | uint(b[1])<<16 | uint(b[2])<<8 | uint(b[3])
		right = uint(b[4])<<24 | uint(b[5])<<16 | uint(b[6])<<8 | uint(b[7])
	}
	return left, right
}

// dataOffset is where in the data section the record ptr points to; a
// pointer outside it is corrupt, as Lookup and Networks report.
func (s *searchTree) dataOffset(ptr uint) (uint, error) {
	if ptr < s.nodeCount+dataSeparator || ptr-s.nodeCount-dataSeparator >= s.dataSize {
		return 0, errors.New("corrupt search tree: a record points outside the data section")
	}
	return ptr - s.nodeCount - dataSeparator, nil
}

// ipv4Start is the node an IPv6 tree's IPv4 subtree starts at: the end of
// the walk of ::'s first 96 bits, and how many bits that walk took (fewer
// than 96 when a record covers ::/96 and more).
func (s *searchTree) ipv4Start() (node uint, bits int) {
	for node < s.nodeCount && bits < 96 {
		node, _ = s.children(node)
		bits++
	}
	return node, bits
}

// walk calls leaf for every network of the tree that has a record (ptr is
// the record's pointer) and zone for every alias of the IPv4 subtree, in
// address order. Networks are in IPv6 terms: an IPv4-only tree is walked
// as if it were the ::/96 subtree of an IPv6 one. The aliases are the
// records outside ::/96 that point to the IPv4 subtree's root, and ::/96
// itself when the walk of :: reaches it: Lookup walks an address there
// on down the IPv4 subtree with the bits that follow.
func (s *searchTree) walk(leaf func(hi, lo uint64, bits int, ptr uint) error, zone func(hi, lo uint64, bits int)) error {
	type step struct {
		hi, lo uint64
		bits   int
		ptr    uint
	}
	start := step{}
	alias := s.nodeCount // no node: an IPv4-only tree has no aliases
	if s.ipv6 {
		node, bits := s.ipv4Start()
		if bits == 96 {
			zone(0, 0, 96)
		}
		if node < s.nodeCount && node != 0 {
			alias = node
		}
	} else {
		start.bits = 96
	}
	budget := maxVisitsPerNode*s.nodeCount + 128
	stack := make([]step, 0, 129)
	stack = append(stack, start)
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for {
			if st.ptr >= s.nodeCount {
				if st.ptr > s.nodeCount {
					if err := leaf(st.hi, st.lo, st.bits, st.ptr); err != nil {
						return err
					}
				}
				break
			}
			if st.ptr == alias && (st.hi != 0 || st.lo>>32 != 0) {
				zone(st.hi, st.lo, st.bits)
				break
			}
			if st.bits >= 128 {
				return fmt.Errorf("corrupt search tree: a path at %s is longer than 128 bits",
					netip.PrefixFrom(addr16(st.hi, st.lo), 128))
			}
			if budget == 0 {
				return fmt.Errorf("corrupt search tree: more than %d node visits for %d nodes", maxVisitsPerNode*s.nodeCount+128, s.nodeCount)
			}
			budget--
			left, right := s.children(st.ptr)
			r := step{hi: st.hi, lo: st.lo, bits: st.bits + 1, ptr: right}
			if st.bits < 64 {
				r.hi |= 1 << (63 - st.bits)
			} else {
				r.lo |= 1 << (127 - st.bits)
			}
			stack = append(stack, r)
			st.bits++
			st.ptr = left
		}
	}
	return nil
}
