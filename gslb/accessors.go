package gslb

import "slices"

// Accessors for what the dashboard and API show about the config a
// Snapshot serves, so readers need not reach into the config itself.

// ConfigHash is the SHA-256 (hex) of the config file the Snapshot serves.
func (s *Snapshot) ConfigHash() string { return s.cfg.Hash }

// ConfigSource is the file the served config was read from.
func (s *Snapshot) ConfigSource() string { return s.cfg.Source }

// RegionOrder is a GSLB name's region order, most preferred first (for a
// write name, its failover order); nil for an unknown name.
func (s *Snapshot) RegionOrder(fqdn string) []string {
	if g := s.c.byName[fqdn]; g != nil {
		return slices.Clone(g.order)
	}
	return nil
}
