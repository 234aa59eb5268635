package geo

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Database is one MaxMind-format database (City or Country, GeoIP2,
// GeoLite2 or ip-location-db "country" type), compiled into a range
// table when it is opened. It keeps neither the mmdb image nor a reader
// of it: every lookup is answered by the table.
type Database struct {
	name string
	typ  string
	// ipv6 is false for an IPv4-only tree (ip_version 4), which locates
	// no IPv6 address.
	ipv6  bool
	table *rangeTable
}

// supportedTypes are the MaxMind-layout database types whose records carry
// country, continent and (for City) location. ISP, ASN, anonymous-IP,
// domain and connection-type databases carry none of these and are refused.
var supportedTypes = map[string]bool{
	"DBIP-City-Lite":                        true,
	"DBIP-Country-Lite":                     true,
	"DBIP-Country":                          true,
	"DBIP-Location (compat=City)":           true,
	"DBIP-Location-ISP (compat=Enterprise)": true,
	"GeoLite2-City":                         true,
	"GeoLite2-Country":                      true,
	"GeoIP-City-Redacted-US":                true,
	"GeoIP-Enterprise-Redacted-US":          true,
	"GeoIP2-City":                           true,
	"GeoIP2-City-Africa":                    true,
	"GeoIP2-City-Asia-Pacific":              true,
	"GeoIP2-City-Europe":                    true,
	"GeoIP2-City-North-America":             true,
	"GeoIP2-City-South-America":             true,
	"GeoIP2-Precision-City":                 true,
	"GeoIP2-Country":                        true,
	"GeoIP2-Enterprise":                     true,
}

// supportedType reports whether records of this database type can locate.
// Besides MaxMind's own names it accepts ip-location-db's "country ipv4",
// "country ipv6", "country ipvAll" (and the "city ..." equivalents), whose
// records are flat maps with country_code (and latitude/longitude).
func supportedType(t string) bool {
	if supportedTypes[t] {
		return true
	}
	kind, _, _ := strings.Cut(strings.ToLower(t), " ")
	return kind == "country" || kind == "city"
}

// decodeWith picks the record decoder for a database type: the MaxMind
// layout (the types in supportedTypes) through geoip2-golang, any other
// city or country database through the flat layout.
func decodeWith(typ string) func(maxminddb.Result) (fields, error) {
	if supportedTypes[typ] {
		return decodeMaxMind
	}
	return decodeFlat
}

// probeRecords is how many records OpenDatabase decodes to catch a corrupt
// data section before the database is put in service. The tree itself is
// checked by compiling it: the walk refuses records that point outside
// the tree or the data section and paths longer than 128 bits.
const probeRecords = 64

// OpenDatabase parses an mmdb image held in data. name is used in errors
// and in Location.Source.
//
// Opening compiles the search tree into a range table (see rangeTable),
// and the Database keeps nothing else: neither data nor anything that
// points into it, so the caller may reuse or drop data once OpenDatabase
// returns. Corrupt data and database types without location data (ASN,
// ISP, ...) are refused with an error that names the database.
func OpenDatabase(name string, data []byte) (*Database, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("geo: database %s: empty file", name)
	}
	r, err := openBytes(data)
	if err != nil {
		return nil, fmt.Errorf("geo: database %s: not a valid mmdb file: %w", name, err)
	}
	typ := r.Metadata.DatabaseType
	if !supportedType(typ) {
		return nil, fmt.Errorf("geo: database %s: unsupported database type %q (want a City or Country database)", name, typ)
	}
	if v := r.Metadata.IPVersion; v != 4 && v != 6 {
		return nil, fmt.Errorf("geo: database %s: unsupported ip_version %d", name, v)
	}
	// Networks without data count towards the limit too: in a corrupt tree
	// whose nodes point back up, a walk that skips empty networks could run
	// for ever before yielding.
	n := 0
	for res := range r.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("geo: database %s: corrupt search tree: %w", name, err)
		}
		if _, err := decodeWith(typ)(res); err != nil {
			return nil, fmt.Errorf("geo: database %s: corrupt record near %s: %w", name, res.Prefix(), err)
		}
		if n++; n >= probeRecords {
			break
		}
	}
	t, err := compileTable(r, data, sources(name), decodeWith(typ))
	if err != nil {
		return nil, fmt.Errorf("geo: database %s: %w", name, err)
	}
	return &Database{name: name, typ: typ, ipv6: r.Metadata.IPVersion == 6, table: t}, nil
}

// openBytes wraps maxminddb.OpenBytes so that a decoder panic on hostile
// metadata, should one exist, surfaces as an error.
func openBytes(data []byte) (r *maxminddb.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return maxminddb.OpenBytes(data)
}

// LoadDatabase reads the file at path into memory and opens it; errors
// name the file.
func LoadDatabase(path string) (*Database, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	return OpenDatabase(path, data)
}

// Name returns the database's name as given to OpenDatabase.
func (d *Database) Name() string { return d.name }

// Type returns the database_type from the file's metadata, such as
// "GeoLite2-City" or "country ipvAll".
func (d *Database) Type() string { return d.typ }

