package gslb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// rankConfig is testConfig plus nearest names whose patterns the ranking
// must keep apart: a region twice, an order that is not the config's,
// endpoints that serve one family only.
func rankConfig() *config.Config {
	const z = "gslb.test."
	cfg := testConfig()
	dup := cfgName("dup."+z, "nearest",
		ep("dup."+z, "us-east", "192.0.2.40"),
		ep("dup."+z, "eu-west", "198.51.100.40"),
		config.Endpoint{Name: "us-east-2", Region: "us-east", Addresses: []string{"192.0.2.41"}, Weight: intp(1), ID: "us-east-2@dup.gslb.test"})
	ord := cfgName("ord."+z, "nearest",
		ep("ord."+z, "us-east", "192.0.2.42"),
		ep("ord."+z, "eu-west", "2001:db8::42"),
		ep("ord."+z, "ap-southeast", "203.0.113.42"),
		ep("ord."+z, "eu-central", "198.51.100.42", "2001:db8::43"))
	ord.Order = []string{"ap-southeast", "eu-central"}
	ord.Answers = 2
	cfg.Zones[0].Names = append(cfg.Zones[0].Names, dup, ord)
	return cfg
}

// rankLocator is the City test database behind testLocator's CIDR map.
func rankLocator(t testing.TB) *geo.Locator {
	t.Helper()
	db, err := geo.LoadDatabase("../cmd/gslbd/devdata/GeoIP2-City-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	cidr := []geo.CIDREntry{
		{Network: netip.MustParsePrefix("100.64.0.0/16"), Country: "DE", Continent: "EU", Lat: 50.1, Lon: 8.7, HasCoords: true},
		{Network: netip.MustParsePrefix("198.18.0.0/24"), Region: "eu-central", Country: "SG", Continent: "AS", Lat: 1.3, Lon: 103.8, HasCoords: true},
		// Equidistant from nowhere in particular: ties keep the default order.
		{Network: netip.MustParsePrefix("100.65.0.0/16"), Lat: 90, Lon: 0, HasCoords: true},
	}
	loc, err := geo.NewLocator(cidr, db)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestRankingMatchesSort compares, at every place of the City test
// database and the CIDR map, every name's decision from the precomputed
// rows with the decision of the per-query sort they replace (the same
// Snapshot without its ranking), for each family and with some endpoints
// down, so that a row can never pick another endpoint than the sort.
func TestRankingMatchesSort(t *testing.T) {
	cfg := rankConfig()
	loc := rankLocator(t)
	for _, down := range []map[string]State{nil, {"eu-west@app.gslb.test": Down, "us-east@dup.gslb.test": Down, "ap-southeast@ord.gslb.test": Down}} {
		s, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, down), Now: t0, Rand: func() float64 { return 0 }})
		if err != nil {
			t.Fatal(err)
		}
		if s.rank == nil || len(s.rank.tables) == 0 {
			t.Fatal("no ranking tables")
		}
		ref := *s
		ref.rank = nil
		rows := 0
		loc.EachPlace(func(place uint32, pl *geo.Location) {
			l := *pl
			l.Place = place
			c := Client{Addr: netip.MustParseAddr("100.64.0.1"), SourcePrefix: 24, ECS: true}
			for _, g := range s.c.names {
				if s.rank.order(g, place) != nil {
					rows++
				}
				for _, fam := range []uint8{fam4, fam6, famTarget} {
					var b1, b2 [inlineEPs]int
					d1, ch1 := s.decide(g, fam, c, &l, true, b1[:0], nil)
					d2, ch2 := ref.decide(g, fam, c, &l, true, b2[:0], nil)
					if !reflect.DeepEqual(d1, d2) || !slices.Equal(ch1, ch2) {
						t.Fatalf("%s fam %d at place %d %+v: ranked %+v %v, sorted %+v %v", g.fqdn, fam, place, l, d1, ch1, d2, ch2)
					}
				}
			}
		})
		if rows == 0 {
			t.Fatal("no name was ranked from a row")
		}
	}
}

