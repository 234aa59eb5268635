package dns

import (
	"fmt"
	"sync"
	"testing"
)

// TestNameSeriesLimit: the first limit names keep their own label, later
// ones share "other", concurrent first answers never admit more than the
// limit, and a negative limit counts everything as "all".
func TestNameSeriesLimit(t *testing.T) {
	s := newNameSeries(3)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				s.label(fmt.Sprintf("n%d.gslb.test.", (i+g)%10))
			}
		}()
	}
	wg.Wait()
	own := 0
	for i := range 10 {
		name := fmt.Sprintf("n%d.gslb.test.", i)
		switch got := s.label(name); got {
		case name:
			own++
		case answerNameOther:
		default:
			t.Fatalf("label(%s) = %q", name, got)
		}
	}
	if own != 3 {
		t.Fatalf("%d names have their own series, want 3", own)
	}
	if got := newNameSeries(-1).label("a.gslb.test."); got != answerNameAll {
		t.Fatalf("off: label %q, want %q", got, answerNameAll)
	}
	if newNameSeries(0).limit != DefaultAnswerMetricNames {
		t.Fatal("0 does not mean the default limit")
	}
}
