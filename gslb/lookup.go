package gslb

// Name lookup: a question name is found with one map probe. The zone is
// chosen by suffix (there are few zones), the owner by one lookup in the
// zone's nodes, and the zone cut above it was linked to every node when
// the zone was compiled, so a query no longer looks up each of its
// ancestors. Lookup works on the bytes a wire parser produced, so the UDP
// fast path finds a name, checks it and answers it without building a
// string (an NXDOMAIN allocates nothing) and without a second lookup.

// Owner is a question name found in one Snapshot by Lookup, to answer
// with AnswerOwner. It holds no reference to the name it was found from.
// The zero Owner is a name outside every zone of ours.
type Owner struct {
	z *zone // longest apex containing the name; nil: not ours
	n *node // nil: the zone has no such owner
	// cut is the highest zone cut at or above the name (below the apex).
	cut    *node
	whoami bool // the name is the zone's whoami name and owns nothing
}

// Lookup finds a question name given as the lower-case FQDN bytes of its
// presentation form ("app.gslb.test."), without allocating and without
// keeping name.
func (s *Snapshot) Lookup(name []byte) Owner { return find(s.c, name) }

// Write reports whether o is a write name, whose answers follow cluster
// decisions (quorum, terms).
func (o Owner) Write() bool { return o.n != nil && o.n.gslb != nil && o.n.gslb.write }

// AnswerOwner is Answer for a name found by Lookup.
func (s *Snapshot) AnswerOwner(o Owner, qt uint16, c Client) (Answer, error) {
	if o.z == nil {
		return Answer{}, ErrNotAuthoritative
	}
	if qt == typeAXFR || qt == typeIXFR {
		return Answer{Zone: o.z.apex}, ErrRefused
	}
	var l located
	return s.resolve(o, qt, c, &l)
}

// find is Lookup for a name as a string (Answer, CNAME targets) or as
// bytes (the fast path); both forms compile to code that converts
// nothing.
func find[S ~string | ~[]byte](c *compiled, name S) Owner {
	for _, z := range c.zones { // longest apex first
		if !inZone(name, z.apex) {
			continue
		}
		o := Owner{z: z, n: z.nodes[string(name)]}
		if o.n != nil {
			o.cut = o.n.cut
			return o
		}
		o.whoami = string(name) == z.whoami
		if z.hasCuts {
			// Every ancestor of a node exists (compile adds empty
			// non-terminals), so the first ancestor that exists has
			// every cut above the name linked.
			for p := name; len(p) > len(z.apex); {
				i := labelEnd(p)
				if i < 0 {
					break
				}
				p = p[i+1:]
				if a := z.nodes[string(p)]; a != nil {
					o.cut = a.cut
					break
				}
			}
		}
		return o
	}
	return Owner{}
}

// linkCuts sets every node's cut: the highest delegation at or above it
// (below the apex). Zones without delegations, the usual case, cost one
// pass over their nodes.
func (z *zone) linkCuts() {
	for _, n := range z.nodes {
		if n.deleg {
			z.hasCuts = true
			break
		}
	}
	if !z.hasCuts {
		return
	}
	for _, n := range z.nodes {
		for p := n.name; len(p) > len(z.apex); {
			if a := z.nodes[p]; a != nil && a.deleg {
				n.cut = a // keeps the highest: the walk goes up
			}
			i := labelEnd(p)
			if i < 0 {
				break
			}
			p = p[i+1:]
		}
	}
}

// inZone reports whether name is apex or below it. Both are lower-case
// FQDNs in presentation format.
func inZone[S ~string | ~[]byte](name S, apex string) bool {
	if apex == "." {
		return true
	}
	if len(name) < len(apex) || string(name[len(name)-len(apex):]) != apex {
		return false
	}
	if len(name) == len(apex) {
		return true
	}
	k := len(name) - len(apex) - 1
	if name[k] != '.' {
		return false
	}
	// An escape consumes the character right after its backslash (a
	// \DDD escape consumes digits), so only a dot right after a backslash
	// may be escaped ("x\\.apex" is one label under apex's parent) and
	// needs the real label boundaries walked.
	if k == 0 || name[k-1] != '\\' {
		return true
	}
	for p := name; ; {
		i := labelEnd(p)
		if i < 0 || i == len(p)-1 {
			return false
		}
		if p = p[i+1:]; len(p) <= len(apex) {
			return len(p) == len(apex)
		}
	}
}

// labelEnd returns the index of the dot that ends name's first label, or
// -1. A dot escaped in presentation format ("a\.b" is one label) is not a
// label boundary; a \DDD escape has no dot to confuse.
func labelEnd[S ~string | ~[]byte](name S) int {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			return i
		}
	}
	return -1
}
