package geo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// treeRef is what the compiled table must answer: maxminddb's own Lookup
// walking the same image, its record located as OpenDatabase locates
// records, the network as Lookup reports it.
type treeRef struct {
	r      *maxminddb.Reader
	decode func(maxminddb.Result) (fields, error)
	src    sourceNames
}

func newTreeRef(t testing.TB, name string, data []byte) *treeRef {
	t.Helper()
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return &treeRef{r: r, decode: decodeWith(r.Metadata.DatabaseType), src: sources(name)}
}

func (ref *treeRef) locate(a netip.Addr) (Location, bool) {
	a = a.Unmap().WithZone("")
	if a.Is6() && ref.r.Metadata.IPVersion == 4 {
		return Location{}, false
	}
	res := ref.r.Lookup(a)
	if !res.Found() {
		return Location{}, false
	}
	rec, err := ref.decode(res)
	if err != nil {
		return Location{}, false
	}
	loc, ok := locationOf(rec, ref.src)
	if !ok {
		return Location{}, false
	}
	loc.Network = unmapPrefix(res.Prefix())
	if a.Is4() && !loc.Network.Addr().Is4() {
		// The tree returned an IPv6 network wider than the IPv4 space;
		// in IPv4 terms it covers everything.
		loc.Network = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return loc, true
}

// aliasRanges are where the IPv6 trees MaxMind's writers build point at
// their IPv4 subtree (::/96 is the subtree itself; ::ffff:0:0/96 is
// unmapped before any lookup, so it is probed as IPv4).
var aliasRanges = []netip.Prefix{
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("::ffff:0:0/96"),
}

// embed puts the IPv4 address v4 into p's address right after p's prefix,
// where a lookup in an alias reads it; rest fills the bits after it.
func embed(p netip.Prefix, v4 netip.Addr, rest uint64) netip.Addr {
	b := p.Addr().As16()
	b4 := v4.As4()
	x := binary.BigEndian.Uint32(b4[:])
	setBit := func(i int, on bool) {
		if on {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	for i := range 32 {
		if n := p.Bits() + i; n < 128 {
			setBit(n, x&(1<<(31-i)) != 0)
		}
	}
	for i := 0; p.Bits()+32+i < 128 && i < 64; i++ {
		setBit(p.Bits()+32+i, rest&(1<<(63-i)) != 0)
	}
	return netip.AddrFrom16(b)
}

// probes are addresses around the boundaries of every stride-th network
// of the image, aliases included (first, last, one past), and n seeded
// random addresses per family and per alias range, half of these with
// the embedded IPv4 address at an IPv4 network's boundary.
func probes(t testing.TB, ref *treeRef, n, stride int) []netip.Addr {
	t.Helper()
	var out, v4 []netip.Addr
	k := 0
	for res := range ref.r.Networks(maxminddb.IncludeNetworksWithoutData(), maxminddb.IncludeAliasedNetworks()) {
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if k++; k%stride != 0 {
			continue
		}
		p := unmapPrefix(res.Prefix())
		first := p.Addr()
		last := lastAddr(p)
		out = append(out, first, last, first.Prev(), last.Next())
		if first.Is4() {
			v4 = append(v4, first, last)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		var b4 [4]byte
		var b16 [16]byte
		for i := range b4 {
			b4[i] = byte(r.Uint32())
		}
		for i := range b16 {
			b16[i] = byte(r.Uint32())
		}
		out = append(out, netip.AddrFrom4(b4), netip.AddrFrom16(b16))
		for _, p := range aliasRanges {
			a := netip.AddrFrom4(b4)
			if len(v4) > 0 && r.IntN(2) == 0 {
				a = v4[r.IntN(len(v4))]
			}
			out = append(out, embed(p, a, r.Uint64()))
		}
	}
	for _, s := range []string{"::1.2.3.4", "2001:0:5102:45a0::", "2002:5102:45a0::1", "::ffff:81.2.69.160"} {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// checkTable opens data and requires its compiled table to answer every
// probe exactly as maxminddb's tree walk does: same found flag, same
// Location, same network. It returns the database.
func checkTable(t *testing.T, name string, data []byte, n, stride int) *Database {
	t.Helper()
	d, err := OpenDatabase(name, data)
	if err != nil {
		t.Fatal(err)
	}
	ref := newTreeRef(t, name, data)
	checked, found, aliased := 0, 0, 0
	for _, a := range probes(t, ref, n, stride) {
		if !a.IsValid() {
			continue
		}
		got, gok := d.Locate(a)
		want, wok := ref.locate(a)
		if got != want || gok != wok {
			t.Fatalf("%s: table %+v %v, tree %+v %v", a, got, gok, want, wok)
		}
		checked++
		if gok {
			found++
			for _, p := range aliasRanges[:3] {
				if p.Contains(a) {
					aliased++
				}
			}
		}
	}
	if found == 0 {
		t.Fatalf("none of %d probes located: the test checks nothing", checked)
	}
	if ref.r.Metadata.IPVersion == 6 && aliased == 0 {
		t.Fatalf("no probe in an alias range located: the aliases are not checked")
	}
	t.Logf("%d probes, %d located, %d in alias ranges; %d networks, %d locations", checked, found, aliased,
		d.table.v4Keys.len()+d.table.v6Keys.len()+len(d.table.v6Long), len(d.table.locs))
	return d
}

// TestTableMatchesTree checks the compiled table against maxminddb's tree
// walk for MaxMind's test databases and for mmdbwriter-built ones of
// every record size, IPv4-only and IPv6, with and without the IPv4
// aliases, and with records above the IPv4 subtree.
func TestTableMatchesTree(t *testing.T) {
	for _, f := range []string{"GeoIP2-City-Test.mmdb", "GeoLite2-City-Test.mmdb", "GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb"} {
		t.Run(f, func(t *testing.T) { checkTable(t, f, readTestdata(t, f), 2000, 1) })
	}
	v4 := map[string]mmdbtype.Map{
		"0.0.0.0/0":       countryRecord("", "EU"),
		"81.2.69.0/24":    cityRecord("GB", "EU", 51.5, -0.1),
		"81.2.69.128/25":  cityRecord("GB", "EU", 52.5, -1.1),
		"216.160.83.0/24": countryRecord("US", ""),
	}
	v6 := map[string]mmdbtype.Map{
		"81.2.69.0/24":          cityRecord("GB", "EU", 51.5, -0.1),
		"81.2.69.64/26":         cityRecord("GB", "EU", 53.5, -2.1),
		"2001:db8::/32":         countryRecord("DE", "EU"),
		"2001:db8:1::/48":       cityRecord("FR", "EU", 48.8, 2.3),
		"2001:db8:1:2::/64":     cityRecord("FR", "EU", 45.7, 4.8),
		"2001:db8:1:2:3::/80":   cityRecord("FR", "EU", 43.3, 5.4),
		"2001:db8:1:2:3::1/128": countryRecord("CH", "EU"),
		"2a00::/12":             countryRecord("", "EU"),
		"128.0.0.0/1":           countryRecord("US", "NA"),
		"10.0.0.0/8":            {"traits": mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)}},
	}
	for _, size := range []int{24, 28, 32} {
		t.Run(fmt.Sprintf("generated IPv4 tree %d", size), func(t *testing.T) {
			checkTable(t, "v4", buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoLite2-City", IPVersion: 4, RecordSize: size}, v4), 2000, 1)
		})
		t.Run(fmt.Sprintf("generated IPv6 tree %d", size), func(t *testing.T) {
			checkTable(t, "v6", buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoLite2-City", IPVersion: 6, RecordSize: size}, v6), 2000, 1)
		})
	}
	t.Run("generated IPv6 tree without aliases", func(t *testing.T) {
		checkTable(t, "v6", buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoLite2-City", IPVersion: 6, DisableIPv4Aliasing: true}, v6), 2000, 1)
	})
	// One record covers the IPv4 subtree and more. Without the aliases,
	// ::/96 is no node: the walk of :: ends in that record at 3 bits, and
	// Reader.Networks skips every other network sharing the record (the
	// table built from it missed 2000::/16 and more).
	above := map[string]mmdbtype.Map{
		"::/0":          countryRecord("DE", "EU"),
		"2001:db8::/32": countryRecord("FR", "EU"),
		"2a00::/12":     countryRecord("", "EU"),
	}
	t.Run("generated IPv6 tree with a record above ::/96", func(t *testing.T) {
		checkTable(t, "v6", buildDB(t, "GeoLite2-Country", 6, above), 2000, 1)
	})
	t.Run("generated IPv6 tree with a record above ::/96 without aliases", func(t *testing.T) {
		checkTable(t, "v6", buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IPVersion: 6, DisableIPv4Aliasing: true}, above), 2000, 1)
	})
	// The IPv4 subtree is one record: the walk of :: ends in it at 96.
	t.Run("generated IPv6 tree with a record at ::/96", func(t *testing.T) {
		checkTable(t, "v6", buildDB(t, "GeoLite2-Country", 6, map[string]mmdbtype.Map{
			"0.0.0.0/0":     countryRecord("DE", "EU"),
			"2001:db8::/32": countryRecord("FR", "EU"),
		}), 2000, 1)
	})
	// 255 locations and the zone mark fit the tables' 8-bit indexes;
	// 256 need the wide ones.
	for _, places := range []int{255, 256, 1000} {
		t.Run(fmt.Sprintf("generated IPv6 tree with %d places", places), func(t *testing.T) {
			recs := map[string]mmdbtype.Map{}
			for i := range places {
				lat, lon := float64(i%180)-89.5, float64(i%360)-179.5+float64(i)/1000
				recs[fmt.Sprintf("10.%d.%d.0/24", i>>8, i&0xff)] = cityRecord("GB", "EU", lat, lon)
				recs[fmt.Sprintf("2001:db8:%x::/48", i)] = cityRecord("GB", "EU", lat, lon)
			}
			d := checkTable(t, "v6", buildDB(t, "GeoLite2-City", 6, recs), 200, 1)
			if n, wide := len(d.table.locs), d.table.v4Meta.high != nil; n != places || wide != (places > 255) {
				t.Fatalf("%d locations, wide indexes %v; want %d", n, wide, places)
			}
		})
	}
	t.Run("generated IPv6 tree with a record at ::/64", func(t *testing.T) {
		checkTable(t, "v6", buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IPVersion: 6, DisableIPv4Aliasing: true}, map[string]mmdbtype.Map{
			"::/64":         countryRecord("DE", "EU"),
			"2001:db8::/32": countryRecord("FR", "EU"),
		}), 2000, 1)
	})
}

// TestTableRealWorldCountry checks the compiled table of a real-world
// country database (about a million networks) against its tree, at the
// boundaries of every 17th network (a prime, so every kind of neighbour
// is met) and at random addresses.
func TestTableRealWorldCountry(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a million networks")
	}
	checkTable(t, "geo-whois-asn-country.mmdb", readTestdata(t, "geo-whois-asn-country.mmdb"), 20000, 17)
}

// BenchmarkCompileCountry opens the real-world country database (tree
// walk, one decode per distinct record, table build) and reports the
// table's memory and the heap it keeps.
func BenchmarkCompileCountry(b *testing.B) {
	benchCompile(b, readTestdata(b, "geo-whois-asn-country.mmdb"))
}

// BenchmarkCompileCity does the same for a City-sized database generated
// with mmdbwriter: 400k IPv4 and 400k IPv6 networks over 100k places.
func BenchmarkCompileCity(b *testing.B) {
	benchCompile(b, citySized(b, 400_000, 100_000))
}

func benchCompile(b *testing.B, data []byte) {
	for b.Loop() {
		if _, err := OpenDatabase("bench", data); err != nil {
			b.Fatal(err)
		}
	}
	// The kept heap is what one open Database holds after a collection.
	var before, after runtime.MemStats
	settle()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, err := OpenDatabase("bench", data)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	settle()
	runtime.ReadMemStats(&after)
	t := d.table
	b.ReportMetric(float64(t.size())/(1<<20), "table-MB")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "kept-heap-MB")
	b.ReportMetric(float64(t.v4Keys.len()+t.v6Keys.len()+len(t.v6Long)), "networks")
	b.ReportMetric(float64(len(t.locs)), "locations")
	b.ReportMetric(float64(took.Milliseconds()), "open-ms")
	b.ReportMetric(float64(len(data))/(1<<20), "image-MB")
	runtime.KeepAlive(d)
	// data stays live through both measurements, so the kept heap is the
	// Database's alone, whether or not it keeps data.
	runtime.KeepAlive(data)
}

// settle collects until what cleanups and finalizers of earlier
// iterations held is freed too (each takes a cycle to run, and what they
// free another).
func settle() {
	for range 4 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// citySized generates a City database: nets networks per family spread
// over the address space, each pointing at one of places records.
func citySized(b *testing.B, nets, places int) []byte {
	b.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IPVersion: 6, RecordSize: 28})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]mmdbtype.Map, places)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range recs {
		recs[i] = cityRecord("GB", "EU", r.Float64()*180-90, r.Float64()*360-180)
		recs[i]["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(i), "names": mmdbtype.Map{"en": mmdbtype.String(fmt.Sprintf("city %d", i))}}
	}
	for i := range nets {
		// /24s from 1.0.0.0 upwards, and /48s from 2400::.
		v4 := net.IPNet{IP: net.IPv4(byte(1+i>>16), byte(i>>8), byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
		ip6 := make(net.IP, 16)
		ip6[0], ip6[1], ip6[2], ip6[3], ip6[4] = 0x24, 0, byte(i>>16), byte(i>>8), byte(i)
		v6 := net.IPNet{IP: ip6, Mask: net.CIDRMask(48, 128)}
		for _, n := range []*net.IPNet{&v4, &v6} {
			if err := tree.Insert(n, recs[r.IntN(places)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkLocateCountry looks up seeded random IPv4 and IPv6 addresses
// (half of them in 2000::/3, where the networks are) in the real-world
// country database's table: a table-sized binary search, unlike
// BenchmarkLocate's few networks.
func BenchmarkLocateCountry(b *testing.B) {
	d := openTestdata(b, "geo-whois-asn-country.mmdb")
	r := rand.New(rand.NewPCG(7, 8))
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		if i%2 == 0 {
			addrs[i] = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, r.Uint32())))
		} else {
			addrs[i] = addr16(0x2000_0000_0000_0000|r.Uint64()>>3, r.Uint64())
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Locate(addrs[i%len(addrs)])
		i++
	}
}
