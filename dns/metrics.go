package dns

import (
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the package's Prometheus metrics. A query only adds to
// atomic counters in a shard (one per UDP worker, one shared by the other
// paths), with no label lookup and no lock; Collect sums the shards at
// scrape time. One *metrics is the Collector registered on the Registerer
// given in Options.
type metrics struct {
	descQueries, descAnswers, descDuration *prometheus.Desc
	descDropped, descPanics, descTruncated *prometheus.Desc

	// shared counts the full path (TCP, UDP fallbacks, the tests' handlers).
	shared *shard

	// oversize is a plain counter: TCP replies over 65,535 bytes are rare.
	oversize prometheus.Counter

	mu     sync.Mutex
	shards []*shard
}

// Reasons for gslbd_dns_dropped_total.
const (
	dropResponse = "response" // QR=1: answering could feed a reflection loop
	dropShort    = "short"    // shorter than a DNS header
	dropPack     = "pack"     // even the SERVFAIL reply could not be packed
)

// dropReasons indexes shard.dropped.
var dropReasons = [...]string{dropResponse, dropShort, dropPack}

func dropIndex(reason string) int {
	for i, r := range dropReasons {
		if r == reason {
			return i
		}
	}
	panic("dns: unknown drop reason " + reason)
}

var (
	dropResponseIdx = dropIndex(dropResponse)
	dropShortIdx    = dropIndex(dropShort)
	dropPackIdx     = dropIndex(dropPack)
)

// durationBuckets are gslbd_dns_answer_duration_seconds' upper bounds.
var durationBuckets = [...]float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05}

// durationBucketsNS are the same bounds in nanoseconds, for Observe.
var durationBucketsNS = func() [len(durationBuckets)]int64 {
	var out [len(durationBuckets)]int64
	for i, b := range durationBuckets {
		out[i] = int64(b * float64(time.Second))
	}
	return out
}()

// Label dimensions of gslbd_dns_queries_total as shard array sizes.
const (
	nProtos = 2
	// nRcodes: rcodes 0..31 by value; rcodeOther for anything larger.
	nRcodes    = 33
	rcodeOther = nRcodes - 1
)

// shard is one writer's counters. Writers only add; Collect reads. It is
// padded by its size alone: shards are separate allocations.
type shard struct {
	queries   [nProtos][nQtypeLabels][nRcodes]atomic.Uint64
	dropped   [len(dropReasons)]atomic.Uint64
	panics    atomic.Uint64
	truncated atomic.Uint64
	buckets   [len(durationBuckets) + 1]atomic.Uint64 // last: +Inf
	sumNS     atomic.Int64
	// answers maps a GSLB name and region to its counter. The map is
	// copied on a new key and never changed once published, so readers
	// need no lock; a key is new only once per name and region.
	answers atomic.Pointer[map[answerKey]*atomic.Uint64]
	// few holds the counters of fewLabels by region (copied on a new
	// region, as answers).
	few [len(fewLabels)]atomic.Pointer[[]regionCounter]
	// last is answerOwned's: only the shard's owner reads or writes it.
	last lastAnswer
}

type lastAnswer struct {
	name, region string
	c            *atomic.Uint64
}

type answerKey struct{ name, region string }

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		descQueries: prometheus.NewDesc("gslbd_dns_queries_total",
			"DNS queries answered, by transport, query type and response code.", []string{"proto", "qtype", "rcode"}, nil),
		descAnswers: prometheus.NewDesc("gslbd_dns_gslb_answers_total",
			"GSLB answers by name and the region of the first endpoint answered.", []string{"name", "region"}, nil),
		descDuration: prometheus.NewDesc("gslbd_dns_answer_duration_seconds",
			"Time from a parsed query to its reply being written.", nil, nil),
		descDropped: prometheus.NewDesc("gslbd_dns_dropped_total",
			"Packets dropped without any reply, by reason.", []string{"reason"}, nil),
		descPanics: prometheus.NewDesc("gslbd_dns_panics_total",
			"Panics recovered in the query handler (each answered SERVFAIL).", nil, nil),
		descTruncated: prometheus.NewDesc("gslbd_dns_truncated_total",
			"UDP replies truncated to the client's size (TC set).", nil, nil),
	}
	m.shared = m.newShard()
	m.oversize = newOversizeCounter(reg)
	if reg == nil {
		return m
	}
	return register(reg, m)
}

// newShard adds a shard that Collect sums from now on.
func (m *metrics) newShard() *shard {
	s := &shard{}
	m.mu.Lock()
	m.shards = append(m.shards, s)
	m.mu.Unlock()
	return s
}

// register registers c, or returns the collector already registered under
// the same names, so that NewServer and the tests' handlers may share a Registerer.
// Any other registration problem is a programming error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic("dns: registering metrics: " + err.Error())
}

