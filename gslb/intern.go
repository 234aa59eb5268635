package gslb

// InternName looks up an owner name given as the lower-case FQDN bytes
// of its presentation form ("app.gslb.test."), without allocating. It
// returns the Snapshot's own copy of the name, to pass to Answer in place
// of a string built from a reused buffer, and whether the name is a write
// name (whose answers depend on cluster decisions that a fast path must
// leave to the full one). ok is false for a name that owns nothing: an
// NXDOMAIN, a name below a delegation, whoami, or outside our zones.
func (s *Snapshot) InternName(b []byte) (name string, write, ok bool) {
	for _, z := range s.c.zones {
		if n := z.nodes[string(b)]; n != nil {
			return n.name, n.gslb != nil && n.gslb.write, true
		}
	}
	return "", false, false
}
