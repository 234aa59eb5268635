package geo

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// testdataDir holds the GeoIP databases the tests read; its README names
// their sources and licenses.
const testdataDir = "testdata"

func readTestdata(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, file))
	if err != nil {
		t.Fatalf("test data: %v", err)
	}
	return b
}

func openTestdata(t testing.TB, file string) *Database {
	t.Helper()
	db, err := OpenDatabase(file, readTestdata(t, file))
	if err != nil {
		t.Fatalf("OpenDatabase(%s): %v", file, err)
	}
	return db
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func TestMaxMindCity(t *testing.T) {
	for _, file := range []string{"GeoIP2-City-Test.mmdb", "GeoLite2-City-Test.mmdb"} {
		db := openTestdata(t, file)
		loc, err := NewLocator(nil, db)
		if err != nil {
			t.Fatal(err)
		}
		city := "mmdb:" + file + "/city"
		tests := []struct {
			addr, country, continent, network string
			lat, lon                          float64
		}{
			{"81.2.69.160", "GB", "EU", "81.2.69.160/27", 51.5142, -0.0931},
			{"175.16.199.1", "CN", "AS", "175.16.199.0/24", 43.88, 125.3228},
			{"216.160.83.56", "US", "NA", "216.160.83.56/29", 47.2513, -122.3149},
			{"2a02:cf40::1", "NO", "EU", "2a02:cf40::/29", 62, 10},
			{"::ffff:81.2.69.160", "GB", "EU", "81.2.69.160/27", 51.5142, -0.0931},
			{"::ffff:216.160.83.60", "US", "NA", "216.160.83.56/29", 47.2513, -122.3149},
			{"2a02:e700::1", "LY", "AF", "2a02:e700::/29", 28, 17},
		}
		for _, tc := range tests {
			got, ok := loc.Locate(netip.MustParseAddr(tc.addr))
			if !ok {
				t.Errorf("%s: Locate(%s) found nothing", file, tc.addr)
				continue
			}
			if got.Country != tc.country || got.Continent != tc.continent ||
				got.Network != netip.MustParsePrefix(tc.network) || got.Source != city ||
				!got.HasCoords || !near(got.Lat, tc.lat) || !near(got.Lon, tc.lon) {
				t.Errorf("%s: Locate(%s) = %+v, want %s %s %s %g,%g from %s",
					file, tc.addr, got, tc.country, tc.continent, tc.network, tc.lat, tc.lon, city)
			}
			if got.Region != "" {
				t.Errorf("%s: Locate(%s) set Region %q from a database", file, tc.addr, got.Region)
			}
		}
	}
}

func TestMappedAddressGivesIPv4Network(t *testing.T) {
	db := openTestdata(t, "GeoIP2-City-Test.mmdb")
	v4, ok4 := db.Locate(netip.MustParseAddr("81.2.69.142"))
	mapped, okm := db.Locate(netip.MustParseAddr("::ffff:81.2.69.142"))
	if !ok4 || !okm {
		t.Fatalf("Locate: v4 %v mapped %v", ok4, okm)
	}
	if v4 != mapped {
		t.Fatalf("mapped %+v != v4 %+v", mapped, v4)
	}
	if !mapped.Network.Addr().Is4() || mapped.Network.String() != "81.2.69.142/31" {
		t.Fatalf("mapped network %s, want 81.2.69.142/31", mapped.Network)
	}
}

func TestCityRecordWithoutCityStillHasCoords(t *testing.T) {
	// 2a02:d500::/29 carries a continent and coordinates but no country.
	db := openTestdata(t, "GeoIP2-City-Test.mmdb")
	got, ok := db.Locate(netip.MustParseAddr("2a02:d500::1"))
	if !ok || got.Country != "" || got.Continent != "EU" || !near(got.Lat, 48.69096) ||
		got.Source != "mmdb:GeoIP2-City-Test.mmdb/city" {
		t.Fatalf("Locate(2a02:d500::1) = %+v, %v", got, ok)
	}
	// 2.3.3.0/24 has only a continent: the continent centroid is used.
	got, ok = db.Locate(netip.MustParseAddr("2.3.3.1"))
	lat, lon, _ := ContinentCentroid("EU")
	if !ok || got.Continent != "EU" || got.Lat != lat || got.Lon != lon ||
		got.Source != "mmdb:GeoIP2-City-Test.mmdb/continent-centroid" || got.Network.String() != "2.3.3.0/24" {
		t.Fatalf("Locate(2.3.3.1) = %+v, %v", got, ok)
	}
	// 214.1.1.0/24 is an anycast-only record: nothing to locate by.
	if got, ok := db.Locate(netip.MustParseAddr("214.1.1.1")); ok {
		t.Fatalf("Locate(214.1.1.1) = %+v, want not found", got)
	}
}

func TestMaxMindCountryUsesCentroid(t *testing.T) {
	for _, file := range []string{"GeoLite2-Country-Test.mmdb", "GeoIP2-Country-Test.mmdb"} {
		db := openTestdata(t, file)
		for _, tc := range []struct{ addr, country, network string }{
			{"81.2.69.160", "GB", "81.2.69.160/27"},
			{"217.65.48.1", "GI", "217.65.48.0/29"},
			{"2a02:cf40::1", "NO", "2a02:cf40::/29"},
			{"::ffff:50.114.0.1", "US", "50.114.0.0/22"},
		} {
			got, ok := db.Locate(netip.MustParseAddr(tc.addr))
			lat, lon, cont, _ := CountryCentroid(tc.country)
			if !ok || got.Country != tc.country || got.Continent != cont ||
				got.Network.String() != tc.network || got.Lat != lat || got.Lon != lon || !got.HasCoords ||
				got.Source != "mmdb:"+file+"/country-centroid" {
				t.Errorf("%s: Locate(%s) = %+v, %v; want %s centroid in %s", file, tc.addr, got, ok, tc.country, tc.network)
			}
		}
	}
}

func TestUnknownAddresses(t *testing.T) {
	loc, err := NewLocator(nil, openTestdata(t, "GeoIP2-City-Test.mmdb"), openTestdata(t, "GeoLite2-Country-Test.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "127.0.0.1", "::1", "81.2.69.141", "2001:221::1", "::ffff:8.8.8.8"} {
		if got, ok := loc.Locate(netip.MustParseAddr(a)); ok {
			t.Errorf("Locate(%s) = %+v, want not found", a, got)
		}
	}
	if _, ok := loc.Locate(netip.Addr{}); ok {
		t.Error("Locate(zero Addr) found something")
	}
	var nilLoc *Locator
	if _, ok := nilLoc.Locate(netip.MustParseAddr("81.2.69.160")); ok {
		t.Error("nil Locator found something")
	}
}

func TestDatabasesInOrder(t *testing.T) {
	// The country DB has no entry for 175.16.199.0/24; the City DB behind
	// it answers. For 81.2.69.160 the first (country) DB wins.
	country := openTestdata(t, "GeoLite2-Country-Test.mmdb")
	city := openTestdata(t, "GeoIP2-City-Test.mmdb")
	loc, err := NewLocator(nil, country, city)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := loc.Locate(netip.MustParseAddr("81.2.69.160")); got.Source != "mmdb:GeoLite2-Country-Test.mmdb/country-centroid" {
		t.Errorf("81.2.69.160 source %q", got.Source)
	}
	if got, _ := loc.Locate(netip.MustParseAddr("175.16.199.1")); got.Source != "mmdb:GeoIP2-City-Test.mmdb/city" || got.Country != "CN" {
		t.Errorf("175.16.199.1 = %+v", got)
	}
	if dbs := loc.Databases(); len(dbs) != 2 || dbs[0] != country || dbs[1] != city {
		t.Errorf("Databases() = %v", dbs)
	}
}

func TestWhoisCountryDatabase(t *testing.T) {
	data := readTestdata(t, "geo-whois-asn-country.mmdb")
	db, err := OpenDatabase("whois", data)
	if err != nil {
		t.Fatal(err)
	}
	if db.Type() != "country ipvAll" || db.Name() != "whois" {
		t.Fatalf("Type %q Name %q", db.Type(), db.Name())
	}
	// Derive what to expect for a few well-known blocks from the file
	// itself, walking it with the raw reader.
	raw, err := maxminddb.OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ block, addr, wantCC string }{
		{"1.1.1.0/24", "1.1.1.1", "AU"},
		{"193.0.0.0/20", "193.0.14.129", "NL"},
		{"200.160.0.0/15", "200.160.0.8", "BR"},
		{"2001:4860::/32", "2001:4860:4860::8888", "US"},
	} {
		var walked int
		for res := range raw.NetworksWithin(netip.MustParsePrefix(tc.block)) {
			var r struct {
				CC string `maxminddb:"country_code"`
			}
			if err := res.Decode(&r); err != nil {
				t.Fatal(err)
			}
			walked++
			if res.Prefix().String() != tc.block || r.CC != tc.wantCC {
				t.Fatalf("walk of %s: %s %q, want the block itself with %s", tc.block, res.Prefix(), r.CC, tc.wantCC)
			}
		}
		if walked != 1 {
			t.Fatalf("walk of %s found %d networks", tc.block, walked)
		}
		for _, a := range []string{tc.addr, "::ffff:" + tc.addr} {
			if strings.Contains(tc.addr, ":") && a != tc.addr {
				continue
			}
			got, ok := db.Locate(netip.MustParseAddr(a))
			lat, lon, cont, _ := CountryCentroid(tc.wantCC)
			if !ok || got.Country != tc.wantCC || got.Continent != cont || got.Network.String() != tc.block ||
				got.Lat != lat || got.Lon != lon || got.Source != "mmdb:whois/country-centroid" {
				t.Errorf("Locate(%s) = %+v, %v; want %s in %s", a, got, ok, tc.wantCC, tc.block)
			}
		}
	}
	if got, ok := db.Locate(netip.MustParseAddr("127.0.0.1")); ok {
		t.Errorf("Locate(127.0.0.1) = %+v", got)
	}
}

func TestRejectsASNDatabase(t *testing.T) {
	_, err := OpenDatabase("GeoLite2-ASN-Test.mmdb", readTestdata(t, "GeoLite2-ASN-Test.mmdb"))
	if err == nil || !strings.Contains(err.Error(), "GeoLite2-ASN-Test.mmdb") ||
		!strings.Contains(err.Error(), `unsupported database type "GeoLite2-ASN"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRejectsCorruptData(t *testing.T) {
	good := readTestdata(t, "GeoIP2-City-Test.mmdb")
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":          nil,
		"random":         random,
		"truncated-half": good[:len(good)/2],
		"truncated-tail": good[:len(good)-10],
		"text":           []byte("not an mmdb file\n"),
	}
	for name, data := range cases {
		_, err := OpenDatabase(name+".mmdb", data)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), name+".mmdb") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestCorruptTreeNeverPanics(t *testing.T) {
	// Damage the image the way a bad download or disk would (flipped bytes
	// in the tree and data, a lost head, inserted bytes) and look up many
	// addresses: any outcome is fine except a panic or a hang.
	good := readTestdata(t, "GeoIP2-City-Test.mmdb")
	rng := rand.New(rand.NewPCG(3, 4))
	addrs := []netip.Addr{
		netip.MustParseAddr("81.2.69.160"), netip.MustParseAddr("175.16.199.1"),
		netip.MustParseAddr("2a02:cf40::1"), netip.MustParseAddr("216.160.83.56"),
	}
	opened := 0
	for round := range 600 {
		data := append([]byte(nil), good...)
		switch round % 3 {
		case 0:
			for range 1 + round%20 {
				data[rng.IntN(len(good)-2000)] = byte(rng.Uint32())
			}
		case 1:
			data = data[rng.IntN(len(data)):]
		case 2:
			i := rng.IntN(len(data))
			data = append(data[:i:i], append([]byte{byte(rng.Uint32()), byte(rng.Uint32())}, data[i:]...)...)
		}
		db, err := OpenDatabase("damaged", data)
		if err != nil {
			continue
		}
		opened++
		for _, a := range addrs {
			db.Locate(a)
		}
		for range 20 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			db.Locate(netip.AddrFrom16(b))
			db.Locate(netip.AddrFrom4([4]byte(b[:4])))
		}
	}
	if opened == 0 {
		t.Fatal("no damaged image opened; the lookups were never exercised")
	}
	t.Logf("%d of 600 damaged images opened", opened)
}

func TestLoadDatabase(t *testing.T) {
	readTestdata(t, "GeoLite2-City-Test.mmdb") // skip when missing
	path := filepath.Join(testdataDir, "GeoLite2-City-Test.mmdb")
	db, err := LoadDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	if db.Name() != path || db.Type() != "GeoLite2-City" {
		t.Fatalf("Name %q Type %q", db.Name(), db.Type())
	}
	if got, ok := db.Locate(netip.MustParseAddr("81.2.69.160")); !ok || got.Source != "mmdb:"+path+"/city" {
		t.Fatalf("Locate = %+v, %v", got, ok)
	}

	missing := filepath.Join(t.TempDir(), "nope.mmdb")
	if _, err := LoadDatabase(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: err = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	if err := os.WriteFile(bad, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDatabase(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: err = %v", err)
	}
}

// FuzzOpenDatabase feeds arbitrary bytes to OpenDatabase and Locate. The
// seeds are whole databases, so run it with -fuzzminimizetime 1x or the
// engine spends minutes minimising each new input.
func FuzzOpenDatabase(f *testing.F) {
	good, err := os.ReadFile(filepath.Join(testdataDir, "GeoLite2-Country-Test.mmdb"))
	if err == nil {
		f.Add(good)
		f.Add(good[len(good)/3:])
	}
	f.Add([]byte{})
	f.Add([]byte("\xab\xcd\xefMaxMind.com"))
	addrs := []netip.Addr{
		netip.MustParseAddr("81.2.69.160"), netip.MustParseAddr("2a02:cf40::1"),
		netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("ffff::1"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := OpenDatabase("fuzz", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Fatalf("error does not name the database: %v", err)
			}
			return
		}
		for _, a := range addrs {
			if loc, ok := db.Locate(a); ok && !loc.HasCoords {
				t.Fatalf("located %s without coordinates: %+v", a, loc)
			}
		}
	})
}
