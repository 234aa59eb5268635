package cluster

import (
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

func TestLWWTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tb := newDrainTable()
	tb.max = 2
	d := func(ep string, at time.Time, by string, drained bool) gslb.Drain {
		return gslb.Drain{Endpoint: ep, At: at, By: by, Drained: drained}
	}
	if r := tb.merge(d("a", now, "n1", true), now); r != "" {
		t.Fatalf("first record: %q", r)
	}
	if r := tb.merge(d("a", now, "n0", false), now); r != dropOld {
		t.Errorf("same At, smaller By: %q, want %q", r, dropOld)
	}
	if r := tb.merge(d("a", now, "n2", false), now); r != "" || tb.m["a"].By != "n2" {
		t.Errorf("same At, greater By must win: %q %+v", r, tb.m["a"])
	}
	if r := tb.merge(d("a", now.Add(2*maxSkew), "n3", true), now); r != dropFuture {
		t.Errorf("future record: %q", r)
	}
	// A local action stamped before the held record still wins, just after it.
	got, ok := tb.setLocal(d("a", now.Add(-time.Hour), "me", true))
	if !ok || !got.At.Equal(now.Add(time.Nanosecond)) || tb.m["a"] != got {
		t.Errorf("setLocal = %+v %v, held %+v", got, ok, tb.m["a"])
	}
	tb.merge(d("b", now, "n1", true), now)
	if r := tb.merge(d("c", now, "n1", true), now); r != dropUnknown {
		t.Errorf("full table accepted a new key: %q", r)
	}
	if _, ok := tb.setLocal(d("c", now, "me", true)); ok {
		t.Error("full table accepted a local record for a new key")
	}
	if s := tb.sorted(); len(s) != 2 || s[0].Endpoint != "a" || s[1].Endpoint != "b" {
		t.Errorf("sorted = %+v", s)
	}
	if newDrainTable().clone() != nil {
		t.Error("clone of an empty table must be nil")
	}
}
