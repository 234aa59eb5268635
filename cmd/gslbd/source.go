package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/configs"
	"github.com/gslbd/gslbd/geo"
)

// configSource loads the config the same way at start and at every
// reload: from the file (or the embedded dev config), then the command
// line's listen overrides, then -dev's rewiring to simulated backends.
type configSource struct {
	path      string
	dev       *devBackends // nil unless -dev
	dnsAddrs  []string
	httpAddrs []string
}

// load decodes, validates and locates; nothing is changed when it fails.
func (s *configSource) load() (*config.Config, *geo.Locator, error) {
	var (
		cfg *config.Config
		err error
	)
	if s.dev != nil {
		cfg, err = config.Parse(configs.Dev, "configs/dev.yaml (embedded)")
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

// buildLocator reads every configured database into memory (never
// memory-mapped, so a reload can drop the old one while queries still
// hold it) and turns the CIDR map into geo entries.
func buildLocator(cfg *config.Config, extra *geo.Database) (*geo.Locator, error) {
	regions := make(map[string]config.Region, len(cfg.Regions))
	for _, r := range cfg.Regions {
		regions[r.Name] = r
	}
	entries := make([]geo.CIDREntry, 0, len(cfg.GeoIP.CIDRMap))
	for i, e := range cfg.GeoIP.CIDRMap {
		p, err := netip.ParsePrefix(e.Network)
		if err != nil {
			return nil, fmt.Errorf("geoip.cidr_map[%d].network: %w", i, err)
		}
		ge := geo.CIDREntry{Network: p.Masked(), Region: e.Region, Country: strings.ToUpper(e.Country), Continent: strings.ToUpper(e.Continent)}
		if r, ok := regions[e.Region]; ok {
			ge.Lat, ge.Lon, ge.HasCoords = r.Latitude, r.Longitude, true
			if ge.Continent == "" {
				ge.Continent = r.Continent
			}
		}
		if e.Latitude != nil && e.Longitude != nil {
			ge.Lat, ge.Lon, ge.HasCoords = *e.Latitude, *e.Longitude, true
		}
		entries = append(entries, ge)
	}
	var dbs []*geo.Database
	for _, path := range cfg.GeoIP.Databases {
		db, err := geo.LoadDatabase(path)
		if err != nil {
			return nil, err
		}
		dbs = append(dbs, db)
	}
	if extra != nil {
		dbs = append(dbs, extra)
	}
	return geo.NewLocator(entries, dbs...)
}

// adminToken returns the configured admin token, reading token_file when set.
func adminToken(cfg *config.Config) (string, error) {
	if cfg.Admin.TokenFile == "" {
		return strings.TrimSpace(cfg.Admin.Token), nil
	}
	b, err := os.ReadFile(cfg.Admin.TokenFile)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
