package gslb

import (
	"net/netip"
	"testing"
)

// FuzzAnswer feeds arbitrary names, types and clients to a real Snapshot
// (the dns fuzz target uses a fake one): no input may panic, and the ECS
// scope never exceeds the source prefix. The seeds run in every test run.
func FuzzAnswer(f *testing.F) {
	for _, s := range []struct {
		name string
		qt   uint16
		addr string
		bits int
	}{
		{"app.gslb.test.", TypeA, "81.2.69.0", 24},
		{"APP.gslb.test", TypeAAAA, "2001:db8::", 48},
		{`x\.sub.gslb.test.`, TypeA, "::ffff:81.2.69.1", 128},
		{`a\\\.b.gslb.test.`, 43, "10.0.0.1", 32},
		{"sub.gslb.test.", 43, "", 0},
		{"whoami.gslb.test.", TypeTXT, "175.16.199.0", 24},
		{"lb.gslb.test.", TypeMX, "216.160.83.0", 24},
		{"db.gslb.test.", TypeANY, "198.18.0.0", 24},
		{"loop1.gslb.test.", TypeA, "0.0.0.0", 0},
		{".", TypeNS, "192.0.2.1", 32},
		{"", 0, "192.0.2.1", 40},
		{"\\", TypeA, "192.0.2.1", -1},
	} {
		var b []byte
		if a, err := netip.ParseAddr(s.addr); err == nil {
			b = a.AsSlice()
		}
		f.Add(s.name, s.qt, b, s.bits)
	}
	snap := newSnap(f, map[string]State{"eu-west@app.gslb.test": Down, "us-east@db.gslb.test": Down})
	f.Fuzz(func(t *testing.T, name string, qt uint16, addr []byte, bits int) {
		a, _ := netip.AddrFromSlice(addr)
		c := Client{Addr: a, SourcePrefix: bits, ECS: bits != a.BitLen()}
		ans, _ := snap.Answer(Question{Name: name, Type: qt}, c)
		if ans.Scope > max(bits, 0) {
			t.Fatalf("scope %d > source prefix %d for %q %d %v", ans.Scope, bits, name, qt, a)
		}
		_ = snap.Explain(name, qt, c)
	})
}
