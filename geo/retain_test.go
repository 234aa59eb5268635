package geo

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// collected reports whether the backing array of data is garbage
// collected once the caller drops it, while keep (whatever it returns,
// built from data) stays reachable.
func collected(t *testing.T, file string, keep func(data []byte) any) bool {
	t.Helper()
	var freed atomic.Bool
	held := func() any {
		data := append([]byte(nil), readTestdata(t, file)...)
		runtime.AddCleanup(&data[0], func(f *atomic.Bool) { f.Store(true) }, &freed)
		return keep(data)
	}()
	// Cleanups run on their own goroutine after the cycle that frees the
	// object; sync.Pool caches (maxminddb pools its decoders) need two
	// cycles to drop what they hold.
	for i := 0; i < 50 && !freed.Load(); i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(held)
	return freed.Load()
}

// TestDatabaseKeepsNoImage checks that an open Database does not keep
// the mmdb image alive: the bytes are collected while the Database is in
// use. The control, a maxminddb reader of the same bytes, shows that the
// check sees an image that is kept.
func TestDatabaseKeepsNoImage(t *testing.T) {
	for _, f := range []string{"GeoIP2-City-Test.mmdb", "geo-whois-asn-country.mmdb"} {
		if testing.Short() && f == "geo-whois-asn-country.mmdb" {
			continue
		}
		var db *Database
		if !collected(t, f, func(data []byte) any {
			d, err := OpenDatabase(f, data)
			if err != nil {
				t.Fatal(err)
			}
			db = d
			return d
		}) {
			t.Errorf("%s: the image was not collected while its Database was held", f)
		}
		ref := newTreeRef(t, f, readTestdata(t, f))
		for _, s := range []string{"81.2.69.160", "2a02:cf40::1", "::81.2.69.160", "2002:5102:45a0::1"} {
			a := netip.MustParseAddr(s)
			got, gok := db.Locate(a)
			want, wok := ref.locate(a)
			if got != want || gok != wok || s == "81.2.69.160" && !gok {
				t.Errorf("%s: after the image was collected, Locate(%s) = %+v, %v; the tree says %+v, %v", f, s, got, gok, want, wok)
			}
		}
	}
	if collected(t, "GeoIP2-City-Test.mmdb", func(data []byte) any {
		r, err := maxminddb.OpenBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}) {
		t.Error("control: the image was collected while a maxminddb.Reader of it was held; the check proves nothing")
	}
}

// TestDatabaseSurvivesImageReuse overwrites the image after opening it,
// as a caller that reuses its buffer would, and requires every answer to
// stay the same.
func TestDatabaseSurvivesImageReuse(t *testing.T) {
	data := append([]byte(nil), readTestdata(t, "GeoIP2-City-Test.mmdb")...)
	db, err := OpenDatabase("city", data)
	if err != nil {
		t.Fatal(err)
	}
	ref := newTreeRef(t, "city", append([]byte(nil), data...))
	clear(data)
	addrs := probes(t, ref, 500, 1)
	for _, a := range addrs {
		got, gok := db.Locate(a)
		want, wok := ref.locate(a)
		if got != want || gok != wok {
			t.Fatalf("%s after the image was overwritten: %+v %v, want %+v %v", a, got, gok, want, wok)
		}
	}
}
