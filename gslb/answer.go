package gslb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gslbd/gslbd/geo"
)

// Query types with special handling: DS at a cut, and the transfers we refuse.
const (
	typeDS   uint16 = 43
	typeIXFR uint16 = 251
	typeAXFR uint16 = 252
)

// maxChase bounds how many CNAMEs one answer follows, so a loop in the
// config (or between zones) ends.
const maxChase = 8

// lowerFQDN lower-cases name and adds the trailing dot; it allocates only
// when it has to change something.
func lowerFQDN(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			name = strings.ToLower(name)
			break
		}
	}
	if name == "" || name[len(name)-1] != '.' {
		name += "."
	}
	return name
}

// located finds the client's location at most once per Answer.
type located struct {
	done, ok bool
	loc      geo.Location
}

func (l *located) get(s *Snapshot, c Client) (*geo.Location, bool) {
	if !l.done {
		l.done = true
		if c.Addr.IsValid() {
			l.ok = s.loc.LocateTo(c.Addr, &l.loc)
		}
	}
	return &l.loc, l.ok
}

// Answer answers one question for one client. See the sentinel errors.
//
// The slices of the returned Answer may share the Snapshot's memory:
// callers must not modify them. On ErrNoSuchName and ErrNoData the
// Authority holds the SOA whose TTL (and, for a fenced client under
// residency fail closed, minimum) is the negative-caching TTL; a CNAME
// chain that ends in a negative answer is in Answer with the target
// zone's SOA.
func (s *Snapshot) Answer(q Question, c Client) (Answer, error) {
	return s.AnswerOwner(find(s.c, lowerFQDN(q.Name)), q.Type, c)
}

func (s *Snapshot) resolve(o Owner, qt uint16, c Client, l *located) (Answer, error) {
	z := o.z
	a := Answer{Zone: z.apex, Authoritative: true}
	for hop := 0; ; hop++ {
		// DS at a zone cut is the parent's data (RFC 4035 §3.1.4.1), so
		// it is answered here rather than referred.
		if d := o.cut; d != nil && !(qt == typeDS && hop == 0 && d == o.n) {
			if hop > 0 {
				// The chain leads below a zone cut: the resolver follows
				// the CNAME itself.
				return a, nil
			}
			return Answer{Zone: z.apex, Authority: d.get(TypeNS), Additional: d.glue}, nil
		}
		n := o.n
		if n == nil {
			if o.whoami {
				return s.whoami(a, z, z.whoami, qt, c, l)
			}
			a.Authority = z.soaNeg
			return a, ErrNoSuchName
		}
		var target string
		switch {
		case n.gslb != nil:
			var done bool
			var err error
			a, done, err = s.answerGSLB(a, n.gslb, qt, c, l)
			if done || err != nil {
				return a, err
			}
			target = a.Answer[len(a.Answer)-1].Data.Target
		default:
			if cn := n.get(TypeCNAME); cn != nil && qt != TypeCNAME {
				a.Answer = append(a.Answer, cn[0])
				target = cn[0].Data.Target
				break
			}
			var recs []Record
			if qt == TypeANY {
				if len(n.rrsets) > 0 {
					recs = n.rrsets[0].recs // RFC 8482: one RRset, not all
				}
			} else {
				recs = n.get(qt)
			}
			if recs == nil {
				a.Authority = z.soaNeg
				return a, ErrNoData
			}
			if a.Answer == nil {
				a.Answer = recs
			} else {
				a.Answer = append(a.Answer, recs...)
			}
			if qt == TypeNS && n.name == z.apex {
				a.Additional = z.glue
			}
			return a, nil
		}
		// Follow the CNAME when the target is ours.
		if hop+1 >= maxChase {
			return a, nil
		}
		if o = find(s.c, target); o.z == nil {
			return a, nil
		}
		z = o.z
	}
}

