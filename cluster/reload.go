package cluster

import (
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// quorumOf turns the rule config.Prepare parsed into gslb's type.
func quorumOf(r config.QuorumRule) gslb.Quorum {
	switch r.Kind {
	case "any":
		return gslb.Quorum{Kind: gslb.QuorumAny}
	case "all":
		return gslb.Quorum{Kind: gslb.QuorumAll}
	case "fraction":
		return gslb.Quorum{Kind: gslb.QuorumFraction, Fraction: r.Fraction}
	}
	return gslb.Quorum{Kind: gslb.QuorumMajority}
}

// Reload applies a new cluster config and probe target list at once: it
// is PrepareReload followed by its commit. A change to a start-only
// setting is reported as a *RestartError after the rest was applied.
func (n *Node) Reload(cfg config.Cluster, targets []string, endpoints int) error {
	commit, err := n.PrepareReload(cfg, targets, endpoints)
	if err != nil {
		return err
	}
	if restart := commit(); len(restart) > 0 {
		return &RestartError{Fields: restart}
	}
	return nil
}

// PrepareReload checks everything that could fail in applying cfg and
// targets, with endpoints endpoints (cfg comes resolved from
// config.Prepare) and changes nothing.
// The returned commit applies them and cannot fail: quorum, expect,
// stale_after, isolation_hold, refresh and the probe target list take
// effect (observations of targets no longer listed are forgotten),
// and the keyring is rotated (keys added are installed, a new first key
// becomes primary, keys no longer listed are removed). Bind, advertise,
// seeds and switching encryption on or off are only read at start: commit
// keeps their running values and returns the names of those that changed.
func (n *Node) PrepareReload(cfg config.Cluster, targets []string, endpoints int) (commit func() (restart []string), err error) {
	n.mu.Lock()
	old := n.cfg
	n.mu.Unlock()
	var restart []string
	if cfg.Bind != old.Bind {
		restart = append(restart, "cluster.bind")
	}
	if cfg.Advertise != old.Advertise {
		restart = append(restart, "cluster.advertise")
	}
	if !slices.Equal(cfg.Seeds, old.Seeds) {
		restart = append(restart, "cluster.seeds")
	}
	keys := cfg.Secrets
	rotate := false
	if !n.solo {
		if (n.keyring == nil) != (len(keys) == 0) {
			restart = append(restart, "cluster.keys")
		} else if n.keyring != nil {
			// Rehearse the rotation on a copy of the ring, so the real
			// one is only touched by steps known to succeed.
			trial, err := memberlist.NewKeyring(n.keyring.GetKeys(), n.keyring.GetPrimaryKey())
			if err != nil {
				return nil, fmt.Errorf("cluster: keyring: %w", err)
			}
			if err := rotateKeys(trial, keys); err != nil {
				return nil, err
			}
			rotate = true
		}
	}
	// Start-only fields keep their running values.
	cfg.Bind, cfg.Advertise, cfg.Seeds = old.Bind, old.Advertise, old.Seeds
	ts := slices.Clone(targets)
	return func() []string {
		if rotate {
			if err := rotateKeys(n.keyring, keys); err != nil {
				// The rehearsal on an identical ring succeeded, so this
				// cannot happen; say so loudly if it ever does.
				n.log.Error("keyring rotation failed after its rehearsal succeeded", zap.Error(err))
			}
		}
		n.mu.Lock()
		n.cfg = cfg
		n.quorum = quorumOf(cfg.Rule)
		n.setTargetsLocked(ts)
		n.mu.Unlock()
		n.guard.set(cfg, len(ts), endpoints)
		n.poke()
		return restart
	}, nil
}
