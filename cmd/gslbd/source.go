package main

import (
	"fmt"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/configs"
	"github.com/gslbd/gslbd/geo"
)

// configSource prepares the config the same way for check, start and
// every reload: config.Prepare on the file (or the embedded dev config),
// then the command line's listen overrides, then -dev's rewiring to
// simulated backends, then the GeoIP locator from the databases Prepare
// read and verified.
type configSource struct {
	path      string
	dev       *devBackends // nil unless -dev
	dnsAddrs  []string
	httpAddrs []string
}

// load prepares the config and its locator; nothing is changed when it
// fails.
func (s *configSource) load() (*config.Config, *geo.Locator, error) {
	var (
		cfg *config.Config
		err error
	)
	if s.dev != nil {
		cfg, err = config.Prepare(configs.Dev, "configs/dev.yaml (embedded)")
	} else {
		cfg, err = config.Load(s.path)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(s.dnsAddrs) > 0 {
		cfg.Listen.DNS = append([]string(nil), s.dnsAddrs...)
	}
	if len(s.httpAddrs) > 0 {
		cfg.Listen.HTTP = s.httpAddrs[len(s.httpAddrs)-1]
	}
	var extra *geo.Database
	if s.dev != nil {
		s.dev.rewire(cfg)
		extra = s.dev.geoDB
	}
	loc, err := buildLocator(cfg, extra)
	if err != nil {
		return nil, nil, err
	}
	return cfg, loc, nil
}

// buildLocator opens the databases Prepare read into memory (never
// memory-mapped, so a reload can drop the old one while queries still
// hold it) and turns the resolved CIDR map into geo entries.
func buildLocator(cfg *config.Config, extra *geo.Database) (*geo.Locator, error) {
	entries := make([]geo.CIDREntry, 0, len(cfg.GeoIP.CIDRMap))
	for _, e := range cfg.GeoIP.CIDRMap {
		ge := geo.CIDREntry{Network: e.Prefix, Region: e.Region, Country: e.Country, Continent: e.Continent}
		if e.Latitude != nil && e.Longitude != nil {
			ge.Lat, ge.Lon, ge.HasCoords = *e.Latitude, *e.Longitude, true
		}
		entries = append(entries, ge)
	}
	var dbs []*geo.Database
	for i, f := range cfg.GeoIP.Files {
		db, err := geo.OpenDatabase(f.Path, f.Data)
		if err != nil {
			return nil, fmt.Errorf("geoip.databases[%d]: %w", i, err)
		}
		dbs = append(dbs, db)
	}
	if extra != nil {
		dbs = append(dbs, extra)
	}
	return geo.NewLocator(entries, dbs...)
}
