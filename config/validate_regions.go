package config

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// Validation of regions and geoip.

// validName reports why a region or endpoint name cannot be used: it is
// an identifier in endpoint IDs ("name@host"), metrics labels and URLs.
func validIdent(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

func (k *checker) latLon(path string, lat, lon float64) {
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		k.p.add(path+".latitude", "latitude %v is outside -90..90", lat)
	}
	if math.IsNaN(lon) || lon < -180 || lon > 180 {
		k.p.add(path+".longitude", "longitude %v is outside -180..180", lon)
	}
}

func (k *checker) continent(path string, v *string) {
	if *v == "" {
		return
	}
	*v = strings.ToUpper(strings.TrimSpace(*v))
	k.oneOf(path, *v, continents)
}

func (k *checker) country(path string, v *string) {
	if *v == "" {
		return
	}
	orig := *v
	*v = strings.ToUpper(strings.TrimSpace(*v))
	if !isCode(*v) {
		k.p.add(path, "%q is not a two-letter country code", orig)
	}
}

func isCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func (k *checker) regionList() {
	if len(k.c.Regions) == 0 {
		k.p.add("regions", "at least one region is required")
	}
	for i := range k.c.Regions {
		r := &k.c.Regions[i]
		path := fmt.Sprintf("regions[%d]", i)
		if err := validIdent(r.Name); err != nil {
			k.p.add(path+".name", "region name %v", err)
		} else if len(r.Name) > maxRegionLen {
			k.lengthLimit(path+".name", "region name", r.Name, maxRegionLen)
		} else if _, dup := k.regions[r.Name]; dup {
			k.p.add(path+".name", "duplicate region %q", r.Name)
		} else {
			k.regions[r.Name] = i
		}
		for _, f := range []string{"latitude", "longitude"} {
			if !k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is required (regions are placed by coordinates)", f)
			}
		}
		k.latLon(path, r.Latitude, r.Longitude)
		k.continent(path+".continent", &r.Continent)
	}
}

func (k *checker) knownRegion(path, name string) bool {
	if _, ok := k.regions[name]; ok {
		return true
	}
	if name == "" {
		k.p.add(path, "region is required")
	} else {
		k.p.add(path, "unknown region %q", name)
	}
	return false
}

func (k *checker) geoip() {
	g := &k.c.GeoIP
	seen := map[string]bool{}
	for i, db := range g.Databases {
		path := fmt.Sprintf("geoip.databases[%d]", i)
		if strings.TrimSpace(db) == "" {
			k.p.add(path, "database path must not be empty")
		} else if seen[db] {
			k.p.add(path, "duplicate database %q", db)
		}
		seen[db] = true
	}
	nets := map[netip.Prefix]int{}
	for i := range g.CIDRMap {
		e := &g.CIDRMap[i]
		path := fmt.Sprintf("geoip.cidr_map[%d]", i)
		pfx, err := netip.ParsePrefix(strings.TrimSpace(e.Network))
		switch {
		case err != nil:
			k.p.add(path+".network", "invalid network %q; want e.g. 192.0.2.0/24", e.Network)
		case pfx.Masked() != pfx:
			k.p.add(path+".network", "network %q has host bits set; did you mean %s?", e.Network, pfx.Masked())
		default:
			if j, dup := nets[pfx]; dup {
				k.p.add(path+".network", "network %s is also in geoip.cidr_map[%d]", pfx, j)
			}
			nets[pfx] = i
			e.Network = pfx.String()
			e.Prefix = pfx
		}
		hasCoord := e.Latitude != nil || e.Longitude != nil
		switch {
		case e.Region != "" && hasCoord:
			k.p.add(path, "set region or latitude/longitude, not both")
		case e.Region != "":
			if k.knownRegion(path+".region", e.Region) {
				// Fill the place from the region so geo needs no region table.
				r := k.c.Regions[k.regions[e.Region]]
				lat, lon := r.Latitude, r.Longitude
				e.Latitude, e.Longitude = &lat, &lon
			}
		case e.Latitude == nil || e.Longitude == nil:
			k.p.add(path, "needs a region or both latitude and longitude")
		default:
			k.latLon(path, *e.Latitude, *e.Longitude)
		}
		k.country(path+".country", &e.Country)
		k.continent(path+".continent", &e.Continent)
		if e.Continent == "" && e.Region != "" {
			if j, ok := k.regions[e.Region]; ok {
				e.Continent = k.c.Regions[j].Continent
			}
		}
	}
}