// Locate looks a up in this database alone. It reports false when the
// database has no record for a, or its record names no country, continent
// or coordinates (for example an anycast-only record), or the lookup
// fails on corrupt data. IPv4-mapped addresses are treated as IPv4.
func (d *Database) Locate(a netip.Addr) (Location, bool) {
	if d == nil || !a.IsValid() {
		return Location{}, false
	}
	a = a.Unmap().WithZone("")
	var loc Location
	if !d.locate(a, &loc) {
		return Location{}, false
	}
	loc.Place = 0 // places are numbered per Locator
	return loc, true
}

func (d *Database) locate(a netip.Addr, dst *Location) bool {
	if a.Is6() && !d.ipv6 {
		return false
	}
	return d.table.locate(a, dst)
}

// sourceNames are the Location.Source strings of one database, built once
// so that every Location of its table shares them.
type sourceNames struct {
	city, country, continent string
}

func sources(name string) sourceNames {
	return sourceNames{
		city:      "mmdb:" + name + "/city",
		country:   "mmdb:" + name + "/country-centroid",
		continent: "mmdb:" + name + "/continent-centroid",
	}
}

// locationOf is where a decoded record locates, Network unset: by its own
// coordinates, else its country's centroid, else its continent's. ok is
// false when the record names none of these.
func locationOf(rec fields, src sourceNames) (loc Location, ok bool) {
	loc.Country = upper2(rec.country)
	loc.Continent = upper2(rec.continent)
	var cp place
	var countryKnown bool
	if loc.Country != "" {
		cp, countryKnown = countries[loc.Country]
		if countryKnown && loc.Continent == "" {
			loc.Continent = cp.continent
		}
	}
	if rec.hasCoords {
		loc.Lat, loc.Lon, loc.HasCoords = rec.lat, rec.lon, true
		loc.Source = src.city
		return loc, true
	}
	if countryKnown {
		loc.Lat, loc.Lon, loc.HasCoords = cp.lat, cp.lon, true
		loc.Source = src.country
		return loc, true
	}
	if p, ok := continents[loc.Continent]; ok {
		loc.Lat, loc.Lon, loc.HasCoords = p.lat, p.lon, true
		loc.Source = src.continent
		return loc, true
	}
	return Location{}, false
}

// Locator locates addresses: CIDR entries first (longest prefix wins), then
// each database in order. It is immutable and safe for concurrent use.
type Locator struct {
	cidr cidrTable
	dbs  []*Database
	// placeBase[i] is added to the Place of dbs[i]'s table locations;
	// cidrPlaces are the CIDR map's locations, numbered after them.
	placeBase  []uint32
	cidrPlaces []Location
}

// NewLocator builds a Locator. Entries must have valid, masked prefixes.
// Each entry must name a region, coordinates, a known country or a known
// continent; a missing location is filled in from the country (then the
// continent) centroid. IPv4-mapped IPv6 networks are stored as IPv4. Every
// bad entry is reported in the returned error.
func NewLocator(entries []CIDREntry, dbs ...*Database) (*Locator, error) {
	t, errs := newCIDRTable(entries)
	for i, db := range dbs {
		if db == nil || db.table == nil {
			errs = append(errs, fmt.Errorf("database %d is nil", i))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("geo: %w", errors.Join(errs...))
	}
	l := &Locator{cidr: t, dbs: append([]*Database(nil), dbs...), placeBase: placeBases(dbs)}
	l.numberCIDR()
	return l, nil
}

// Locate returns the location of a, and false when no source knows it.
// IPv4-mapped IPv6 addresses are treated as IPv4. A nil Locator locates nothing.
func (l *Locator) Locate(a netip.Addr) (Location, bool) {
	var loc Location
	ok := l.LocateTo(a, &loc)
	return loc, ok
}

// LocateTo is Locate writing the location into dst, for the answer path:
// a Location is some 130 bytes, copied once here rather than returned by
// value through every layer. dst is zeroed when no source knows a.
func (l *Locator) LocateTo(a netip.Addr, dst *Location) bool {
	if l == nil || !a.IsValid() {
		*dst = Location{}
		return false
	}
	a = a.Unmap().WithZone("")
	if l.cidr.lookup(a, dst) {
		return true
	}
	for i, db := range l.dbs {
		if db.locate(a, dst) {
			if dst.Place > 0 {
				dst.Place += l.placeBase[i]
			}
			return true
		}
	}
	*dst = Location{}
	return false
}

// Databases returns the Locator's databases in lookup order (a copy).
func (l *Locator) Databases() []*Database {
	if l == nil {
		return nil
	}
	return append([]*Database(nil), l.dbs...)
}

// earthRadiusKM is the mean Earth radius (IUGG).
const earthRadiusKM = 6371.0088

// DistanceKM is the great-circle (haversine) distance in kilometres.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	s1 := math.Sin(dLat / 2)
	s2 := math.Sin(dLon / 2)
	h := s1*s1 + math.Cos(lat1*rad)*math.Cos(lat2*rad)*s2*s2
	// Rounding can push h a hair above 1 for antipodal points.
	h = math.Min(1, math.Max(0, h))
	return 2 * earthRadiusKM * math.Asin(math.Sqrt(h))
}