var _ prometheus.Collector = (*metrics)(nil)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descQueries, m.descAnswers, m.descDuration, m.descDropped, m.descPanics, m.descTruncated} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it sums every shard. Series
// never counted are left out, as a CounterVec leaves them out.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	shards := append([]*shard(nil), m.shards...)
	m.mu.Unlock()

	type qkey struct{ proto, qtype, rcode string }
	queries := map[qkey]uint64{}
	answers := map[answerKey]uint64{}
	var dropped [len(dropReasons)]uint64
	var panics, truncated, count uint64
	var buckets [len(durationBuckets) + 1]uint64
	var sumNS int64
	for _, s := range shards {
		for p := range s.queries {
			for q := range s.queries[p] {
				for r := range s.queries[p][q] {
					if n := s.queries[p][q][r].Load(); n > 0 {
						queries[qkey{protoLabels[p], qtypeLabelNames[q], rcodeIndexLabel(r)}] += n
					}
				}
			}
		}
		if am := s.answers.Load(); am != nil {
			for k, c := range *am {
				answers[k] += c.Load()
			}
		}
		for i := range s.few {
			if p := s.few[i].Load(); p != nil {
				for _, rc := range *p {
					answers[answerKey{fewLabels[i], rc.region}] += rc.c.Load()
				}
			}
		}
		for i := range s.dropped {
			dropped[i] += s.dropped[i].Load()
		}
		panics += s.panics.Load()
		truncated += s.truncated.Load()
		for i := range s.buckets {
			buckets[i] += s.buckets[i].Load()
		}
		sumNS += s.sumNS.Load()
	}
	for k, n := range queries {
		ch <- prometheus.MustNewConstMetric(m.descQueries, prometheus.CounterValue, float64(n), k.proto, k.qtype, k.rcode)
	}
	for k, n := range answers {
		ch <- prometheus.MustNewConstMetric(m.descAnswers, prometheus.CounterValue, float64(n), k.name, k.region)
	}
	for i, n := range dropped {
		if n > 0 {
			ch <- prometheus.MustNewConstMetric(m.descDropped, prometheus.CounterValue, float64(n), dropReasons[i])
		}
	}
	ch <- prometheus.MustNewConstMetric(m.descPanics, prometheus.CounterValue, float64(panics))
	ch <- prometheus.MustNewConstMetric(m.descTruncated, prometheus.CounterValue, float64(truncated))
	cum := make(map[float64]uint64, len(durationBuckets))
	for i, b := range durationBuckets {
		count += buckets[i]
		cum[b] = count
	}
	count += buckets[len(durationBuckets)]
	ch <- prometheus.MustNewConstHistogram(m.descDuration, count, float64(sumNS)/float64(time.Second), cum)
}

// query counts one reply.
func (s *shard) query(proto int, qtype uint16, rcode int) {
	r := rcode
	if r < 0 || r >= rcodeOther {
		r = rcodeOther
	}
	s.queries[proto][qtypeIndex(qtype)][r].Add(1)
}

// queryNone counts a reply to a packet without exactly one question.
func (s *shard) queryNone(proto, rcode int) {
	r := rcode
	if r < 0 || r >= rcodeOther {
		r = rcodeOther
	}
	s.queries[proto][qtypeNone][r].Add(1)
}

// observe records one answer's duration.
func (s *shard) observe(d time.Duration) { s.observeN(d, 1) }

// observeN records n answers of duration d (a batch's fast replies): two
// atomic adds for the batch rather than two per reply.
func (s *shard) observeN(d time.Duration, n int) {
	ns := int64(d)
	i := 0
	for i < len(durationBucketsNS) && ns > durationBucketsNS[i] {
		i++
	}
	s.buckets[i].Add(uint64(n))
	s.sumNS.Add(ns * int64(n))
}

// answer counts a GSLB answer for name from region.
func (s *shard) answer(name, region string) { s.counter(name, region).Add(1) }

// counter returns the answers counter of name and region, adding it.
func (s *shard) counter(name, region string) *atomic.Uint64 {
	for i, l := range fewLabels {
		if name == l {
			return s.fewCounter(i, region)
		}
	}
	k := answerKey{name, region}
	for {
		p := s.answers.Load()
		if p != nil {
			if c := (*p)[k]; c != nil {
				return c
			}
		}
		next := map[answerKey]*atomic.Uint64{}
		if p != nil {
			next = maps.Clone(*p)
		}
		c := new(atomic.Uint64)
		next[k] = c
		if s.answers.CompareAndSwap(p, &next) {
			return c
		}
	}
}

// fewLabels are the name labels whose counters sit in shard.few: past the
// name limit (or with per-name series off) they take most answers.
var fewLabels = [...]string{answerNameOther, answerNameAll}

