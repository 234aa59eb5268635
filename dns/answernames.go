package dns

import (
	"hash/maphash"
	"math/bits"
	"runtime"
	"sync/atomic"
)

// DefaultAnswerMetricNames bounds the name label of
// gslbd_dns_gslb_answers_total when Options.AnswerMetricNames is 0.
const DefaultAnswerMetricNames = 1000

// maxAnswerMetricNames caps the limit: the admitted names' table is sized
// for it (16 bytes a slot, four slots a name), and a million names times
// their regions is far past any useful number of series.
const maxAnswerMetricNames = 1 << 20

// Name labels used instead of a GSLB name in gslbd_dns_gslb_answers_total.
const (
	// answerNameOther counts the names past the limit.
	answerNameOther = "other"
	// answerNameAll counts every name when per-name series are off.
	answerNameAll = "all"
)

// nameSeries bounds the cardinality of the per-name answer counter: a node
// serving 100k names would otherwise export up to 100k × regions series.
// The first limit distinct names answered get their own series; later
// ones share "other". With per-name series off, every answer counts under
// "all", so the series by region remain.
//
// It is asked on every GSLB answer, so the admitted names sit in an
// open-addressed table of (hash, name) slots that is only ever added to:
// a lookup is one hash of the name and, mostly, one slot, with no lock
// and no allocation. Once the limit is reached, most answers of a large
// config are for names past it, found absent at the first free slot.
type nameSeries struct {
	limit int64 // < 0: off
	n     atomic.Int64
	seed  maphash.Seed
	slots []nameSlot // a power of two, at least 4 × limit
}

// nameSlot is free while hash is 0; name is set right after hash is
// claimed.
type nameSlot struct {
	hash atomic.Uint64
	name atomic.Pointer[string]
}

// newNameSeries: limit 0 is DefaultAnswerMetricNames, negative is off.
func newNameSeries(limit int) *nameSeries {
	if limit == 0 {
		limit = DefaultAnswerMetricNames
	}
	limit = min(limit, maxAnswerMetricNames)
	s := &nameSeries{limit: int64(limit), seed: maphash.MakeSeed()}
	if limit > 0 {
		s.slots = make([]nameSlot, 1<<bits.Len(uint(4*limit)))
	}
	return s
}

// label returns the name label to count an answer for name under.
func (s *nameSeries) label(name string) string {
	if s.limit < 0 {
		return answerNameAll
	}
	h := maphash.String(s.seed, name) | 1 // 0 marks a free slot
	if s.admitted(h, name) {
		return name
	}
	if s.n.Load() >= s.limit {
		return answerNameOther
	}
	// Reserve a place first, so concurrent first answers never admit
	// more than limit names.
	if s.n.Add(1) > s.limit {
		s.n.Add(-1)
		return answerNameOther
	}
	if !s.admit(h, name) {
		s.n.Add(-1) // another query admitted it meanwhile
	}
	return name
}

// admitted reports whether name is in the table.
func (s *nameSeries) admitted(h uint64, name string) bool {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i].hash.Load() {
		case 0:
			return false
		case h:
			if p := s.slots[i].nameOf(); *p == name {
				return true
			}
		}
	}
}

// admit adds name; false when it was there already. At most limit names
// are added (the reservation in n), a quarter of the slots, so a free
// slot is always found.
func (s *nameSeries) admit(h uint64, name string) bool {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.hash.CompareAndSwap(0, h) {
			sl.name.Store(&name)
			return true
		}
		if sl.hash.Load() == h && *sl.nameOf() == name {
			return false
		}
	}
}

// nameOf waits out the moment between a slot's hash being claimed and its
// name being stored.
func (sl *nameSlot) nameOf() *string {
	for {
		if p := sl.name.Load(); p != nil {
			return p
		}
		runtime.Gosched()
	}
}
