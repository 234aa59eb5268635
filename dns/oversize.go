package dns

import (
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// tcpTooLarge handles a TCP reply that Truncate had to cut to 65,535
// bytes. Over TCP there is no larger size to retry with, and a client
// takes the records it got for the whole RRset: so a reply that lost
// answer or authority records becomes SERVFAIL; one that lost only
// additional records (glue the client can look up) goes out, without TC.
func (h *handler) tcpTooLarge(req, resp *mdns.Msg, nAns, nNs int) *mdns.Msg {
	if len(resp.Answer) == nAns && len(resp.Ns) == nNs {
		resp.Truncated = false
		return resp
	}
	h.m.oversize.Inc()
	name := ""
	if len(req.Question) == 1 {
		name = req.Question[0].Name
	}
	h.log.Warn("dns reply over 65535 bytes answered SERVFAIL", zap.String("name", name),
		zap.Int("answer_records", nAns), zap.Int("authority_records", nNs))
	out := reply(req, mdns.RcodeServerFailure)
	out.Extra = keepOPT(resp.Extra)
	return out
}

// newOversizeCounter makes gslbd_dns_tcp_oversize_total, created with the
// package's other metrics.
func newOversizeCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gslbd_dns_tcp_oversize_total",
		Help: "TCP replies whose answer did not fit in 65,535 bytes, answered SERVFAIL instead of a partial RRset.",
	})
	if reg == nil {
		return c
	}
	return register(reg, c)
}
