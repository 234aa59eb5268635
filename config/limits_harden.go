package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxConnCap bounds each listener's configured connection cap: far above
// any sane setting, low enough that a typo (an extra zero or three) is
// caught here rather than by the descriptor limit.
const maxConnCap = 1 << 20

// harden checks the settings that bound what unauthenticated peers can
// make a node hold: connection caps, the HTTP Host allow-list and TLS
// files, and the gossip source allow-list.
func (k *checker) harden() {
	l := &k.c.Listen
	mc := &l.MaxConns
	for _, c := range []struct {
		name       string
		total, per int
	}{
		{"dns", mc.DNS, mc.DNSPerSource},
		{"http", mc.HTTP, mc.HTTPPerSource},
		{"gossip", mc.Gossip, mc.GossipPerSource},
	} {
		path := "listen.max_conns." + c.name
		for _, v := range []struct {
			path string
			n    int
		}{{path, c.total}, {path + "_per_source", c.per}} {
			if v.n < 0 || v.n > maxConnCap {
				k.p.add(v.path, "must be between 0 (derived from the file-descriptor limit) and %d, got %d", maxConnCap, v.n)
			}
		}
		if c.total > 0 && c.per > c.total {
			k.p.add(path+"_per_source", "%d is more than the total cap %d", c.per, c.total)
		}
	}

	for i, h := range l.HTTPHosts {
		path := fmt.Sprintf("listen.http_hosts[%d]", i)
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if err := hostName(h); err != nil {
			k.p.add(path, "%v", err)
		}
		l.HTTPHosts[i] = h
	}

	t := &l.HTTPTLS
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "" || t.KeyFile == "":
		k.p.add("listen.http_tls", "cert_file and key_file go together")
	case l.HTTP == "":
		k.p.add("listen.http_tls", "set, but the HTTP listener is off")
	}

	cl := &k.c.Cluster
	for i, a := range cl.Allow {
		path := fmt.Sprintf("cluster.allow[%d]", i)
		p, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			k.p.add(path, "want a network such as 10.0.0.0/8: %v", err)
			continue
		}
		if p.Masked() != p {
			k.p.add(path, "%s has host bits set; the network is %s", a, p.Masked())
			continue
		}
		cl.Allow[i] = p.String()
	}
	if len(cl.Allow) > 0 && cl.Bind != "" {
		k.selfAllowed(cl)
	}
}

// selfAllowed checks that peers with the same allow-list accept this
// node: its advertised address must be a specific IP inside the list.
func (k *checker) selfAllowed(cl *Cluster) {
	addr := cl.Advertise
	if addr == "" {
		addr = cl.Bind
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return // reported by the cluster checks
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		k.p.add("cluster.allow", "needs cluster.advertise (or cluster.bind) to be this node's IP address, to check that peers accept it")
		return
	}
	ip = ip.Unmap()
	for _, a := range cl.Allow {
		if p, err := netip.ParsePrefix(a); err == nil && p.Contains(ip) {
			return
		}
	}
	k.p.add("cluster.allow", "does not contain this node's address %s: peers with the same list would refuse it", ip)
}

// hostName accepts a DNS host name (no port, no trailing dot) for the
// HTTP Host allow-list.
func hostName(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name longer than 253 bytes")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host name %q: empty or over-long label", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("host name %q: character %q (no ports, no wildcards)", h, r)
			}
		}
	}
	return nil
}
