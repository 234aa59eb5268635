package gslb

import "sync/atomic"

// Store holds the current Snapshot. Readers Load it once per query; only
// the publisher calls Swap.
type Store struct {
	p atomic.Pointer[Snapshot]
}

// Load returns the current Snapshot, or nil before the first Swap.
func (s *Store) Load() *Snapshot { return s.p.Load() }

// Swap publishes next and returns the previous Snapshot.
func (s *Store) Swap(next *Snapshot) *Snapshot { return s.p.Swap(next) }
