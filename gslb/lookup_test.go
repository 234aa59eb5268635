package gslb

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refCut is the zone cut walk Answer did per query before cuts were
// linked at compile time: the highest delegation among the name and its
// ancestors below the apex.
func refCut(z *zone, name string) *node {
	var found *node
	for p := name; len(p) > len(z.apex); {
		if n := z.nodes[p]; n != nil && n.deleg {
			found = n
		}
		i := labelEnd(p)
		if i < 0 {
			break
		}
		p = p[i+1:]
	}
	return found
}

// lookupNames are every owner of the test zones plus names that own
// nothing: below a cut, below a deeper name, whoami, escapes, not ours.
func lookupNames(s *Snapshot) []string {
	var names []string
	for _, z := range s.c.zones {
		for n := range z.nodes {
			names = append(names, n, "nx."+n, "a.b."+n)
		}
	}
	slices.Sort(names)
	return append(names, "whoami.gslb.test.", `x\.sub.gslb.test.`, `sub\.gslb.test.`, "gslb.test.x.",
		"www.example.com.", ".", "test.", "deep.gslb.test.", "x.y.deep.gslb.test.")
}

// TestLookupMatchesWalk checks the linked cuts against the per-query walk
// they replace, and that Lookup's bytes and Answer's string find the same
// owner and give the same answer, for every type that treats cuts, the
// apex and whoami differently.
func TestLookupMatchesWalk(t *testing.T) {
	s := newSnap(t, nil)
	for _, name := range lookupNames(s) {
		o := s.Lookup([]byte(name))
		if o != find(s.c, name) {
			t.Fatalf("%s: Lookup and find disagree", name)
		}
		if o.z != nil {
			if want := refCut(o.z, name); o.cut != want {
				t.Errorf("%s: cut %v, walk finds %v", name, o.cut, want)
			}
		}
		for _, qt := range []uint16{TypeA, TypeAAAA, TypeNS, TypeTXT, typeDS, TypeANY, typeAXFR} {
			got, gerr := s.AnswerOwner(o, qt, london)
			want, werr := s.Answer(Question{Name: strings.ToUpper(name), Type: qt}, london)
			if gerr != werr || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: AnswerOwner %+v %v, Answer %+v %v", name, TypeString(qt), got, gerr, want, werr)
			}
		}
	}
	if !s.Lookup([]byte("db.gslb.test.")).Write() || s.Lookup([]byte("app.gslb.test.")).Write() ||
		s.Lookup([]byte("nx.gslb.test.")).Write() {
		t.Error("Write must be true for the write name db only")
	}
}

// TestLookupAllocates nothing for a name found, a name not found (the
// NXDOMAIN of a random-name flood) and a name below a cut.
func TestLookupAllocatesNothing(t *testing.T) {
	s := newSnap(t, nil)
	for _, name := range []string{"www.gslb.test.", "nope.gslb.test.", "x.y.sub.gslb.test.", "nope.example."} {
		b := []byte(name)
		var err error
		if n := testing.AllocsPerRun(100, func() { _, err = s.AnswerOwner(s.Lookup(b), TypeA, nowhere) }); n != 0 {
			t.Errorf("%s: %v allocations (%v)", name, n, err)
		}
	}
}

// refInZone is inZone as it was before it stopped scanning for escapes:
// any backslash in the name walked the label boundaries.
func refInZone(name, apex string) bool {
	if apex == "." {
		return true
	}
	if !strings.HasSuffix(name, apex) {
		return false
	}
	if len(name) == len(apex) {
		return true
	}
	if name[len(name)-len(apex)-1] != '.' {
		return false
	}
	if strings.IndexByte(name, '\\') < 0 {
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

// TestInZoneEscapes compares inZone with the full walk on every name of
// up to 6 characters of a, '.', '\' and '1' in front of two apexes.
func TestInZoneEscapes(t *testing.T) {
	alphabet := []byte{'a', '.', '\\', '1'}
	var prefixes []string
	var gen func(p string)
	gen = func(p string) {
		prefixes = append(prefixes, p)
		if len(p) < 6 {
			for _, c := range alphabet {
				gen(p + string(c))
			}
		}
	}
	gen("")
	for _, apex := range []string{"gslb.test.", "test."} {
		for _, p := range prefixes {
			name := p + apex
			if got, want := inZone(name, apex), refInZone(name, apex); got != want {
				t.Errorf("inZone(%q, %q) = %v, the walk says %v", name, apex, got, want)
			}
			if got, want := inZone([]byte(name), apex), refInZone(name, apex); got != want {
				t.Errorf("inZone(bytes %q, %q) = %v, the walk says %v", name, apex, got, want)
			}
		}
	}
}
