package dns

import (
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNameSeriesMany: with 10k names answered at once by several workers
// against the default limit, exactly the limit get their own series, each
// keeps it, the others always count as "other", and a label allocates
// nothing.
func TestNameSeriesMany(t *testing.T) {
	s := newNameSeries(0)
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("c%d.gslb.test.", i)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				s.label(names[(i*7+w*2500)%len(names)])
			}
		}()
	}
	wg.Wait()
	own := map[string]bool{}
	for _, n := range names {
		switch got := s.label(n); got {
		case n:
			own[n] = true
		case answerNameOther:
		default:
			t.Fatalf("label(%s) = %q", n, got)
		}
	}
	if len(own) != DefaultAnswerMetricNames {
		t.Fatalf("%d names have their own series, want %d", len(own), DefaultAnswerMetricNames)
	}
	for _, n := range names {
		if got := s.label(n); (got == n) != own[n] {
			t.Fatalf("label(%s) changed to %q", n, got)
		}
	}
	if a := testing.AllocsPerRun(100, func() { s.label(names[0]); s.label(names[9999]) }); a != 0 {
		t.Fatalf("label allocates %v times", a)
	}
}

// TestAnswerCountersCollected: answers counted under a name, under
// "other" (past the limit) and under "all", by several shards and through
// answerOwned's remembered counter, are all exported, each series once
// with the sum of the shards.
func TestAnswerCountersCollected(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	names := newNameSeries(1)
	a, b := m.newShard(), m.newShard()
	for range 3 {
		a.answerOwned(names, "one.gslb.test.", "eu-west") // admitted: its own series
		a.answerOwned(names, "two.gslb.test.", "eu-west") // past the limit: other
		b.answerOwned(names, "two.gslb.test.", "eu-west")
		b.answerOwned(names, "two.gslb.test.", "us-east")
	}
	m.shared.answer(answerNameAll, "us-east")
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gslbd_dns_gslb_answers_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			l := mt.GetLabel()
			got[l[0].GetValue()+"/"+l[1].GetValue()] = mt.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"one.gslb.test./eu-west": 3, "other/eu-west": 6, "other/us-east": 3, "all/us-east": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("answers series %v, want %v", got, want)
	}
}
