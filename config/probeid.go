package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/url"
	"slices"
	"strconv"
)

// ProbeID names the probe target of an endpoint with liveness probe l and
// readiness source r (either may be nil): endpoints whose probes are
// identical get the same ID, so one prober and one gossiped observation
// serve all of them, and every node derives the same ID from the same
// settings. It is "" when both are nil (an endpoint without probes is
// ready unless drained and needs no observation). The ID reads
// "<kind>:<host>#<hash>": the host says what is probed (never a path,
// user or password), the hash tells apart targets that differ in any
// other setting. A CA file counts by its path: its content is read later
// (Prepare), and health compares that itself before reusing a prober.
func ProbeID(l *Probe, r *Readiness) string {
	if l == nil && r == nil {
		return ""
	}
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
	prefix := ""
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
		prefix = l.Type + ":" + probeHost(l.URL, l.Address)
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
		if prefix == "" {
			prefix = r.Type + ":" + probeHost(r.URL, "")
		}
	}
	sum := sha256.Sum256(b)
	return prefix + "#" + hex.EncodeToString(sum[:6])
}

// probeHost is the host (and port) a probe talks to, for a readable ID.
func probeHost(rawURL, addr string) string {
	if addr != "" {
		if h, p, err := net.SplitHostPort(addr); err == nil {
			return net.JoinHostPort(h, p)
		}
		return strconv.Quote(addr)
	}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return ""
}
