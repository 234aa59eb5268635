package dns

import (
	"errors"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the package's Prometheus collectors. They are created per
// Server/handler and registered on the Registerer given in Options.
type metrics struct {
	queries   *prometheus.CounterVec // proto, qtype, rcode
	answers   *prometheus.CounterVec // name, region
	duration  prometheus.Histogram
	dropped   *prometheus.CounterVec // reason
	panics    prometheus.Counter
	truncated prometheus.Counter
	oversize  prometheus.Counter
}

// Reasons for gslbd_dns_dropped_total.
const (
	dropResponse = "response" // QR=1: answering could feed a reflection loop
	dropShort    = "short"    // shorter than a DNS header
	dropPack     = "pack"     // even the SERVFAIL reply could not be packed
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_dns_queries_total",
			Help: "DNS queries answered, by transport, query type and response code.",
		}, []string{"proto", "qtype", "rcode"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_dns_gslb_answers_total",
			Help: "GSLB answers by name and the region of the first endpoint answered.",
		}, []string{"name", "region"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gslbd_dns_answer_duration_seconds",
			Help:    "Time from a parsed query to its reply being written.",
			Buckets: []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05},
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_dns_dropped_total",
			Help: "Packets dropped without any reply, by reason.",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gslbd_dns_panics_total",
			Help: "Panics recovered in the query handler (each answered SERVFAIL).",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gslbd_dns_truncated_total",
			Help: "UDP replies truncated to the client's size (TC set).",
		}),
	}
	m.oversize = newOversizeCounter(reg)
	if reg == nil {
		return m
	}
	m.queries = register(reg, m.queries)
	m.answers = register(reg, m.answers)
	m.duration = register(reg, m.duration)
	m.dropped = register(reg, m.dropped)
	m.panics = register(reg, m.panics)
	m.truncated = register(reg, m.truncated)
	return m
}

// register registers c, or returns the collector already registered under
// the same name, so that NewServer and NewHandler may share a Registerer.
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

// qtypeLabels bounds the qtype label's cardinality: a type outside this
// set is counted as "other", so random query types cannot grow the series.
var qtypeLabels = func() map[uint16]string {
	m := map[uint16]string{}
	for _, t := range []uint16{
		mdns.TypeA, mdns.TypeAAAA, mdns.TypeCNAME, mdns.TypeNS, mdns.TypeSOA,
		mdns.TypeMX, mdns.TypeTXT, mdns.TypeSRV, mdns.TypeCAA, mdns.TypePTR,
		mdns.TypeANY, mdns.TypeAXFR, mdns.TypeIXFR, mdns.TypeDS, mdns.TypeDNSKEY,
		mdns.TypeHTTPS, mdns.TypeSVCB, mdns.TypeNULL,
	} {
		m[t] = mdns.TypeToString[t]
	}
	return m
}()

// qtypeLabel is the qtype label of a request ("none" without exactly one question).
func qtypeLabel(req *mdns.Msg) string {
	if len(req.Question) != 1 {
		return "none"
	}
	if l, ok := qtypeLabels[req.Question[0].Qtype]; ok {
		return l
	}
	return "other"
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
