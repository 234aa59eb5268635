package gslb

import (
	"net/netip"
	"testing"

	"github.com/gslbd/gslbd/geo"
)

// TestPlaceDistancesExact checks that the precomputed distances are the
// very values geo.DistanceKM gives, for every place of the City test
// database and every endpoint, so nearest rankings cannot change.
func TestPlaceDistancesExact(t *testing.T) {
	db, err := geo.LoadDatabase("../cmd/gslbd/devdata/GeoIP2-City-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := geo.NewLocator(nil, db)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if s.km == nil {
		t.Fatal("no distance table for a Locator with a database")
	}
	places := loc.Places()
	checked := 0
	for _, pl := range places {
		if !pl.HasCoords {
			continue
		}
		for _, g := range s.c.names {
			for i, e := range g.eps {
				if got, want := s.distanceKM(&pl, g, i), geo.DistanceKM(pl.Lat, pl.Lon, e.lat, e.lon); got != want {
					t.Fatalf("place %d to %s: table %v, DistanceKM %v", pl.Place, e.id, got, want)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no place with coordinates")
	}
	l, ok := loc.Locate(netip.MustParseAddr("81.2.69.160"))
	if !ok || l.Place == 0 || places[l.Place-1].Lat != l.Lat {
		t.Fatalf("London: %+v %v: not numbered as a place", l, ok)
	}
}
