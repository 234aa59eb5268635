// Package config owns gslbd's YAML schema: strict decoding, defaults, name
// normalisation and validation with field paths and line numbers.
//
// Parse (and Load) is the only way in. It decodes with goccy/go-yaml's
// parser and walks the AST itself, so that every problem in a file is
// reported at once — unknown and duplicate keys, wrong kinds, bad values
// and cross-references — each as a Problem with a path such as
// "zones[0].names[1].endpoints[0].addresses[2]" and its source line. A
// Config returned without error is complete: defaults are filled, every
// DNS name is a lower-case FQDN with a trailing dot, IP addresses are in
// canonical form, static record values are parsed into Record.Parsed and
// every endpoint has its ID.
//
// Name rules (as in zone files): record names, GSLB names, nameservers,
// SOA names and targets (CNAME, NS, MX, SRV values and endpoint targets)
// are relative to the zone apex unless they end with "."; "@" is the apex.
//
// Defaults: a zero value means "unset" and takes its default; where a
// written 0 would be a mistake (rise, fall) the key's presence is checked.
// An unset probe timeout takes the health default but at most half the
// interval. A failover (or write) name without order uses the regions of
// its endpoints in endpoint order. Files named in the config are not
// opened, except cluster.key_file (whose keys are appended to
// cluster.keys): GeoIP databases, CA files and the admin token file are
// opened, and a missing one reported, by the parts that use them.
//
// config imports no other gslbd package (and not miekg/dns: the dns
// package turns RData into wire records). It has no goroutines and no
// global state; a Config is a plain value that must not be modified once
// handed to other parts (a Snapshot shares it across goroutines).
package config