// answerGSLB appends a GSLB name's answer to a. done is false when the
// answer ends in a CNAME that the caller should follow.
func (s *Snapshot) answerGSLB(a Answer, g *gname, qt uint16, c Client, l *located) (Answer, bool, error) {
	fam, ok := g.family(qt)
	if !ok {
		a.Authority = g.zone.soaNeg
		return a, true, ErrNoData
	}
	var loc *geo.Location
	if g.byLocation {
		loc, ok = l.get(s, c)
	} else {
		loc = &geo.Location{}
	}
	var buf [inlineEPs]int
	d, chosen := s.decide(g, fam, c, loc, ok, buf[:0], nil)
	if d.err != nil {
		a.Authority = g.zone.soaNeg
		if d.neg != nil {
			a.Authority = d.neg
			a.Scope = max(a.Scope, d.scope)
		}
		return a, true, d.err
	}
	a.Scope = max(a.Scope, d.scope)
	a.GSLBName, a.Region = g.fqdn, g.eps[chosen[0]].region
	if e := g.eps[chosen[0]]; e.target != "" {
		a.Answer = append(a.Answer, Record{Name: g.fqdn, Type: TypeCNAME, TTL: d.ttl, Data: RData{Target: e.target}})
		return a, qt == TypeCNAME, nil
	}
	if len(chosen) == 1 && len(a.Answer) == 0 {
		f := 0
		if fam == fam6 {
			f = 1
		}
		// In transition the TTL is min_ttl, not the prebuilt records'.
		if pre := g.eps[chosen[0]].alone[f]; len(pre) > 0 && pre[0].TTL == d.ttl {
			a.Answer = pre // shared and clipped: see Answer
			return a, true, nil
		}
	}
	f := 0
	if fam == fam6 {
		f = 1
	}
	cnt := 0
	for _, i := range chosen {
		cnt += len(g.eps[i].alone[f])
	}
	out := make([]Record, len(a.Answer), len(a.Answer)+cnt)
	copy(out, a.Answer)
	for _, i := range chosen {
		for _, r := range g.eps[i].alone[f] {
			r.TTL = d.ttl
			out = append(out, r)
		}
	}
	a.Answer = out
	return a, true, nil
}

// family maps a query type to the endpoints that answer it; ok is false
// when the name has no data of that type (NODATA). Answer and Explain
// both use it. A name answered by a CNAME (target endpoints) is a CNAME
// for every type (RFC 1034 §3.6.2), so every type picks a target.
func (g *gname) family(qt uint16) (fam uint8, ok bool) {
	switch qt {
	case TypeA:
		return fam4, true
	case TypeAAAA:
		return fam6, true
	case TypeCNAME:
		return famTarget, true
	case TypeANY:
		for _, e := range g.eps {
			if e.serves(fam4) {
				return fam4, true
			}
		}
		return fam6, true
	}
	if g.hasTarget {
		return famTarget, true
	}
	return 0, false
}

// whoami answers TXT at whoami.<apex> (when not configured as a record)
// with what the server sees of the client, for operators using dig.
func (s *Snapshot) whoami(a Answer, z *zone, name string, qt uint16, c Client, l *located) (Answer, error) {
	if qt != TypeTXT && qt != TypeANY {
		a.Authority = z.soaNeg
		return a, ErrNoData
	}
	loc, ok := l.get(s, c)
	txt := []string{fmt.Sprintf("client %s/%d ecs=%t", c.Addr, c.SourcePrefix, c.ECS)}
	if ok {
		txt = append(txt, clip(describeLoc(loc)))
	} else {
		txt = append(txt, "location unknown")
	}
	if g := z.first; g != nil {
		ex := s.explain(g, TypeA, c, loc, ok)
		txt = append(txt, clip(fmt.Sprintf("name %s policy %s answer %s", g.fqdn, ex.Policy, strings.Join(ex.Answer, ","))))
		for i, r := range ex.Ranking {
			line := strconv.Itoa(i+1) + ". " + r.ID + " " + r.Region + " " + r.State.String()
			if r.DistanceKM > 0 {
				line += fmt.Sprintf(" %.0fkm", r.DistanceKM)
			}
			if r.Chosen {
				line += " chosen"
			} else if r.Skipped != "" {
				line += " (" + r.Skipped + ")"
			}
			txt = append(txt, clip(line))
		}
	}
	a.Answer = append(a.Answer, Record{Name: name, Type: TypeTXT, TTL: 0, Data: RData{Rare: &Rare{Text: txt}}})
	a.Scope = max(a.Scope, s.locScope(c, loc, ok))
	return a, nil
}

func describeLoc(loc *geo.Location) string {
	s := "location"
	if loc.Country != "" {
		s += " country " + loc.Country
	}
	if loc.Continent != "" {
		s += " continent " + loc.Continent
	}
	if loc.HasCoords {
		s += fmt.Sprintf(" at %.2f,%.2f", loc.Lat, loc.Lon)
	}
	if loc.Region != "" {
		s += " region " + loc.Region
	}
	return s + " network " + loc.Network.String() + " by " + loc.Source
}

// clip keeps a TXT character-string within its 255-byte limit.
func clip(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}
