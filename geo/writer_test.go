package geo

import (
	"bytes"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// buildDB writes an mmdb image of the given type with one record per
// network, using mmdbwriter as MaxMind's own tools do.
func buildDB(t testing.TB, typ string, ipVersion int, records map[string]mmdbtype.Map) []byte {
	t.Helper()
	return buildDBWith(t, mmdbwriter.Options{DatabaseType: typ, IPVersion: ipVersion, RecordSize: 28}, records)
}

// buildDBWith is buildDB with the writer's options given (reserved
// networks are always allowed).
func buildDBWith(t testing.TB, opts mmdbwriter.Options, records map[string]mmdbtype.Map) []byte {
	t.Helper()
	opts.IncludeReservedNetworks = true
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Insert wider networks first: a later insert replaces what it covers.
	cidrs := slices.SortedFunc(maps.Keys(records), func(a, b string) int {
		return netip.MustParsePrefix(a).Bits() - netip.MustParsePrefix(b).Bits()
	})
	for _, cidr := range cidrs {
		rec := records[cidr]
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func cityRecord(cc, cont string, lat, lon float64) mmdbtype.Map {
	m := mmdbtype.Map{
		"city": mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Somewhere"), "de": mmdbtype.String("Irgendwo")}},
		"subdivisions": mmdbtype.Slice{
			mmdbtype.Map{"iso_code": mmdbtype.String("X1")},
		},
		"location": mmdbtype.Map{
			"latitude":        mmdbtype.Float64(lat),
			"longitude":       mmdbtype.Float64(lon),
			"accuracy_radius": mmdbtype.Uint16(50),
			"time_zone":       mmdbtype.String("Etc/UTC"),
		},
	}
	if cc != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc), "geoname_id": mmdbtype.Uint32(1)}
	}
	if cont != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(cont), "names": mmdbtype.Map{"en": mmdbtype.String("x")}}
	}
	return m
}

func countryRecord(cc, cont string) mmdbtype.Map {
	m := mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("ZZ")}}
	if cc != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc)}
	}
	if cont != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(cont)}
	}
	return m
}

