package dns

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// testRRLConfig is BIND-like: 5/s, a 3 s window, slip 2, /24 and /56.
func testRRLConfig() RRLConfig {
	return RRLConfig{
		ResponsesPerSecond: 5, ErrorsPerSecond: 5, NXDomainsPerSecond: 5,
		Window: 3 * time.Second, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56,
	}
}

func newTestRRL(t testing.TB, c RRLConfig) (*RRL, *prometheus.Registry, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	r, err := NewRRL(c, zap.New(core), reg)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg, logs
}

func wireName(t testing.TB, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := mdns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// t0 is a fixed clock origin; tests move time by whole seconds.
var t0 = time.Unix(1_700_000_000, 0)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func actions(r *RRL, now time.Time, src string, cls rrlClass, name []byte, qtype uint16, n int) (send, drop, slip int) {
	a := netip.MustParseAddr(src)
	for range n {
		switch r.account(now, a, cls, name, qtype) {
		case rrlSend:
			send++
		case rrlDrop:
			drop++
		case rrlSlip:
			slip++
		}
	}
	return
}

func TestRRLBucketAccounting(t *testing.T) {
	r, reg, _ := newTestRRL(t, testRRLConfig())
	www := wireName(t, "www.gslb.test.")

	if s, d, sl := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 5); s != 5 || d+sl != 0 {
		t.Fatalf("first 5 in a second: send %d drop %d slip %d", s, d, sl)
	}
	if s, d, sl := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 10); s != 0 || d != 5 || sl != 5 {
		t.Fatalf("next 10: send %d drop %d slip %d, want 0/5/5", s, d, sl)
	}
	// Half a second later is the same second: no credit.
	if s, _, _ := actions(r, sec(0).Add(500*time.Millisecond), "192.0.2.1", rrlResponse, www, mdns.TypeA, 1); s != 0 {
		t.Fatal("credited within the same second")
	}
	// The debt is bounded by the window (3 s × 5/s): after 3 quiet seconds
	// the full rate is back, and no more than the rate.
	if s, _, _ := actions(r, sec(2), "192.0.2.1", rrlResponse, www, mdns.TypeA, 1); s != 0 {
		t.Fatal("forgiven before the window passed")
	}
	if s, d, sl := actions(r, sec(6), "192.0.2.1", rrlResponse, www, mdns.TypeA, 8); s != 5 || d+sl != 3 {
		t.Fatalf("after the window: send %d drop %d slip %d, want 5 sent", s, d, sl)
	}
	if got := testutil.ToFloat64(r.limitedC[rrlResponse][0]) + testutil.ToFloat64(r.limitedC[rrlResponse][1]); got != 5+5+2+3 {
		t.Errorf("limited counter = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "gslbd_dns_rrl_limited_total"); err != nil || n != 9 {
		t.Errorf("series = %d, %v; want 3 actions x 3 classes", n, err)
	}
}

// TestRRLSteadyFlood: a source that keeps flooding stays limited (its
// average over the window is above the rate), as in BIND.
func TestRRLSteadyFlood(t *testing.T) {
	r, _, _ := newTestRRL(t, testRRLConfig())
	www := wireName(t, "www.gslb.test.")
	sent := 0
	for i := range 10 {
		s, _, _ := actions(r, sec(i), "192.0.2.1", rrlResponse, www, mdns.TypeA, 100)
		sent += s
	}
	if sent != 5 {
		t.Fatalf("10 s of 100 q/s sent %d, want only the first second's 5", sent)
	}
	// At exactly the rate, a client is never limited.
	r2, _, _ := newTestRRL(t, testRRLConfig())
	for i := range 10 {
		if s, _, _ := actions(r2, sec(i), "192.0.2.1", rrlResponse, www, mdns.TypeA, 5); s != 5 {
			t.Fatalf("second %d: sent %d of 5", i, s)
		}
	}
}

func TestRRLSlip(t *testing.T) {
	www := wireName(t, "www.gslb.test.")
	for _, tc := range []struct{ slip, drop, slipped int }{{0, 12, 0}, {1, 0, 12}, {2, 6, 6}, {3, 8, 4}} {
		c := testRRLConfig()
		c.Slip = tc.slip
		r, _, _ := newTestRRL(t, c)
		if s, d, sl := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 17); s != 5 || d != tc.drop || sl != tc.slipped {
			t.Errorf("slip %d: send %d drop %d slip %d, want 5/%d/%d", tc.slip, s, d, sl, tc.drop, tc.slipped)
		}
	}
}

