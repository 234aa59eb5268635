package gslb

import (
	"math/rand/v2"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/geo"
)

// Prepared is a compiled config and locator waiting to become a Snapshot:
// the expensive and fallible half of NewSnapshot. A reload prepares off
// the goroutine that publishes Snapshots, so agreed state changes keep
// flowing into new Snapshots meanwhile, and then turns the Prepared into
// a Snapshot with the View and Previous of that moment, which cannot fail.
type Prepared struct {
	cfg  *config.Config
	c    *compiled
	loc  *geo.Locator
	rank *ranking
}

// Prepare compiles cfg (resolved by config.Prepare) with loc. Like
// NewSnapshot, a config that cannot be compiled gives an error listing
// every problem.
func Prepare(cfg *config.Config, loc *geo.Locator) (*Prepared, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Prepared{cfg: c.cfg, c: c, loc: loc, rank: newRanking(c, loc)}, nil
}

// Config returns the settings of the config p was prepared from, as
// Snapshot.Config does.
func (p *Prepared) Config() *config.Config { return p.cfg }

// Snapshot builds the Snapshot of p with the View v, carrying state over
// from prev as NewSnapshot does. It never fails.
func (p *Prepared) Snapshot(prev *Snapshot, v View, now time.Time) *Snapshot {
	s := &Snapshot{cfg: p.cfg, c: p.c, loc: p.loc, rank: p.rank, rnd: rand.Float64}
	s.setView(prev, v, now)
	return s
}
