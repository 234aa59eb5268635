package geo

import (
	"math"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// flatRecord is a record of the flat, non-MaxMind schema that
// ip-location-db and similar databases use (country_code, latitude,
// longitude), which geoip2-golang does not model. MaxMind-layout records
// (City, Country) are decoded into geoip2-golang's own types instead; see
// Database.locate.
//
// It decodes through a cursor rather than reflection: it reads only these
// few keys and skips the rest, and does not allocate for the cached short
// strings.
type flatRecord struct {
	country  string
	lat, lon float64
	hasLat   bool
	hasLon   bool
}

var _ mmdbdata.CursorUnmarshaler = (*flatRecord)(nil)

// maxCodeLen bounds the code strings read, so a corrupt record cannot make
// a lookup copy a large string.
const maxCodeLen = 8

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler. The
// traversal is one map deep and skips everything else, so its work is
// bounded by the record's size.
func (r *flatRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[flatRecord](err)
	}
	var next mmdbdata.Cursor
	for {
		key, v, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
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

// saneCoords reports lat and lon when both are present and in range.
func saneCoords(lat, lon float64, hasLat, hasLon bool) (float64, float64, bool) {
	if !hasLat || !hasLon || math.IsNaN(lat) || math.IsNaN(lon) ||
		lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return 0, 0, false
	}
	return lat, lon, true
}

// fields is what locating needs from one record of either layout.
type fields struct {
	country, continent string
	lat, lon           float64
	hasCoords          bool
}

// decodeMaxMind decodes a MaxMind-layout (City or Country) record into
// geoip2-golang's City type, which also reads Country records.
func decodeMaxMind(res maxminddb.Result) (fields, error) {
	var c geoip2.City
	if err := res.Decode(&c); err != nil {
		return fields{}, err
	}
	f := fields{country: c.Country.ISOCode, continent: c.Continent.Code}
	l := c.Location
	if l.Latitude != nil && l.Longitude != nil {
		f.lat, f.lon, f.hasCoords = saneCoords(*l.Latitude, *l.Longitude, true, true)
	}
	return f, nil
}

// decodeFlat decodes a flat-layout record (see flatRecord).
func decodeFlat(res maxminddb.Result) (fields, error) {
	var r flatRecord
	if err := res.Decode(&r); err != nil {
		return fields{}, err
	}
	f := fields{country: r.country}
	f.lat, f.lon, f.hasCoords = saneCoords(r.lat, r.lon, r.hasLat, r.hasLon)
	return f, nil
}
