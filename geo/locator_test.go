package geo

import (
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func TestCIDRLongestPrefix(t *testing.T) {
	entries := []CIDREntry{
		{Network: netip.MustParsePrefix("0.0.0.0/0"), Region: "default-v4"},
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Region: "ten", Lat: 1, Lon: 2, HasCoords: true},
		{Network: netip.MustParsePrefix("10.1.0.0/16"), Region: "ten-one"},
		{Network: netip.MustParsePrefix("10.1.2.0/24"), Region: "ten-one-two"},
		{Network: netip.MustParsePrefix("10.1.2.3/32"), Region: "host"},
		{Network: netip.MustParsePrefix("192.0.2.0/24"), Country: "de"},
		{Network: netip.MustParsePrefix("198.51.100.0/24"), Continent: "sa"},
		{Network: netip.MustParsePrefix("::ffff:203.0.113.0/120"), Region: "mapped"},
		{Network: netip.MustParsePrefix("2001:db8::/32"), Region: "doc"},
		{Network: netip.MustParsePrefix("2001:db8:1::/48"), Region: "doc-1", Country: "JP"},
		{Network: netip.MustParsePrefix("2001:db8:1:2::/64"), Region: "doc-1-2", Lat: -33.9, Lon: 151.2, HasCoords: true, Country: "AU"},
		{Network: netip.MustParsePrefix("2001:db8:1:2::1/128"), Region: "doc-host"},
	}
	l, err := NewLocator(entries)
	if err != nil {
		t.Fatal(err)
	}
	deLat, deLon, _, _ := CountryCentroid("DE")
	jpLat, jpLon, _, _ := CountryCentroid("JP")
	saLat, saLon, _ := ContinentCentroid("SA")
	tests := []struct {
		addr, region, network, country, continent string
		hasCoords                                 bool
		lat, lon                                  float64
	}{
		{"8.8.8.8", "default-v4", "0.0.0.0/0", "", "", false, 0, 0},
		{"10.200.0.1", "ten", "10.0.0.0/8", "", "", true, 1, 2},
		{"10.1.9.9", "ten-one", "10.1.0.0/16", "", "", false, 0, 0},
		{"10.1.2.4", "ten-one-two", "10.1.2.0/24", "", "", false, 0, 0},
		{"10.1.2.3", "host", "10.1.2.3/32", "", "", false, 0, 0},
		{"::ffff:10.1.2.3", "host", "10.1.2.3/32", "", "", false, 0, 0},
		{"192.0.2.77", "", "192.0.2.0/24", "DE", "EU", true, deLat, deLon},
		{"198.51.100.1", "", "198.51.100.0/24", "", "SA", true, saLat, saLon},
		{"203.0.113.9", "mapped", "203.0.113.0/24", "", "", false, 0, 0},
		{"::ffff:203.0.113.9", "mapped", "203.0.113.0/24", "", "", false, 0, 0},
		{"2001:db8:ffff::1", "doc", "2001:db8::/32", "", "", false, 0, 0},
		{"2001:db8:1:3::1", "doc-1", "2001:db8:1::/48", "JP", "AS", true, jpLat, jpLon},
		{"2001:db8:1:2::2", "doc-1-2", "2001:db8:1:2::/64", "AU", "OC", true, -33.9, 151.2},
		{"2001:db8:1:2::1", "doc-host", "2001:db8:1:2::1/128", "", "", false, 0, 0},
		{"fe80::1%eth0", "", "", "", "", false, 0, 0}, // no v6 default: miss
	}
	for _, tc := range tests {
		got, ok := l.Locate(netip.MustParseAddr(tc.addr))
		if tc.network == "" {
			if ok {
				t.Errorf("Locate(%s) = %+v, want miss", tc.addr, got)
			}
			continue
		}
		want := Location{
			Country: tc.country, Continent: tc.continent, Lat: tc.lat, Lon: tc.lon, HasCoords: tc.hasCoords,
			Region: tc.region, Network: netip.MustParsePrefix(tc.network), Source: "cidr",
		}
		got.Place = 0 // numbered per Locator: TestPlacesNumbered checks it
		if !ok || got != want {
			t.Errorf("Locate(%s) = %+v, %v\n want %+v", tc.addr, got, ok, want)
		}
	}
}