func TestGeneratedCityDatabase(t *testing.T) {
	data := buildDB(t, "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"10.0.0.0/8":    cityRecord("BR", "SA", -23.55, -46.63),
		"10.1.0.0/16":   cityRecord("AR", "SA", -34.6, -58.38),
		"2001:db8::/32": cityRecord("CL", "SA", -33.45, -70.66),
		"2001:db8:1::/48": {
			// No coordinates: the country centroid stands in.
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("UY")},
			"continent": mmdbtype.Map{"code": mmdbtype.String("SA")},
		},
		"192.168.0.0/16": {"continent": mmdbtype.Map{"code": mmdbtype.String("OC")}},
		"172.16.0.0/12":  {"traits": mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)}},
		// A country code missing from the table and no continent: only
		// the record's coordinates can locate it.
		"100.64.0.0/10": cityRecord("QQ", "", 10, 20),
		// Bad coordinates are ignored in favour of the country centroid.
		"198.18.0.0/15": cityRecord("PE", "", 123, 456),
	})
	db, err := OpenDatabase("gen", data)
	if err != nil {
		t.Fatal(err)
	}
	uyLat, uyLon, _, _ := CountryCentroid("UY")
	peLat, peLon, _, _ := CountryCentroid("PE")
	ocLat, ocLon, _ := ContinentCentroid("OC")
	tests := []struct {
		addr      string
		ok        bool
		cc, cont  string
		lat, lon  float64
		network   string
		sourceEnd string
	}{
		// The tree splits 10.0.0.0/8 around 10.1.0.0/16: the network
		// returned is the largest one holding the address and one record.
		{"10.2.3.4", true, "BR", "SA", -23.55, -46.63, "10.2.0.0/15", "/city"},
		{"10.200.3.4", true, "BR", "SA", -23.55, -46.63, "10.128.0.0/9", "/city"},
		{"10.1.2.3", true, "AR", "SA", -34.6, -58.38, "10.1.0.0/16", "/city"},
		{"::ffff:10.1.2.3", true, "AR", "SA", -34.6, -58.38, "10.1.0.0/16", "/city"},
		{"2001:db8:2::1", true, "CL", "SA", -33.45, -70.66, "2001:db8:2::/47", "/city"},
		{"2001:db8:8000::1", true, "CL", "SA", -33.45, -70.66, "2001:db8:8000::/33", "/city"},
		{"2001:db8:1::1", true, "UY", "SA", uyLat, uyLon, "2001:db8:1::/48", "/country-centroid"},
		{"192.168.7.7", true, "", "OC", ocLat, ocLon, "192.168.0.0/16", "/continent-centroid"},
		{"100.64.1.1", true, "QQ", "", 10, 20, "100.64.0.0/10", "/city"},
		{"198.18.0.1", true, "PE", "SA", peLat, peLon, "198.18.0.0/15", "/country-centroid"},
		{"172.16.0.1", false, "", "", 0, 0, "", ""},
		{"11.0.0.1", false, "", "", 0, 0, "", ""},
		{"2001:db9::1", false, "", "", 0, 0, "", ""},
	}
	for _, tc := range tests {
		got, ok := db.Locate(netip.MustParseAddr(tc.addr))
		if ok != tc.ok {
			t.Errorf("Locate(%s) ok = %v (%+v), want %v", tc.addr, ok, got, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.Country != tc.cc || got.Continent != tc.cont || !near(got.Lat, tc.lat) || !near(got.Lon, tc.lon) ||
			!got.HasCoords || got.Network.String() != tc.network || got.Source != "mmdb:gen"+tc.sourceEnd {
			t.Errorf("Locate(%s) = %+v, want %s/%s %g,%g %s %s", tc.addr, got, tc.cc, tc.cont, tc.lat, tc.lon, tc.network, tc.sourceEnd)
		}
	}
}

func TestGeneratedCountryDatabase(t *testing.T) {
	data := buildDB(t, "GeoLite2-Country", 6, map[string]mmdbtype.Map{
		"203.0.113.0/24":  countryRecord("NZ", "OC"),
		"203.0.113.0/28":  countryRecord("au", ""), // lower case, no continent
		"2001:db8::/32":   countryRecord("ZA", "AF"),
		"198.51.100.0/24": countryRecord("", "AN"),
	})
	db, err := OpenDatabase("country", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ addr, cc, cont, network, how string }{
		{"203.0.113.200", "NZ", "OC", "203.0.113.128/25", "country-centroid"},
		{"203.0.113.20", "NZ", "OC", "203.0.113.16/28", "country-centroid"},
		{"203.0.113.5", "AU", "OC", "203.0.113.0/28", "country-centroid"},
		{"::ffff:203.0.113.5", "AU", "OC", "203.0.113.0/28", "country-centroid"},
		{"2001:db8::53", "ZA", "AF", "2001:db8::/32", "country-centroid"},
		{"198.51.100.1", "", "AN", "198.51.100.0/24", "continent-centroid"},
	} {
		got, ok := db.Locate(netip.MustParseAddr(tc.addr))
		var lat, lon float64
		if tc.cc != "" {
			lat, lon, _, _ = CountryCentroid(tc.cc)
		} else {
			lat, lon, _ = ContinentCentroid(tc.cont)
		}
		if !ok || got.Country != tc.cc || got.Continent != tc.cont || got.Network.String() != tc.network ||
			got.Lat != lat || got.Lon != lon || got.Source != "mmdb:country/"+tc.how {
			t.Errorf("Locate(%s) = %+v, %v; want %s/%s in %s by %s", tc.addr, got, ok, tc.cc, tc.cont, tc.network, tc.how)
		}
	}
}

func TestGeneratedFlatDatabases(t *testing.T) {
	// ip-location-db layout: flat maps, database_type "country ..." or
	// "city ...".
	country := buildDB(t, "country ipv4", 4, map[string]mmdbtype.Map{
		"192.0.2.0/24": {"country_code": mmdbtype.String("JP")},
	})
	db, err := OpenDatabase("flat", country)
	if err != nil {
		t.Fatal(err)
	}
	lat, lon, _, _ := CountryCentroid("JP")
	got, ok := db.Locate(netip.MustParseAddr("192.0.2.9"))
	if !ok || got.Country != "JP" || got.Continent != "AS" || got.Lat != lat || got.Lon != lon ||
		got.Network.String() != "192.0.2.0/24" || got.Source != "mmdb:flat/country-centroid" {
		t.Fatalf("Locate = %+v, %v", got, ok)
	}
	// An IPv4-only tree cannot answer IPv6 questions; that is a miss.
	if got, ok := db.Locate(netip.MustParseAddr("2001:db8::1")); ok {
		t.Fatalf("IPv6 in IPv4 db = %+v", got)
	}

	city := buildDB(t, "city ipvAll", 6, map[string]mmdbtype.Map{
		"192.0.2.0/24": {
			"country_code": mmdbtype.String("FR"),
			"city":         mmdbtype.String("Lyon"),
			"latitude":     mmdbtype.Float32(45.75),
			"longitude":    mmdbtype.Float32(4.85),
		},
	})
	db, err = OpenDatabase("flatcity", city)
	if err != nil {
		t.Fatal(err)
	}
	got, ok = db.Locate(netip.MustParseAddr("192.0.2.1"))
	if !ok || got.Country != "FR" || got.Continent != "EU" || !near(got.Lat, 45.75) || !near(got.Lon, 4.85) ||
		got.Source != "mmdb:flatcity/city" {
		t.Fatalf("Locate = %+v, %v", got, ok)
	}
}

func TestGeneratedUnsupportedTypes(t *testing.T) {
	for _, typ := range []string{"GeoLite2-ASN", "GeoIP2-ISP", "GeoIP2-Anonymous-IP", "My-Custom-DB", ""} {
		data := buildDB(t, typ, 6, map[string]mmdbtype.Map{
			"192.0.2.0/24": {"autonomous_system_number": mmdbtype.Uint32(64496)},
		})
		_, err := OpenDatabase("x.mmdb", data)
		if err == nil || !strings.Contains(err.Error(), "x.mmdb") || !strings.Contains(err.Error(), "unsupported database type") {
			t.Errorf("type %q: err = %v", typ, err)
		}
	}
}

func TestGeneratedWrongShapedRecord(t *testing.T) {
	// A record whose country is a string instead of a map is corrupt for
	// our purposes; OpenDatabase notices while probing records.
	data := buildDB(t, "GeoIP2-Country", 6, map[string]mmdbtype.Map{
		"192.0.2.0/24": {"country": mmdbtype.String("GB")},
	})
	if _, err := OpenDatabase("odd.mmdb", data); err == nil || !strings.Contains(err.Error(), "odd.mmdb") {
		t.Fatalf("err = %v", err)
	}
}