// regionCounter is one region's counter in shard.few.
type regionCounter struct {
	region string
	c      *atomic.Uint64
}

// fewCounter returns fewLabels[i]'s counter of region: a scan of a slice
// as long as the regions answered, cheaper than hashing a key into a map
// of every admitted name's series.
func (s *shard) fewCounter(i int, region string) *atomic.Uint64 {
	for {
		p := s.few[i].Load()
		if p != nil {
			for _, rc := range *p {
				if rc.region == region {
					return rc.c
				}
			}
		}
		var next []regionCounter
		if p != nil {
			next = append(next, *p...)
		}
		c := new(atomic.Uint64)
		next = append(next, regionCounter{region, c})
		if s.few[i].CompareAndSwap(p, &next) {
			return c
		}
	}
}

// answerOwned counts a GSLB answer of the GSLB name gslbName from region
// (labelled by names) for the one goroutine that owns the shard (a UDP
// worker): it remembers the last name and region's counter, so a run of
// answers for one name, the usual flood, skips the label and map
// lookups. A name keeps its label once it has one (but for a race at the
// limit, after which this worker may go on counting it as "other"), so
// the remembered counter stays right.
func (s *shard) answerOwned(names *nameSeries, gslbName, region string) {
	if l := &s.last; l.c != nil && l.name == gslbName && l.region == region {
		l.c.Add(1)
		return
	}
	c := s.counter(names.label(gslbName), region)
	c.Add(1)
	s.last = lastAnswer{gslbName, region, c}
}

// Indexes of shard.queries' first dimension.
const (
	protoUDPIdx = 0
	protoTCPIdx = 1
)

var protoLabels = [nProtos]string{protoUDPIdx: protoUDP, protoTCPIdx: protoTCP}

func protoIndex(proto string) int {
	if proto == protoTCP {
		return protoTCPIdx
	}
	return protoUDPIdx
}

// countedQtypes bounds the qtype label's cardinality: a type outside this
// set is counted as "other", so random query types cannot grow the series.
var countedQtypes = []uint16{
	mdns.TypeA, mdns.TypeAAAA, mdns.TypeCNAME, mdns.TypeNS, mdns.TypeSOA,
	mdns.TypeMX, mdns.TypeTXT, mdns.TypeSRV, mdns.TypeCAA, mdns.TypePTR,
	mdns.TypeANY, mdns.TypeAXFR, mdns.TypeIXFR, mdns.TypeDS, mdns.TypeDNSKEY,
	mdns.TypeHTTPS, mdns.TypeSVCB, mdns.TypeNULL,
}

// The qtype label's values by index: countedQtypes, then "other", "none".
const (
	nQtypeLabels = 20
	qtypeOther   = nQtypeLabels - 2
	qtypeNone    = nQtypeLabels - 1
)

var qtypeLabelNames = func() [nQtypeLabels]string {
	var out [nQtypeLabels]string
	for i, t := range countedQtypes {
		out[i] = mdns.TypeToString[t]
	}
	out[qtypeOther], out[qtypeNone] = "other", "none"
	return out
}()

// qtypeIndexes maps every type up to CAA (257) to its label index.
var qtypeIndexes = func() [mdns.TypeCAA + 1]uint8 {
	if len(countedQtypes) != qtypeOther {
		panic("dns: countedQtypes and nQtypeLabels disagree")
	}
	var out [mdns.TypeCAA + 1]uint8
	for i := range out {
		out[i] = qtypeOther
	}
	for i, t := range countedQtypes {
		out[t] = uint8(i)
	}
	return out
}()

func qtypeIndex(t uint16) int {
	if int(t) < len(qtypeIndexes) {
		return int(qtypeIndexes[t])
	}
	return qtypeOther
}

// count counts the reply to req.
func (s *shard) count(proto int, req *mdns.Msg, rcode int) {
	if len(req.Question) != 1 {
		s.queryNone(proto, rcode)
		return
	}
	s.query(proto, req.Question[0].Qtype, rcode)
}

// qtypeLabel is the qtype label of a request ("none" without exactly one question).
func qtypeLabel(req *mdns.Msg) string {
	if len(req.Question) != 1 {
		return qtypeLabelNames[qtypeNone]
	}
	return qtypeLabelNames[qtypeIndex(req.Question[0].Qtype)]
}

// rcodeIndexLabel names a rcode index of shard.queries.
func rcodeIndexLabel(i int) string {
	if i == rcodeOther {
		return "other"
	}
	return rcodeLabel(i)
}

// rcodeLabel names an (extended) rcode; miekg lists BADVERS as BADSIG.
func rcodeLabel(rcode int) string {
	if rcode == mdns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := mdns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}