func TestCIDRBeatsDatabases(t *testing.T) {
	db, err := OpenDatabase("gen", buildDB(t, "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"192.0.2.0/24":  cityRecord("GB", "EU", 51.5, -0.1),
		"2001:db8::/32": cityRecord("GB", "EU", 51.5, -0.1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocator([]CIDREntry{
		{Network: netip.MustParsePrefix("192.0.2.128/25"), Region: "office"},
		{Network: netip.MustParsePrefix("2001:db8:1::/48"), Region: "lab"},
	}, db)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"192.0.2.200": "cidr", "::ffff:192.0.2.200": "cidr", "192.0.2.1": "mmdb:gen/city",
		"2001:db8:1::1": "cidr", "2001:db8:2::1": "mmdb:gen/city",
	} {
		got, ok := l.Locate(netip.MustParseAddr(addr))
		if !ok || got.Source != want {
			t.Errorf("Locate(%s) = %+v, %v; want source %s", addr, got, ok, want)
		}
	}
}

func TestNewLocatorRejectsBadEntries(t *testing.T) {
	bad := []CIDREntry{
		{Network: netip.Prefix{}, Region: "a"},
		{Network: netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8), Region: "b"},
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Country: "QQ"},
		{Network: netip.MustParsePrefix("11.0.0.0/8"), Continent: "XX"},
		{Network: netip.MustParsePrefix("12.0.0.0/8"), Lat: 91, HasCoords: true},
		{Network: netip.MustParsePrefix("13.0.0.0/8"), Lat: math.NaN(), HasCoords: true, Region: "c"},
		{Network: netip.MustParsePrefix("14.0.0.0/8")},
		{Network: netip.MustParsePrefix("15.0.0.0/8"), Region: "d"},
		{Network: netip.MustParsePrefix("15.0.0.0/8"), Region: "e"},
		{Network: netip.MustParsePrefix("16.0.0.0/8"), Region: "ok"},
		{Network: netip.MustParsePrefix("::ffff:16.0.0.0/104"), Region: "dup-mapped"},
	}
	_, err := NewLocator(bad, nil)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"cidr entry 0 (invalid Prefix): invalid network",
		"cidr entry 1 (10.0.0.1/8): network has host bits set (want 10.0.0.0/8)",
		`cidr entry 2 (10.0.0.0/8): unknown country code "QQ"`,
		`cidr entry 3 (11.0.0.0/8): unknown continent code "XX"`,
		"cidr entry 4 (12.0.0.0/8): coordinates 91,0 out of range",
		"cidr entry 5 (13.0.0.0/8): coordinates NaN,0 out of range",
		"cidr entry 6 (14.0.0.0/8): entry names no region",
		"cidr entry 8 (15.0.0.0/8): network listed twice",
		"cidr entry 10 (::ffff:16.0.0.0/104): network listed twice",
		"database 0 is nil",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "entry 9 ") || strings.Contains(msg, "entry 7 ") {
		t.Errorf("good entries reported:\n%s", msg)
	}
}

func TestUnmapPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:81.2.69.160/123": "81.2.69.160/27",
		"::ffff:1.2.3.0/120":     "1.2.3.0/24",
		"::ffff:0:0/96":          "0.0.0.0/0",
		"::ffff:1.2.3.4/128":     "1.2.3.4/32",
		"::/80":                  "::/80",
		"2001:db8::/32":          "2001:db8::/32",
		"10.0.0.0/8":             "10.0.0.0/8",
	} {
		if got := UnmapPrefix(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("UnmapPrefix(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDistanceKM(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64
	}{
		// London (51.5074 N, 0.1278 W) to New York (40.7128 N, 74.0060 W).
		{"london-newyork", 51.5074, -0.1278, 40.7128, -74.0060, 5570, 0.01},
		{"same point", 10, 20, 10, 20, 0, 0},
		// A quarter of a meridian and half the equator follow from the radius.
		{"pole-equator", 90, 0, 0, 0, math.Pi / 2 * 6371.0088, 1e-9},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371.0088, 1e-9},
		{"across dateline", 0, 179.5, 0, -179.5, math.Pi / 180 * 6371.0088, 1e-9},
	}
	for _, tc := range tests {
		got := DistanceKM(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
		if math.Abs(got-tc.want) > tc.tolerance*math.Max(tc.want, 1e-9) && !(tc.want == 0 && got == 0) {
			t.Errorf("%s: DistanceKM = %.3f, want %.3f", tc.name, got, tc.want)
		}
		if back := DistanceKM(tc.lat2, tc.lon2, tc.lat1, tc.lon1); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s: not symmetric: %g vs %g", tc.name, got, back)
		}
	}
}

