package gslb

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gslbd/gslbd/geo"
)

var typeNames = map[uint16]string{
	TypeA: "A", TypeNS: "NS", TypeCNAME: "CNAME", TypeSOA: "SOA", TypeMX: "MX", TypeTXT: "TXT",
	TypeAAAA: "AAAA", TypeSRV: "SRV", TypeCAA: "CAA", TypeANY: "ANY", typeAXFR: "AXFR", typeIXFR: "IXFR",
}

// TypeString returns the mnemonic of a query type ("A", "TYPE65" if unknown).
func TypeString(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// Explain returns the decision Answer would make for a GSLB name, with
// reasons. It never fails; problems are in Explanation.Error. For a name
// that is not a GSLB name it reports the static answer.
func (s *Snapshot) Explain(name string, qtype uint16, c Client) Explanation {
	n := lowerFQDN(name)
	g := s.c.byName[n]
	if g == nil {
		ex := Explanation{Name: n, Type: TypeString(qtype), Client: clientString(c), ECS: c.ECS}
		a, err := s.Answer(Question{Name: n, Type: qtype}, c)
		ex.Reasons = append(ex.Reasons, "not a GSLB name: answered from the zone's records")
		if err != nil {
			ex.Error = err.Error()
		}
		for _, r := range a.Answer {
			ex.Answer = append(ex.Answer, rdataString(r))
			ex.TTL = r.TTL
		}
		ex.Scope = a.Scope
		return ex
	}
	var loc geo.Location
	ok := false
	if c.Addr.IsValid() {
		loc, ok = s.loc.Locate(c.Addr)
	}
	ex := s.explain(g, qtype, c, &loc, ok)
	return ex
}

func clientString(c Client) string {
	if !c.Addr.IsValid() {
		return ""
	}
	return c.Addr.String() + "/" + strconv.Itoa(c.SourcePrefix)
}

func rdataString(r Record) string {
	switch r.Type {
	case TypeCAA, TypeTXT, TypeSOA:
		if r.Data.Rare == nil {
			return ""
		}
	}
	switch r.Type {
	case TypeA, TypeAAAA:
		return r.Data.Addr.String()
	case TypeCNAME, TypeNS:
		return r.Data.Target
	case TypeMX:
		return fmt.Sprintf("%d %s", r.Data.Pref, r.Data.Target)
	case TypeSRV:
		return fmt.Sprintf("%d %d %d %s", r.Data.Priority, r.Data.Weight, r.Data.Port, r.Data.Target)
	case TypeCAA:
		return fmt.Sprintf("%d %s %q", r.Data.Flag, r.Data.Tag, r.Data.Value)
	case TypeTXT:
		return fmt.Sprintf("%q", r.Data.Text)
	case TypeSOA:
		return fmt.Sprintf("%s %s %d", r.Data.MName, r.Data.RName, r.Data.Serial)
	}
	return ""
}

// explain runs decide with a trace and turns it into an Explanation.
func (s *Snapshot) explain(g *gname, qtype uint16, c Client, loc *geo.Location, located bool) Explanation {
	ex := Explanation{
		Name: g.fqdn, Type: TypeString(qtype), Client: clientString(c), ECS: c.ECS,
		Policy: g.policy.String(), Role: "read",
	}
	if g.write {
		ex.Role = "write"
	}
	if located {
		l := *loc
		ex.Location = &l
		ex.Reasons = append(ex.Reasons, "client "+describeLoc(loc))
	} else {
		ex.Reasons = append(ex.Reasons, "client not located: the name's default order applies")
	}
	fam, ok := g.family(qtype)
	if !ok {
		ex.Reasons = append(ex.Reasons, "a GSLB name has no "+TypeString(qtype)+" records: NODATA")
		ex.Error, ex.TTL = ErrNoData.Error(), g.zone.soaNeg[0].TTL
		for _, e := range g.eps {
			ex.Ranking = append(ex.Ranking, Ranked{ID: e.id, Region: e.region, State: s.epState(e).state, Skipped: "negative answer"})
		}
		return ex
	}
	tr := &trace{}
	d, chosenIdx := s.decide(g, fam, c, loc, located, nil, tr)
	ex.Reasons = append(ex.Reasons, tr.reasons...)
	ex.Scope, ex.TTL = d.scope, d.ttl
	if d.err != nil {
		ex.Error = d.err.Error()
		if errors.Is(d.err, ErrNoData) {
			neg := g.zone.soaNeg
			if d.neg != nil {
				neg = d.neg
			}
			ex.TTL = neg[0].TTL
		}
	}
	chosen := make(map[int]bool, len(chosenIdx))
	for _, i := range chosenIdx {
		chosen[i] = true
	}
	listed := make(map[int]bool, len(g.eps))
	add := func(i int) {
		if listed[i] {
			return
		}
		listed[i] = true
		e := g.eps[i]
		r := Ranked{ID: e.id, Region: e.region, State: s.epState(e).state, Chosen: chosen[i]}
		if tr.dist[i] >= 0 {
			r.DistanceKM = tr.dist[i]
		}
		if !r.Chosen {
			r.Skipped = tr.skip[i]
			if r.Skipped == "" {
				r.Skipped = "not chosen"
			}
			if d.err != nil && r.Skipped == "not chosen" {
				r.Skipped = "negative answer"
			}
		}
		ex.Ranking = append(ex.Ranking, r)
	}
	for _, i := range chosenIdx {
		add(i)
	}
	for _, i := range tr.rank {
		add(i)
	}
	for i := range g.eps {
		add(i)
	}
	for _, i := range chosenIdx {
		e := g.eps[i]
		switch {
		case e.target != "":
			ex.Answer = append(ex.Answer, e.target)
		default:
			for f, recs := range e.alone {
				if (fam == fam4 && f == 1) || (fam == fam6 && f == 0) {
					continue
				}
				for _, r := range recs {
					ex.Answer = append(ex.Answer, r.Data.Addr.String())
				}
			}
		}
		if e.target != "" {
			break // a CNAME answer holds one target
		}
	}
	return ex
}
