package geo

import (
	"math"

	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// record is the part of an mmdb data record that locating needs. It reads
// both layouts it supports: MaxMind's nested City/Country records
// (country.iso_code, continent.code, location.latitude/longitude) and
// ip-location-db's flat ones (country_code, latitude, longitude).
//
// It decodes through a cursor rather than reflection: it reads only these
// few keys and skips the rest (names in many languages, subdivisions),
// which is several times faster and does not allocate for the cached
// short strings.
type record struct {
	country   string
	continent string
	lat, lon  float64
	hasLat    bool
	hasLon    bool
}

var _ mmdbdata.CursorUnmarshaler = (*record)(nil)

// maxCodeLen bounds the code strings read, so a corrupt record cannot make
// a lookup copy a large string.
const maxCodeLen = 8

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler. The
// traversal is at most two maps deep and skips everything else, so its
// work is bounded by the record's size.
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[record](err)
	}
	var next mmdbdata.Cursor
	for {
		key, v, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "country":
			next, err = r.readSub(v, "iso_code", &r.country)
		case "continent":
			next, err = r.readSub(v, "code", &r.continent)
		case "location":
			next, err = r.readLocation(v)
		case "country_code":
			next, err = readCode(v, &r.country)
		case "latitude":
			next, err = readFloat(v, &r.lat, &r.hasLat)
		case "longitude":
			next, err = readFloat(v, &r.lon, &r.hasLon)
		default:
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// readSub reads the string at key inside the map at c into dst.
func (r *record) readSub(c mmdbdata.Cursor, key string, dst *string) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var next mmdbdata.Cursor
	for {
		k, v, ok := m.Next(next)
		if !ok {
			break
		}
		if string(k) == key {
			next, err = readCode(v, dst)
		} else {
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// readLocation reads latitude and longitude from a MaxMind location map.
func (r *record) readLocation(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var next mmdbdata.Cursor
	for {
		k, v, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(k) {
		case "latitude":
			next, err = readFloat(v, &r.lat, &r.hasLat)
		case "longitude":
			next, err = readFloat(v, &r.lon, &r.hasLon)
		default:
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

func readCode(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	s, next, err := c.ReadStringMaxSize(maxCodeLen)
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[string](err)
	}
	*dst = s
	return next, nil
}

func readFloat(c mmdbdata.Cursor, dst *float64, ok *bool) (mmdbdata.Cursor, error) {
	f, next, err := c.ReadFloat()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[float64](err)
	}
	*dst, *ok = f, true
	return next, nil
}

// coords reports the record's coordinates when both are present and sane.
func (r *record) coords() (lat, lon float64, ok bool) {
	if !r.hasLat || !r.hasLon || math.IsNaN(r.lat) || math.IsNaN(r.lon) ||
		r.lat < -90 || r.lat > 90 || r.lon < -180 || r.lon > 180 {
		return 0, 0, false
	}
	return r.lat, r.lon, true
}