// iso3166 lists every officially assigned ISO 3166-1 alpha-2 code.
const iso3166 = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY
CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM
GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE
KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN
SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`

func TestCentroidTables(t *testing.T) {
	codes := strings.Fields(iso3166)
	if len(codes) != 249 {
		t.Fatalf("iso3166 list has %d codes", len(codes))
	}
	for _, cc := range append(codes, "XK") {
		lat, lon, cont, ok := CountryCentroid(cc)
		if !ok {
			t.Errorf("no centroid for %s", cc)
			continue
		}
		if !validCoords(lat, lon) {
			t.Errorf("%s: centroid %g,%g out of range", cc, lat, lon)
		}
		if _, _, ok := ContinentCentroid(cont); !ok {
			t.Errorf("%s: unknown continent %q", cc, cont)
		}
		if l2, o2, c2, _ := CountryCentroid(strings.ToLower(cc)); l2 != lat || o2 != lon || c2 != cont {
			t.Errorf("%s: lower-case lookup differs", cc)
		}
	}
	if len(countries) != 250 {
		t.Errorf("table has %d countries, want the 249 ISO codes plus XK", len(countries))
	}
	for _, bad := range []string{"", "Q", "QQ", "GBR", "zz"} {
		if _, _, _, ok := CountryCentroid(bad); ok {
			t.Errorf("CountryCentroid(%q) ok", bad)
		}
	}
	for _, c := range []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA", "eu"} {
		if _, _, ok := ContinentCentroid(c); !ok {
			t.Errorf("ContinentCentroid(%q) not ok", c)
		}
	}
	// Spot check: the centroids of 15 well-known countries lie in a box
	// that is all land of that country (so a point off the coast, or one
	// with a swapped sign, fails), e.g. NZ's must not be in Cook Strait.
	type box struct{ latMin, latMax, lonMin, lonMax float64 }
	for _, tc := range []struct {
		cc   string
		land []box
	}{
		{"US", []box{{33, 41, -110, -85}}},
		{"GB", []box{{55.1, 55.9, -4.0, -2.6}, {51.5, 54, -2.5, 0}}},
		{"DE", []box{{49, 53, 8, 13}}},
		{"FR", []box{{44, 48, 0, 5}}},
		{"JP", []box{{35.5, 37, 137.5, 139.5}}},
		{"CN", []box{{30, 40, 95, 110}}},
		{"IN", []box{{18, 25, 75, 82}}},
		{"BR", []box{{-20, -5, -55, -45}}},
		{"AU", []box{{-30, -20, 125, 145}}},
		{"ZA", []box{{-32, -27, 20, 26}}},
		{"CA", []box{{50, 60, -115, -100}}},
		{"RU", []box{{57, 65, 60, 120}}},
		{"SG", []box{{1.30, 1.42, 103.70, 103.95}}},
		{"IE", []box{{52.5, 54, -9, -7}}},
		{"NZ", []box{{-39.5, -38, 175, 176.5}, {-42.8, -41.5, 172.2, 172.9}}},
	} {
		lat, lon, _, _ := CountryCentroid(tc.cc)
		inside := false
		for _, b := range tc.land {
			if lat >= b.latMin && lat <= b.latMax && lon >= b.lonMin && lon <= b.lonMax {
				inside = true
			}
		}
		if !inside {
			t.Errorf("%s centroid %g,%g is not on its land (boxes %v)", tc.cc, lat, lon, tc.land)
		}
	}
}

func TestLocatorConcurrentUse(t *testing.T) {
	db := openTestdata(t, "GeoIP2-City-Test.mmdb")
	l, err := NewLocator([]CIDREntry{{Network: netip.MustParsePrefix("10.0.0.0/8"), Region: "r"}}, db)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.Locate(netip.MustParseAddr("81.2.69.160"))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 500 {
				got, ok := l.Locate(netip.MustParseAddr("81.2.69.160"))
				if !ok || got != want {
					errs <- "mismatch"
					return
				}
				if got, ok := l.Locate(netip.MustParseAddr("10.9.9.9")); !ok || got.Region != "r" {
					errs <- "cidr mismatch"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkLocate(b *testing.B) {
	db := openTestdata(b, "GeoIP2-City-Test.mmdb")
	l, err := NewLocator([]CIDREntry{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Region: "a"},
		{Network: netip.MustParsePrefix("172.16.0.0/12"), Region: "b"},
		{Network: netip.MustParsePrefix("192.168.1.0/24"), Region: "c"},
		{Network: netip.MustParsePrefix("2001:db8::/32"), Region: "d"},
	}, db)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("81.2.69.160"), netip.MustParseAddr("175.16.199.1"),
		netip.MustParseAddr("2a02:cf40::1"), netip.MustParseAddr("::ffff:216.160.83.56"),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := l.Locate(addrs[i%len(addrs)]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkLocateCIDRHit(b *testing.B) {
	l, err := NewLocator([]CIDREntry{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Region: "a"},
		{Network: netip.MustParsePrefix("10.1.0.0/16"), Region: "b"},
		{Network: netip.MustParsePrefix("10.1.2.0/24"), Region: "c"},
	})
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.1.3.4")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := l.Locate(a); !ok {
			b.Fatal("miss")
		}
	}
}