// TestRRLWindowOne: window 1s is a plain per-second limit.
func TestRRLWindowOne(t *testing.T) {
	c := testRRLConfig()
	c.Window, c.ResponsesPerSecond = time.Second, 1
	r, _, _ := newTestRRL(t, c)
	www := wireName(t, "www.gslb.test.")
	for i := range 5 {
		if s, _, _ := actions(r, sec(i), "192.0.2.1", rrlResponse, www, mdns.TypeA, 10); s != 1 {
			t.Fatalf("second %d: sent %d, want 1", i, s)
		}
	}
}

func TestRRLKeys(t *testing.T) {
	www, WWW, app := wireName(t, "www.gslb.test."), wireName(t, "WWW.Gslb.TEST."), wireName(t, "app.gslb.test.")
	apex, other := wireName(t, "gslb.test."), wireName(t, "other.test.")
	cases := []struct {
		name   string
		second func(r *RRL) int // replies sent of 5 after the first key used its rate
		want   int
	}{
		{"same /24 shares", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "192.0.2.200", rrlResponse, www, mdns.TypeA, 5)
			return s
		}, 0},
		{"name case folded", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "192.0.2.1", rrlResponse, WWW, mdns.TypeA, 5)
			return s
		}, 0},
		{"IPv4-mapped is IPv4", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "::ffff:192.0.2.9", rrlResponse, www, mdns.TypeA, 5)
			return s
		}, 0},
		{"next /24 apart", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "192.0.3.1", rrlResponse, www, mdns.TypeA, 5)
			return s
		}, 5},
		{"other name apart", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "192.0.2.1", rrlResponse, app, mdns.TypeA, 5)
			return s
		}, 5},
		{"other type apart", func(r *RRL) int {
			s, _, _ := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeAAAA, 5)
			return s
		}, 5},
		{"other class apart", func(r *RRL) int { s, _, _ := actions(r, sec(0), "192.0.2.1", rrlNXDomain, www, 0, 5); return s }, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRRL(t, testRRLConfig())
			actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 5)
			if got := tc.second(r); got != tc.want {
				t.Fatalf("sent %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("IPv6 /56", func(t *testing.T) {
		r, _, _ := newTestRRL(t, testRRLConfig())
		actions(r, sec(0), "2001:db8:0:100::1", rrlResponse, www, mdns.TypeA, 5)
		if s, _, _ := actions(r, sec(0), "2001:db8:0:1ff::2", rrlResponse, www, mdns.TypeA, 5); s != 0 {
			t.Errorf("same /56 got %d", s)
		}
		if s, _, _ := actions(r, sec(0), "2001:db8:0:200::1", rrlResponse, www, mdns.TypeA, 5); s != 5 {
			t.Errorf("next /56 got %d", s)
		}
	})
	t.Run("NXDOMAIN keyed by zone", func(t *testing.T) {
		r, _, _ := newTestRRL(t, testRRLConfig())
		actions(r, sec(0), "192.0.2.1", rrlNXDomain, apex, 0, 5)
		if s, _, _ := actions(r, sec(0), "192.0.2.1", rrlNXDomain, apex, 0, 1); s != 0 {
			t.Error("sixth NXDOMAIN of the zone sent")
		}
		if s, _, _ := actions(r, sec(0), "192.0.2.1", rrlNXDomain, other, 0, 1); s != 1 {
			t.Error("other zone limited")
		}
	})
	t.Run("errors keyed by prefix alone", func(t *testing.T) {
		r, _, _ := newTestRRL(t, testRRLConfig())
		actions(r, sec(0), "192.0.2.1", rrlError, www, 0, 5)
		if s, _, _ := actions(r, sec(0), "192.0.2.1", rrlError, app, mdns.TypeMX, 1); s != 0 {
			t.Error("errors for another name not shared")
		}
	})
}

func TestRRLExemptAndClassRates(t *testing.T) {
	c := testRRLConfig()
	c.Exempt = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:53::/48")}
	c.ErrorsPerSecond = 0 // not limited
	r, _, _ := newTestRRL(t, c)
	www := wireName(t, "www.gslb.test.")
	for _, src := range []string{"198.51.100.7", "2001:db8:53:1::1", "::ffff:198.51.100.8"} {
		if s, _, _ := actions(r, sec(0), src, rrlResponse, www, mdns.TypeA, 50); s != 50 {
			t.Errorf("exempt %s: sent %d of 50", src, s)
		}
	}
	if s, _, _ := actions(r, sec(0), "192.0.2.1", rrlError, nil, 0, 50); s != 50 {
		t.Errorf("errors_per_second 0: sent %d of 50", s)
	}
}

