// Package geo finds where a DNS client is: from operator CIDR maps and
// from MaxMind-format (mmdb) databases, and measures great-circle distance.
//
// # What it owns
//
//   - Database: one mmdb image, compiled when opened into the range table
//     that answers its lookups. It reads GeoIP2/GeoLite2 City and Country
//     databases (and DB-IP's compatible ones), whose records it decodes
//     into github.com/oschwald/geoip2-golang/v2's types, and ip-location-db
//     "country ..." / "city ..." databases, whose flat records carry
//     country_code (and latitude/longitude), a schema geoip2-golang does
//     not model. maxminddb-golang is used directly only while opening: for
//     the metadata, that flat schema and the first records' check; geo
//     walks the search tree's nodes itself, as Reader.Lookup does, since
//     Reader.Networks skips the IPv4 aliases the table must answer. Other
//     types (ASN, ISP, anonymous IP, ...) are refused when opened.
//   - Locator: CIDR entries first, longest prefix wins, then each database
//     in order. A database record locates by its own coordinates ("city"),
//     else by the centroid of its country ("country-centroid"), else of its
//     continent ("continent-centroid"); Location.Source says which.
//   - Places: every distinct location of the compiled databases and of
//     the CIDR map has a number (Location.Place, NumPlaces, EachPlace),
//     so callers compute what depends on the location alone (gslb's
//     nearest rankings) once per place instead of once per query.
//   - The embedded country and continent centroid tables
//     (CountryCentroid, ContinentCentroid) and DistanceKM.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are located as IPv4, and the
// Network they report is an IPv4 prefix; this matters to callers that use
// the prefix length as an EDNS Client Subnet scope.
//
// # Imports
//
// geo imports no other gslbd package and does not log: problems come back
// as errors that name the database file or the CIDR entry.
//
// # Concurrency
//
// A Database and a Locator are immutable once built and safe for concurrent
// use by any number of goroutines. Opening a Database compiles its search
// tree into a sorted range table (each distinct record decoded once,
// MaxMind-layout ones through geoip2-golang's City, about 1 KB each while
// compiling), and that table answers every lookup, the IPv4 subtree's
// aliases in IPv6 trees (::/96, Teredo 2001::/32, 6to4 2002::/16)
// included: a lookup is a binary search that does not lock, allocate or
// decode. The table takes about 6 bytes a network for a country database
// (5.9 MB for the real-world one in testdata, a million networks) and 10
// for a City one, whose 100k locations take 24 bytes each. The Database
// keeps neither the mmdb bytes nor a reader of them,
// so the caller's copy is the only one and is collected once dropped, and
// there is nothing to close: replacing a database means building a new
// Locator and letting the old one be collected once no query holds it.
package geo
