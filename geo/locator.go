package geo

import (
	"errors"
	"net/netip"
)

// CONTRACT STUB: the geo helper replaces the bodies; signatures are fixed.

// Database is one MaxMind-format database (City or Country, GeoIP2,
// GeoLite2 or ip-location-db "country" type) held in memory.
type Database struct {
	name string
}

// OpenDatabase parses an mmdb image held in data. name is used in errors
// and in Location.Source.
func OpenDatabase(name string, data []byte) (*Database, error) {
	return nil, errors.New("geo: not implemented")
}

// LoadDatabase reads the file at path into memory and opens it; errors
// name the file.
func LoadDatabase(path string) (*Database, error) {
	return nil, errors.New("geo: not implemented")
}

// Name returns the database's name as given to OpenDatabase.
func (d *Database) Name() string { return d.name }

// Locator locates addresses: CIDR entries first (longest prefix wins), then
// each database in order. It is immutable and safe for concurrent use.
type Locator struct{}

// NewLocator builds a Locator. Entries must have valid, masked prefixes.
func NewLocator(entries []CIDREntry, dbs ...*Database) (*Locator, error) {
	return &Locator{}, nil
}

// Locate returns the location of a, and false when no source knows it.
// IPv4-mapped IPv6 addresses are treated as IPv4. A nil Locator locates nothing.
func (l *Locator) Locate(a netip.Addr) (Location, bool) { return Location{}, false }

// DistanceKM is the great-circle (haversine) distance in kilometres.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 { return 0 }
