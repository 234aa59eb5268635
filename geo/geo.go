package geo

import (
	"net/netip"
)

// Location is where an address is, as far as the sources know.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code, upper case ("" if unknown).
	Country string `json:"country,omitempty"`
	// Continent is the two-letter continent code (AF AN AS EU NA OC SA).
	Continent string `json:"continent,omitempty"`
	// Lat and Lon are degrees; valid only when HasCoords.
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	HasCoords bool    `json:"has_coords"`
	// Region is set when a CIDR map entry sends the network to a region.
	Region string `json:"region,omitempty"`
	// Network is the prefix of the entry that decided the location (the
	// CIDR map entry or the mmdb network), in the family of the query
	// (IPv4 for IPv4-mapped addresses).
	Network netip.Prefix `json:"network"`
	// Source names what located it: "cidr" or "mmdb:<name>", and how:
	// "city", "country-centroid", "continent-centroid".
	Source string `json:"source"`
	// Place is this location's number among its Locator's places
	// (NumPlaces, EachPlace), or 0 from Database.Locate, as places are
	// numbered per Locator; callers use it to look up values they
	// computed once per place (distances).
	Place uint32 `json:"-"`
}

// CIDREntry maps a network to a region (by name, with that region's
// coordinates) or to a place.
type CIDREntry struct {
	Network   netip.Prefix
	Region    string
	Lat, Lon  float64
	HasCoords bool
	Country   string
	Continent string
}
