package dns

import (
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

// nameSeries bounds the cardinality of the per-name answer counter: a node
// serving 100k names would otherwise export up to 100k × regions series.
// The first limit distinct names answered get their own series; later
// ones share "other". With per-name series off, every answer counts under
// "all", so the series by region remain.
type nameSeries struct {
	limit int64 // < 0: off
	n     atomic.Int64
	known sync.Map // name -> struct{}
}

// newNameSeries: limit 0 is DefaultAnswerMetricNames, negative is off.
func newNameSeries(limit int) *nameSeries {
	if limit == 0 {
		limit = DefaultAnswerMetricNames
	}
	return &nameSeries{limit: int64(limit)}
}

// label returns the name label to count an answer for name under.
func (s *nameSeries) label(name string) string {
	if s.limit < 0 {
		return answerNameAll
	}
	if _, ok := s.known.Load(name); ok {
		return name
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