// TestRankingShared checks that names with the same pattern share a table
// and names that do not rank by distance have none.
func TestRankingShared(t *testing.T) {
	s, err := NewSnapshot(Options{Config: rankConfig(), Locator: rankLocator(t), View: View{}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	class := func(name string) int32 { return s.rank.class[s.c.byName[name].idx] }
	// closed and res-open are us-east, eu-west; app2 adds ap-southeast.
	if class("closed.gslb.test.") < 0 || class("closed.gslb.test.") != class("res-open.gslb.test.") {
		t.Errorf("closed and res-open have one pattern: classes %d, %d", class("closed.gslb.test."), class("res-open.gslb.test."))
	}
	for _, n := range []string{"app2.gslb.test.", "dup.gslb.test.", "ord.gslb.test."} {
		if class(n) < 0 || class(n) == class("closed.gslb.test.") {
			t.Errorf("%s: class %d", n, class(n))
		}
	}
	for _, n := range []string{"fo.gslb.test.", "single.gslb.test.", "gm.gslb.test.", "db.gslb.test.", "wt.gslb.test."} {
		if class(n) != -1 {
			t.Errorf("%s does not rank by distance: class %d", n, class(n))
		}
	}
}

// BenchmarkRanking builds the ranking of 10k nearest names in 4 patterns
// over 3 of 5 regions for 150k places (a City-sized database: here CIDR
// entries at random coordinates) and reports its memory.
func BenchmarkRanking(b *testing.B) {
	const places, names = 150_000, 10_000
	r := rand.New(rand.NewPCG(5, 6))
	entries := make([]geo.CIDREntry, places)
	for i := range entries {
		entries[i] = geo.CIDREntry{Network: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32),
			Lat: r.Float64()*180 - 90, Lon: r.Float64()*360 - 180, HasCoords: true}
	}
	loc, err := geo.NewLocator(entries)
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig()
	cfg.Regions = append(cfg.Regions, config.Region{Name: "sa-east", Latitude: -23.5, Longitude: -46.6, Continent: "SA"})
	regions := []string{"us-east", "eu-west", "ap-southeast", "eu-central", "sa-east"}
	zn := &cfg.Zones[0]
	zn.Names = nil
	for i := range names {
		n := fmt.Sprintf("n%d.gslb.test.", i)
		k := i % 4
		zn.Names = append(zn.Names, cfgName(n, "nearest",
			ep(n, regions[k], "192.0.2.1"), ep(n, regions[k+1], "192.0.2.2"), ep(n, regions[(k+2)%5], "192.0.2.3")))
	}
	c, err := compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var rk *ranking
	start := time.Now()
	for b.Loop() {
		rk = newRanking(c, loc)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "build-ms")
	b.ReportMetric(float64(rk.bytes())/(1<<20), "table-MB")
	b.ReportMetric(float64(len(rk.tables)), "tables")
}

// TestPreparedKeepsRanking: a Snapshot from Prepare (a reload) ranks from
// the tables as one from NewSnapshot does; it used to rank per query.
func TestPreparedKeepsRanking(t *testing.T) {
	cfg, loc := rankConfig(), rankLocator(t)
	p, err := Prepare(cfg, loc)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Snapshot(nil, viewOf(cfg, nil), t0)
	if s.rank == nil || s.rank != s.WithView(viewOf(cfg, nil), t0).rank {
		t.Fatal("a prepared Snapshot and its successors must share the ranking")
	}
	ref, err := NewSnapshot(Options{Config: cfg, Locator: loc, View: viewOf(cfg, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Client{london, changchun, seattle, frankfurt, mapped} {
		a, err := s.Answer(Question{Name: "app.gslb.test.", Type: TypeA}, c)
		b, errRef := ref.Answer(Question{Name: "app.gslb.test.", Type: TypeA}, c)
		if err != errRef || !reflect.DeepEqual(a, b) {
			t.Errorf("%v: prepared %+v %v, new %+v %v", c.Addr, a, err, b, errRef)
		}
	}
}
