package config

import (
	"encoding/binary"
	"slices"
)

// AssignProbeIDs sets every endpoint's ProbeID (Parse and Prepare do;
// call it again after changing a parsed config's probe settings): endpoints whose liveness
// probe and readiness source are identical share one probe target, named
// by the ID of the first of them in config order, so one prober and one
// gossiped observation serve all of them. The ID depends on which
// endpoints probe alike, not on the probe settings themselves: nodes
// whose configs differ only in per-node probe details (a query string
// naming the node) still agree on every target. Endpoints without probes
// get "": they are ready unless drained and need no observation.
//
// Endpoints of one target also share the first one's Probe and Readiness
// values (they are equal): 100k names over a few targets keep a few
// probe settings in memory, not one copy per endpoint.
func (c *Config) AssignProbeIDs() {
	first := map[string]*Endpoint{}
	for _, e := range c.AllEndpoints() {
		if e.Liveness == nil && e.Readiness == nil {
			e.ProbeID = ""
			continue
		}
		key := string(probeKey(e.Liveness, e.Readiness))
		f, ok := first[key]
		if !ok {
			first[key] = e
			e.ProbeID = e.ID
			continue
		}
		e.ProbeID, e.Liveness, e.Readiness = f.ID, f.Liveness, f.Readiness
	}
}

// probeKey encodes every setting of a liveness probe l and a readiness
// source r (either may be nil) that changes what is probed or how:
// equal keys probe alike. A CA file counts by its path: its content is
// read later (Prepare), and health compares that itself before reusing a
// prober.
func probeKey(l *Probe, r *Readiness) []byte {
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(v int64) { b = binary.AppendVarint(b, v) }
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	if l != nil {
		b = append(b, 'L')
		str(l.Type)
		str(l.URL)
		str(l.Address)
		str(l.Method)
		str(l.Host)
		num(int64(len(l.ExpectStatus)))
		for _, s := range l.ExpectStatus {
			num(int64(s))
		}
		str(l.BodyContains)
		flag(l.TLSSkipVerify)
		str(l.CAFile)
		num(int64(l.Interval))
		num(int64(l.Timeout))
		num(int64(l.Rise))
		num(int64(l.Fall))
		num(int64(l.FastInterval))
	}
	if r != nil {
		b = append(b, 'R')
		str(r.Type)
		str(r.URL)
		str(r.Field)
		str(r.Metric)
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		num(int64(len(keys)))
		for _, k := range keys {
			str(k)
			str(r.Labels[k])
		}
		str(r.DSN)
		num(int64(r.MaxLag))
		num(int64(r.Hold))
		num(int64(r.Interval))
		num(int64(r.Timeout))
		flag(r.TLSSkipVerify)
		str(r.CAFile)
	}
	return b
}
