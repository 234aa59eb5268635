package cluster

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// lwwTable holds last-writer-wins records keyed by a string: operator
// drains (by endpoint or region, gslb.Drain.Key), where any winner is
// acceptable. The newest At wins, then the greater By, so every node picks
// the same record whatever order gossip brings them in. It is guarded by Node.mu.
type lwwTable[T any] struct {
	m   map[string]T
	max int
	// key, stamp and restamp read and set a record's key, At and By.
	key     func(T) string
	stamp   func(T) (time.Time, string)
	restamp func(*T, time.Time)
}

func newDrainTable() *lwwTable[gslb.Drain] {
	return &lwwTable[gslb.Drain]{m: map[string]gslb.Drain{}, max: maxDrains,
		key:     func(d gslb.Drain) string { return d.Key() },
		stamp:   func(d gslb.Drain) (time.Time, string) { return d.At, d.By },
		restamp: func(d *gslb.Drain, at time.Time) { d.At = at }}
}

// newer reports whether a wins over b.
func (t *lwwTable[T]) newer(a, b T) bool {
	aAt, aBy := t.stamp(a)
	bAt, bBy := t.stamp(b)
	if !aAt.Equal(bAt) {
		return aAt.After(bAt)
	}
	return aBy > bBy
}

// merge takes a peer's record; it returns the drop reason, or "" when the
// record was stored.
func (t *lwwTable[T]) merge(v T, now time.Time) string {
	if at, _ := t.stamp(v); at.After(now.Add(maxSkew)) {
		return dropFuture
	}
	k := t.key(v)
	cur, had := t.m[k]
	if had && !t.newer(v, cur) {
		return dropOld
	}
	if !had && len(t.m) >= t.max {
		return dropUnknown
	}
	t.m[k] = v
	return ""
}

// setLocal stores this node's own action, which must win even against a
// record stamped by a peer whose clock runs ahead: its At is moved just
// past the held record's. It returns the record as stored, and false when
// the table is full.
func (t *lwwTable[T]) setLocal(v T) (T, bool) {
	k := t.key(v)
	cur, had := t.m[k]
	if had && !t.newer(v, cur) {
		at, _ := t.stamp(cur)
		t.restamp(&v, at.Add(time.Nanosecond))
	}
	if !had && len(t.m) >= t.max {
		return v, false
	}
	t.m[k] = v
	return v, true
}

// sorted returns every record, sorted by key.
func (t *lwwTable[T]) sorted() []T {
	out := slices.Collect(maps.Values(t.m))
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(t.key(a), t.key(b)) })
	return out
}

// clone copies the records for an AgreeInput (nil when empty).
func (t *lwwTable[T]) clone() map[string]T {
	if len(t.m) == 0 {
		return nil
	}
	return maps.Clone(t.m)
}
