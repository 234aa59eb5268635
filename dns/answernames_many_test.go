package dns

import (
	"fmt"
	"sync"
	"testing"
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