func TestRRLLogOnly(t *testing.T) {
	c := testRRLConfig()
	c.LogOnly = true
	r, _, logs := newTestRRL(t, c)
	www := wireName(t, "www.gslb.test.")
	if s, _, _ := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 20); s != 20 {
		t.Fatalf("log_only sent %d of 20", s)
	}
	if v := testutil.ToFloat64(r.limitedC[rrlResponse][2]); v != 15 {
		t.Errorf("log_only counter = %v, want 15", v)
	}
	if logs.FilterMessage("rate limiting started").Len() != 1 {
		t.Errorf("logs: %v", logs.All())
	}
}

// TestRRLLogs: one line when limiting starts and one when it stops, on
// the prefix's next reply or from the sweep when the prefix went quiet.
func TestRRLLogs(t *testing.T) {
	r, _, logs := newTestRRL(t, testRRLConfig())
	www := wireName(t, "www.gslb.test.")
	actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 50)
	actions(r, sec(0), "2001:db8::1", rrlNXDomain, www, 0, 50)
	started := logs.FilterMessage("rate limiting started").All()
	if len(started) != 2 {
		t.Fatalf("start lines: %v", logs.All())
	}
	if f := started[0].ContextMap(); f["prefix"] != "192.0.2.0/24" || f["class"] != "response" || f["name"] != "www.gslb.test." || f["qtype"] != "A" {
		t.Errorf("start fields: %v", f)
	}
	r.sweep(sec(1))
	if n := logs.FilterMessage("rate limiting stopped").Len(); n != 0 {
		t.Fatalf("stopped while still in debt: %v", logs.All())
	}
	// Back under the rate on its next reply.
	actions(r, sec(4), "192.0.2.1", rrlResponse, www, mdns.TypeA, 1)
	stopped := logs.FilterMessage("rate limiting stopped").All()
	if len(stopped) != 1 || stopped[0].ContextMap()["prefix"] != "192.0.2.0/24" || stopped[0].ContextMap()["limited"] != uint32(45) {
		t.Fatalf("stop lines: %v", stopped)
	}
	// The IPv6 prefix went quiet: the sweep ends its episode.
	r.sweep(sec(4))
	stopped = logs.FilterMessage("rate limiting stopped").All()
	if len(stopped) != 2 || stopped[1].ContextMap()["prefix"] != "2001:db8::/56" {
		t.Fatalf("stop lines after sweep: %v", stopped)
	}
	if r.limiting.Load() != 0 {
		t.Errorf("limiting = %d", r.limiting.Load())
	}
}

// TestRRLLogLimit: many prefixes starting at once give at most
// rrlLogPerSec lines per second, the next line says how many were left out.
func TestRRLLogLimit(t *testing.T) {
	r, _, logs := newTestRRL(t, testRRLConfig())
	www := wireName(t, "www.gslb.test.")
	for i := range 200 {
		src := netip.AddrFrom4([4]byte{10, byte(i), 0, 1}).String()
		actions(r, sec(0), src, rrlResponse, www, mdns.TypeA, 6)
	}
	if n := logs.Len(); n > 2*rrlLogPerSec { // the limiter's second may turn once
		t.Fatalf("%d log lines for 200 prefixes", n)
	}
}

