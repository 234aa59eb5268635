package dns

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// DefaultAnswerMetricNames bounds the name label of
// gslbd_dns_gslb_answers_total when Options.AnswerMetricNames is 0.
const DefaultAnswerMetricNames = 1000

// Name labels used instead of a GSLB name in gslbd_dns_gslb_answers_total.
const (
	// answerNameOther counts the names past the limit.
	answerNameOther = "other"
	// answerNameAll counts every name when per-name series are off.
	answerNameAll = "all"
)

// maxSeenSlots bounds the admitted-name filter; a larger limit goes
// without it (every answer then asks known).
const maxSeenSlots = 1 << 21

// nameSeries bounds the cardinality of the per-name answer counter: a node
// serving 100k names would otherwise export up to 100k × regions series.
// The first limit distinct names answered get their own series; later
// ones share "other". With per-name series off, every answer counts under
// "all", so the series by region remain.
//
// Once the limit is reached, most answers are for names past it. Asking
// known about each of them walks a map as large as the limit, cold in
// the CPU caches when names are queried at random (issue 15's random
// mix), so seen, a small open-addressed array of the admitted names'
// hashes, answers "not admitted" first; a name whose hash is there (an
// admitted one, or rarely a collision) is looked up in known.
type nameSeries struct {
	limit int64 // < 0: off
	n     atomic.Int64
	known sync.Map // name -> struct{}
	seed  maphash.Seed
	seen  []atomic.Uint64 // hash|1 of every name that tried admission; 0: free
}

// newNameSeries: limit 0 is DefaultAnswerMetricNames, negative is off.
func newNameSeries(limit int) *nameSeries {
	if limit == 0 {
		limit = DefaultAnswerMetricNames
	}
	s := &nameSeries{limit: int64(limit), seed: maphash.MakeSeed()}
	// Twice the admissions at most (a failed one may leave its hash):
	// the array stays at most half full, so probes stay short.
	if slots := 1 << bits.Len(uint(4*max(limit, 1))); limit > 0 && slots <= maxSeenSlots {
		s.seen = make([]atomic.Uint64, slots)
	}
	return s
}

// label returns the name label to count an answer for name under.
func (s *nameSeries) label(name string) string {
	if s.limit < 0 {
		return answerNameAll
	}
	var h uint64
	if s.seen != nil {
		h = maphash.String(s.seed, name) | 1
		if s.n.Load() >= s.limit && !s.maybeSeen(h) {
			return answerNameOther
		}
	}
	if _, ok := s.known.Load(name); ok {
		return name
	}
	if s.seen != nil {
		// Marked before the reservation: whoever sees the reservation
		// in n sees the mark.
		s.mark(h)
	}
	// Reserve a slot first, so concurrent first answers never admit more
	// than limit names.
	if s.n.Add(1) > s.limit {
		s.n.Add(-1)
		return answerNameOther
	}
	if _, loaded := s.known.LoadOrStore(name, struct{}{}); loaded {
		s.n.Add(-1) // another query admitted it meanwhile
	}
	return name
}

// maybeSeen reports whether h was marked (false: the name was never
// admitted).
func (s *nameSeries) maybeSeen(h uint64) bool {
	mask := uint64(len(s.seen) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.seen[i].Load() {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// mark adds h to seen. Marks are attempted at most twice per admitted
// name plus once per name that lost a race for the last slot, far under
// the array's size, so a free slot is always found.
func (s *nameSeries) mark(h uint64) {
	mask := uint64(len(s.seen) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.seen[i].Load()
		if v == h || (v == 0 && s.seen[i].CompareAndSwap(0, h)) || s.seen[i].Load() == h {
			return
		}
	}
}
