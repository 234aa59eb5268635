package geo

import (
	"bytes"
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

// treeOnly returns d without its compiled table: the reference lookup.
func treeOnly(d *Database) *Database {
	c := *d
	c.table = nil
	return &c
}

// probes are addresses around the boundaries of every stride-th network
// of d (first, last, one past), the alias ranges, and n seeded random
// addresses per family.
func probes(t testing.TB, d *Database, n, stride int) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	k := 0
	for res := range d.r.Networks(maxminddb.IncludeNetworksWithoutData()) {
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

// checkTable requires the compiled table to answer every probe exactly as
// the tree does: same found flag, same Location, same network.
func checkTable(t *testing.T, d *Database, n, stride int) {
	t.Helper()
	if d.table == nil {
		t.Fatal("database has no compiled table")
	}
	ref := treeOnly(d)
	checked, found := 0, 0
	for _, a := range probes(t, d, n, stride) {
		if !a.IsValid() {
			continue
		}
		got, gok := d.Locate(a)
		want, wok := ref.Locate(a)
		if got != want || gok != wok {
			t.Fatalf("%s: table %+v %v, tree %+v %v", a, got, gok, want, wok)
		}
		checked++
		if gok {
			found++
		}
	}
	if found == 0 {
		t.Fatalf("none of %d probes located: the test checks nothing", checked)
	}
	t.Logf("%d probes, %d located, %d networks, %d locations", checked, found,
		len(d.table.v4Start)+len(d.table.v6Start)+len(d.table.v6Long), len(d.table.locs))
}

func TestTableMatchesTree(t *testing.T) {
	for _, f := range []string{"GeoIP2-City-Test.mmdb", "GeoLite2-City-Test.mmdb", "GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb"} {
		t.Run(f, func(t *testing.T) { checkTable(t, openTestdata(t, f), 2000, 1) })
	}
	t.Run("generated IPv4 tree", func(t *testing.T) {
		d, err := OpenDatabase("v4", buildDB(t, "GeoLite2-City", 4, map[string]mmdbtype.Map{
			"0.0.0.0/0":       countryRecord("", "EU"),
			"81.2.69.0/24":    cityRecord("GB", "EU", 51.5, -0.1),
			"81.2.69.128/25":  cityRecord("GB", "EU", 52.5, -1.1),
			"216.160.83.0/24": countryRecord("US", ""),
		}))
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, d, 2000, 1)
	})
	t.Run("generated IPv6 tree", func(t *testing.T) {
		d, err := OpenDatabase("v6", buildDB(t, "GeoLite2-City", 6, map[string]mmdbtype.Map{
			"81.2.69.0/24":          cityRecord("GB", "EU", 51.5, -0.1),
			"2001:db8::/32":         countryRecord("DE", "EU"),
			"2001:db8:1::/48":       cityRecord("FR", "EU", 48.8, 2.3),
			"2001:db8:1:2::/64":     cityRecord("FR", "EU", 45.7, 4.8),
			"2001:db8:1:2:3::/80":   cityRecord("FR", "EU", 43.3, 5.4),
			"2001:db8:1:2:3::1/128": countryRecord("CH", "EU"),
			"2a00::/12":             countryRecord("", "EU"),
		}))
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, d, 2000, 1)
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
	checkTable(t, openTestdata(t, "geo-whois-asn-country.mmdb"), 20000, 17)
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
	var d *Database
	for b.Loop() {
		var err error
		if d, err = OpenDatabase("bench", data); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d2, err := OpenDatabase("bench", data)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t := d.table
	b.ReportMetric(float64(t.size())/(1<<20), "table-MB")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "kept-heap-MB")
	b.ReportMetric(float64(len(t.v4Start)+len(t.v6Start)+len(t.v6Long)), "networks")
	b.ReportMetric(float64(len(t.locs)), "locations")
	b.ReportMetric(float64(took.Milliseconds()), "open-ms")
	runtime.KeepAlive(d2)
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