// TestRRLTableFull: a flood from random sources cannot grow memory nor
// wipe out the account of a source that is being limited.
func TestRRLTableFull(t *testing.T) {
	c := testRRLConfig()
	c.TableSize = rrlMinTable
	r, reg, _ := newTestRRL(t, c)
	www := wireName(t, "www.gslb.test.")
	actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 100) // a limited victim

	rng := rand.New(rand.NewPCG(1, 2))
	flood := func() {
		for range 100_000 {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], rng.Uint32())
			r.account(sec(1), netip.AddrFrom4(a), rrlResponse, www, mdns.TypeA)
		}
	}
	if allocs := testing.AllocsPerRun(1, flood); allocs > 0 {
		t.Errorf("flood of random sources allocated %v times", allocs)
	}
	if len(r.buckets) != rrlMinTable {
		t.Fatalf("table grew to %d", len(r.buckets))
	}
	used := 0
	for i := range r.buckets {
		if r.buckets[i].key != 0 {
			used++
		}
	}
	if used != len(r.buckets) {
		t.Errorf("%d of %d buckets used after 100k sources: keys do not spread over every set", used, len(r.buckets))
	}
	if s, _, _ := actions(r, sec(1), "192.0.2.1", rrlResponse, www, mdns.TypeA, 5); s != 0 {
		t.Errorf("the limited source's account was evicted: %d sent", s)
	}
	if n := testutil.ToFloat64(r.evictions); n == 0 {
		t.Error("no evictions counted for 100k sources in a 4096-bucket table")
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestRRLFloodMemory measures the heap while 1M random /24s hit the
// default-sized table: everything is allocated up front.
func TestRRLFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1M-source flood in -short mode")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := testRRLConfig()
	c.TableSize = 1 << 17
	r, _, _ := newTestRRL(t, c)
	www := wireName(t, "www.gslb.test.")
	runtime.GC()
	var built runtime.MemStats
	runtime.ReadMemStats(&built)
	for i := range 1_000_000 {
		a := [4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1} // 1M distinct /24s
		r.account(sec(i/100_000), netip.AddrFrom4(a), rrlResponse, www, mdns.TypeA)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	table := int64(built.HeapAlloc) - int64(before.HeapAlloc)
	growth := int64(after.HeapAlloc) - int64(built.HeapAlloc)
	t.Logf("table of %d buckets: %.1f MiB; heap growth during a 1M-/24 flood: %d bytes; mallocs during flood: %d",
		len(r.buckets), float64(table)/(1<<20), growth, after.Mallocs-built.Mallocs)
	if growth > 1<<20 {
		t.Errorf("heap grew %d bytes during the flood", growth)
	}
	if want := int64(len(r.buckets) * rrlBucketBytes); table > want+want/4 {
		t.Errorf("table takes %d bytes, want about %d", table, want)
	}
	runtime.KeepAlive(r)
}

func TestRRLBucketSize(t *testing.T) {
	var b rrlBucket
	if got := int(unsafe.Sizeof(b)); got != rrlBucketBytes {
		t.Fatalf("rrlBucket is %d bytes, rrlBucketBytes says %d", got, rrlBucketBytes)
	}
}

func TestRRLConfigErrors(t *testing.T) {
	c := testRRLConfig()
	c.Window, c.Slip, c.IPv4Prefix, c.IPv6Prefix, c.ErrorsPerSecond = 1500*time.Millisecond, -1, 33, 0, -1
	_, err := NewRRL(c, nil, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"window", "slip", "IPv4 prefix", "IPv6 prefix", "errors per second"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if r, err := NewRRL(RRLConfig{}, nil, nil); r != nil || err != nil {
		t.Errorf("zero config: %v, %v; want RRL off", r, err)
	}
}

// TestRRLConcurrent hammers one table from many goroutines (run with
// -race): the per-second total stays exact.
func TestRRLConcurrent(t *testing.T) {
	r, _, _ := newTestRRL(t, testRRLConfig())
	www := wireName(t, "www.gslb.test.")
	var mu sync.Mutex
	sent := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, _, _ := actions(r, sec(0), "192.0.2.1", rrlResponse, www, mdns.TypeA, 500)
			mu.Lock()
			sent += s
			mu.Unlock()
		})
	}
	wg.Wait()
	if sent != 5 {
		t.Fatalf("8 workers sent %d, want 5", sent)
	}
}

func BenchmarkRRLOneSource(b *testing.B) {
	r, _, _ := newTestRRL(b, testRRLConfig())
	www := wireName(b, "www.gslb.test.")
	src := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.account(now, src, rrlResponse, www, mdns.TypeA)
	}
}

func BenchmarkRRLRandomSources(b *testing.B) {
	c := testRRLConfig()
	c.TableSize = 1 << 17
	r, _, _ := newTestRRL(b, c)
	www := wireName(b, "www.gslb.test.")
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rng.Uint32())
		r.account(now, netip.AddrFrom4(a), rrlResponse, www, mdns.TypeA)
	}
}

func BenchmarkRRLParallel(b *testing.B) {
	c := testRRLConfig()
	c.TableSize = 1 << 17
	r, _, _ := newTestRRL(b, c)
	www := wireName(b, "www.gslb.test.")
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
		for pb.Next() {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], rng.Uint32()&0xffff00ff) // 65k /24s
			r.account(now, netip.AddrFrom4(a), rrlResponse, www, mdns.TypeA)
		}
	})
}

// TestRRLRunClock: while Run runs, RRL accounts by its coarse clock; when
// it stops, by time.Now again.
func TestRRLRunClock(t *testing.T) {
	r, _, _ := newTestRRL(t, testRRLConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.clock.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start its clock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(r.now()); d < 0 || d > 2*time.Second {
		t.Errorf("coarse clock is %v off", d)
	}
	// It ticks on: the next second comes without a query asking for it.
	first := r.clock.Load()
	for r.clock.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("the coarse clock did not advance")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.clock.Load() != 0 {
		t.Error("clock still set after Run returned")
	}
}
