package geo

import (
	"net/netip"
	"testing"
)

// TestPlacesNumbered checks that every location Locate returns from a
// database table or the CIDR map names its place, that EachPlace lists
// the same location under that number, and that the numbers run from 1
// to NumPlaces once each, across two databases and the CIDR map.
func TestPlacesNumbered(t *testing.T) {
	l, err := NewLocator([]CIDREntry{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Country: "DE"},
		{Network: netip.MustParsePrefix("10.1.0.0/16"), Region: "eu-west"},
		{Network: netip.MustParsePrefix("2001:db8::/32"), Lat: 1, Lon: 2, HasCoords: true},
	}, openTestdata(t, "GeoIP2-Country-Test.mmdb"), openTestdata(t, "GeoIP2-City-Test.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	places := map[uint32]Location{}
	next := uint32(1)
	l.EachPlace(func(p uint32, loc *Location) {
		if p != next {
			t.Fatalf("place %d listed after %d", p, next-1)
		}
		next++
		places[p] = *loc
	})
	if int(next-1) != l.NumPlaces() || l.NumPlaces() < 4 {
		t.Fatalf("EachPlace listed %d places, NumPlaces is %d", next-1, l.NumPlaces())
	}
	located := 0
	for _, a := range []string{"10.2.3.4", "10.1.2.3", "2001:db8::1", "81.2.69.160", "175.16.199.1",
		"216.160.83.56", "2.125.160.216", "89.160.20.113", "2001:218::1", "2001:480::1"} {
		loc, ok := l.Locate(netip.MustParseAddr(a))
		if !ok {
			continue
		}
		located++
		pl, known := places[loc.Place]
		if loc.Place == 0 || !known {
			t.Errorf("%s: %+v: no place", a, loc)
			continue
		}
		pl.Network, pl.Place, loc.Place = loc.Network, 0, 0
		if pl != loc {
			t.Errorf("%s: located %+v, its place is %+v", a, loc, pl)
		}
	}
	if located < 6 {
		t.Fatalf("only %d addresses located", located)
	}
}
